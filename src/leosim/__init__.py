"""leosim: simulate Starlink-class LEO satellite networks.

The curated API lives in :mod:`leosim.api` and is re-exported here::

    import leosim
    scn = leosim.load_scenario("examples/custom_walker_shells.toml")
    result = leosim.run_scenario(scn)
    result.routes.head()
"""

__version__ = "0.1.0"

from leosim._numba_cache import configure as _configure_numba_cache  # noqa: E402

_configure_numba_cache()  # before any kernel module is imported (njit(cache=True))

from leosim.api import *  # noqa: E402,F403
from leosim.api import __all__  # noqa: E402,F401
