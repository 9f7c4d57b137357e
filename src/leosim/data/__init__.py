"""Data files shipped with leosim (see README.md in this folder)."""
