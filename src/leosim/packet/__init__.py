"""Packets on ns-3: ping, UDP, TCP and a message service over leosim's changing network.

The routes, delays and capacities come from leosim (:mod:`leosim.engine`); ns-3 (the optional
extra ``leosim[packet]``, ``pip install 'leosim[packet]'``) carries the packets. Nothing else in
leosim imports this package.
"""
