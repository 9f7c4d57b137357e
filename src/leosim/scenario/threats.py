"""Resolve the scenario's ``[[threats]]`` into a :class:`~leosim.threats.timeline.ThreatTimeline`."""

from __future__ import annotations

import numpy as np

from leosim.engine.network import Network
from leosim.errors import InputError, ScenarioError
from leosim.scenario.model import DestroySpec, JamSpec, SatelliteLossSpec, ScenarioModel
from leosim.threats.regions import Circle, Polygon, subpoints_deg
from leosim.threats.timeline import ThreatEffect, ThreatTimeline


def _where(i: int, key: str | None = None) -> str:
    return f"threats[{i}]" + (f".{key}" if key else "")


def _site_mask(spec: DestroySpec, net: Network, i: int, source: str) -> np.ndarray:
    g = net.ground
    named = np.zeros(len(g), dtype=bool)
    for k, name in enumerate(spec.sites):
        try:
            named[g.index(name)] = True
        except InputError as exc:
            raise ScenarioError(exc.message, source=source, where=_where(i, f"sites[{k}]"),
                                hint=exc.hint) from None
    filters = [m for m in (
        np.isin(g.kinds, spec.kinds) if spec.kinds else None,
        np.isin(np.char.upper(np.array([s.country for s in g], dtype=str)),
                [c.upper() for c in spec.countries]) if spec.countries else None,
        Circle(**spec.region.model_dump()).contains(g.lat_deg, g.lon_deg)
        if spec.region else None,
        Polygon(spec.polygon).contains(g.lat_deg, g.lon_deg) if spec.polygon else None,
    ) if m is not None]
    matched = np.logical_and.reduce(filters) if filters else np.zeros(len(g), dtype=bool)
    return named | matched


def _fibre_mask(spec: DestroySpec, net: Network, i: int, source: str) -> np.ndarray:
    g, f = net.ground, net.fibre
    mask = np.zeros(len(f), dtype=bool)
    for k, (a, b) in enumerate(spec.fibre):
        try:
            ia, ib = g.index(a), g.index(b)
        except InputError as exc:
            raise ScenarioError(exc.message, source=source, where=_where(i, f"fibre[{k}]"),
                                hint=exc.hint) from None
        hit = ((f.a == ia) & (f.b == ib)) | ((f.a == ib) & (f.b == ia))
        if not hit.any():
            raise ScenarioError(f"there is no fibre link between {a!r} and {b!r}",
                                source=source, where=_where(i, f"fibre[{k}]"),
                                hint="list fibre links under [links] fibre, or use 'auto'")
        mask |= hit
    return mask


def _satellite_masks(spec: SatelliteLossSpec, net: Network, i: int, seed: int,
                     source: str) -> tuple[np.ndarray, np.ndarray]:
    c = net.constellation
    sats = np.zeros(c.n_sats, dtype=bool)
    rng = np.random.default_rng([seed, i])
    if spec.fraction:
        sats[rng.choice(c.n_sats, size=int(round(spec.fraction * c.n_sats)), replace=False)] = True
    if spec.satellites:
        index = {sid: k for k, sid in enumerate(c.sat_ids)}
        for k, sid in enumerate(spec.satellites):
            if sid not in index:
                raise ScenarioError(f"no satellite with id {sid!r}", source=source,
                                    where=_where(i, f"satellites[{k}]"),
                                    hint="satellite ids are listed in nodes.parquet of a run")
            sats[index[sid]] = True
    if spec.planes:
        shells = [sh.name for sh in getattr(c, "shells", ())]
        for k, pl in enumerate(spec.planes):
            if pl.shell not in shells:
                raise ScenarioError(f"no Walker shell named {pl.shell!r}", source=source,
                                    where=_where(i, f"planes[{k}].shell"),
                                    hint="shells: " + (", ".join(shells) or "(none: TLE input)"))
            hit = (c.shell == shells.index(pl.shell)) & (c.plane == pl.plane)
            if not hit.any():
                raise ScenarioError(f"shell {pl.shell!r} has no plane {pl.plane}",
                                    source=source, where=_where(i, f"planes[{k}].plane"))
            sats |= hit
    if spec.region is not None:
        t = spec.start_s if spec.region_at_s is None else spec.region_at_s
        lat, lon = subpoints_deg(c.propagate(float(t)).ecef_km)
        sats |= Circle(**spec.region.model_dump()).contains(lat, lon)
    isl = np.zeros(len(net.isl_pairs), dtype=bool)
    if spec.laser_fraction and len(isl):
        isl[rng.choice(len(isl), size=int(round(spec.laser_fraction * len(isl))),
                       replace=False)] = True
    return sats, isl


def build_threats(model: ScenarioModel, net: Network, *, seed: int,
                  source: str = "<scenario>") -> ThreatTimeline:
    """Resolve every threat (selectors and seeded random draws) against ``net``."""
    effects = []
    for i, spec in enumerate(model.threats):
        end = float("inf") if spec.end_s is None else spec.end_s
        name = (spec.name or "").strip() or f"{spec.type} #{i}"
        if isinstance(spec, DestroySpec):
            try:
                sites = _site_mask(spec, net, i, source)
            except ValueError as exc:
                raise ScenarioError(str(exc), source=source, where=_where(i)) from None
            fibre = _fibre_mask(spec, net, i, source)
            if not sites.any() and not fibre.any():
                raise ScenarioError("this destroy threat selects no site and no fibre link",
                                    source=source, where=_where(i),
                                    hint="check names, kinds, countries and the region")
            effects.append(ThreatEffect(name, "destroy", spec.start_s, end, sites=sites,
                                        fibre=fibre))
        elif isinstance(spec, JamSpec):
            from leosim.capacity.linkbudget import Jammer

            kw = {} if spec.bandwidth_mhz is None else {"bandwidth_mhz": spec.bandwidth_mhz}
            try:
                jammer = Jammer(name=name, lat_deg=spec.lat_deg, lon_deg=spec.lon_deg,
                                alt_km=spec.alt_km, eirp_dbw=spec.eirp_dbw, band=spec.band,
                                pattern=spec.pattern, channels=spec.channels, **kw)
            except ValueError as exc:  # the jammer's own range checks
                raise ScenarioError(str(exc), source=source, where=_where(i),
                                    hint="docs/scenario.md lists the jam keys and ranges") from None
            effects.append(ThreatEffect(name, "jam", spec.start_s, end, jammer=jammer))
        elif isinstance(spec, SatelliteLossSpec):
            sats, isl = _satellite_masks(spec, net, i, seed, source)
            effects.append(ThreatEffect(name, "satellite_loss", spec.start_s, end, sats=sats,
                                        isl=isl))
    return ThreatTimeline(effects, len(net.ground), len(net.fibre), net.constellation.n_sats,
                          len(net.isl_pairs))
