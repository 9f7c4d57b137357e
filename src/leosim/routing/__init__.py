"""leosim.routing."""
