"""leosim.capacity: radio link budget, jamming and link capacity of ground-satellite links."""

from leosim.capacity import linkbudget as _linkbudget
from leosim.capacity.linkbudget import *  # noqa: F403
from leosim.capacity.throughput import route_throughput_mbps

__all__ = [*_linkbudget.__all__, "route_throughput_mbps"]
