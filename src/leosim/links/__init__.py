"""leosim.links."""
