"""leosim.ground."""
