"""leosim: simulate Starlink-class LEO satellite networks."""

__version__ = "0.1.0"
