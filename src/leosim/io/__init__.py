"""leosim.io."""
