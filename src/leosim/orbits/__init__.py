"""leosim.orbits."""
