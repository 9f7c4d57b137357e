"""leosim.engine."""
