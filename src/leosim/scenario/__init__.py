"""leosim.scenario."""
