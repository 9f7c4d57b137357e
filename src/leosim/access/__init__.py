"""Starlink's access layer: which satellite serves each terminal, slot by slot (between links and routing)."""
