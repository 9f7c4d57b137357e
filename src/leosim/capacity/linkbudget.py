"""Ku-band radio link budget of ground-satellite links (GSL), with jamming: the front door.

The model lives in modules split by concern; every public name is re-exported here, so
``from leosim.capacity.linkbudget import RadioParams, gsl_quality, Jammer, fspl_db`` keeps working:

* :mod:`leosim.capacity.propagation`: free-space loss, thermal noise, radio horizon, PFD mask;
* :mod:`leosim.capacity.antennas`: terminal (ITU-R S.1428-1) and satellite (ITU-R S.1528)
  patterns, peak gains, main-lobe edges;
* :mod:`leosim.capacity.jamming`: :class:`Jammer`, :class:`JammerArray`, jammer geometry,
  channels (single/spread), nulling and channel agility after the countermeasures date;
* :mod:`leosim.capacity.modcod`: the DVB-S2/S2X MODCOD table and :func:`spectral_efficiency`;
* :mod:`leosim.capacity.budget`: :class:`RadioParams`, :class:`LinkQuality`,
  :func:`gsl_quality`, :class:`CapacityParams` and the capacity functions.

Parameters, sources and limitations: ``docs/link_budget.md``.
"""

from __future__ import annotations

from leosim.capacity import antennas as _antennas
from leosim.capacity import budget as _budget
from leosim.capacity import jamming as _jamming
from leosim.capacity import modcod as _modcod
from leosim.capacity import propagation as _propagation
from leosim.capacity.antennas import *  # noqa: F403
from leosim.capacity.budget import *  # noqa: F403
from leosim.capacity.jamming import *  # noqa: F403
from leosim.capacity.modcod import *  # noqa: F403
from leosim.capacity.propagation import *  # noqa: F403

__all__ = sorted({*_propagation.__all__, *_antennas.__all__, *_jamming.__all__,
                  *_modcod.__all__, *_budget.__all__})
