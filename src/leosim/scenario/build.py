"""Turn a validated scenario model into engine objects (network, times, pairs)."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from leosim.engine.network import LinkRules, Network
from leosim.errors import InputError, ScenarioError
from leosim.ground.cities import top_cities
from leosim.ground.gateways import starlink_gateways, starlink_pops
from leosim.ground.sites import RESERVED_NAME, GroundSegment, Site
from leosim.io.safe_read import UnreadableFileError
from leosim.links.fibre import FibreLinks, auto_fibre_pairs, fibre_links
from leosim.links.isl import plus_grid_pairs, read_isl_pairs
from leosim.orbits.constellation import Constellation
from leosim.orbits.fleet import FleetAttributes
from leosim.orbits.presets import get_preset
from leosim.orbits.walker import WalkerConstellation, WalkerShell
from leosim.routing.shortest import INTERNET
from leosim.scenario.fingerprint import input_files
from leosim.scenario.limits import check_run_counts, check_run_size
from leosim.scenario.model import ScenarioModel, SiteSpec
from leosim.threats.timeline import ThreatTimeline
from leosim.timebase import TimeGrid, parse_epoch

DEFAULT_EPOCH = "2022-03-15T00:00:00Z"


@attrs.frozen(eq=False)
class Scenario:
    """A runnable scenario: the network, the times, the pairs and the modes."""

    name: str
    network: Network
    times: TimeGrid
    pairs: np.ndarray
    modes: tuple[str, ...]
    method: str
    seed: int
    model: ScenarioModel
    source: str
    threats: ThreatTimeline | None = None
    route_stride: int = 1  # route rows written every this many steps (statistics: every step)
    #: ``(key, absolute path)`` of every input file read (see :mod:`leosim.scenario.fingerprint`)
    inputs: tuple[tuple[str, str], ...] = ()
    #: Per-satellite version, lasers and status (:mod:`leosim.orbits.fleet`), when known
    fleet: FleetAttributes | None = None

    @property
    def pair_names(self) -> list[tuple[str, str]]:
        names = self.network.ground.names
        return [(names[a], "internet" if b == INTERNET else names[b]) for a, b in self.pairs]


def _err(source: str, where: str, exc: InputError) -> ScenarioError:
    return ScenarioError(exc.message, source=source, where=where, hint=exc.hint)


def _file_error(source: str, key: str, exc: UnreadableFileError) -> ScenarioError:
    """A file a key names cannot be read: name the key, the file and the reason."""
    where = f"{key}, {exc.where}" if exc.where else key
    return ScenarioError(f"{exc.message}: {exc.source}", source=source, where=where,
                         hint=exc.hint)


def _resolve(base: Path, rel: str) -> Path:
    p = Path(rel).expanduser()
    return p if p.is_absolute() else base / p


def build_constellation(model: ScenarioModel, base: Path, source: str) -> Constellation:
    c = model.constellation
    epoch_text = model.scenario.epoch
    try:
        if c.preset is not None:
            preset = get_preset(c.preset)
            if epoch_text:
                return preset.build(parse_epoch(epoch_text))
            return preset.build(preset.default_epoch or parse_epoch(DEFAULT_EPOCH))
        if c.shells is not None:
            shells = []
            for i, s in enumerate(c.shells):
                try:
                    shells.append(WalkerShell(s.name or f"shell{i}", s.altitude_km,
                                              s.inclination_deg, s.planes, s.sats_per_plane,
                                              s.phasing, s.pattern, s.raan0_deg))
                except ValueError as exc:
                    raise ScenarioError(str(exc), source=source,
                                        where=f"constellation.shells[{i}]") from None
            return WalkerConstellation(shells, parse_epoch(epoch_text or DEFAULT_EPOCH))
        from leosim.orbits.sgp4_constellation import TLEConstellation

        epoch = parse_epoch(epoch_text) if epoch_text else None
        if c.tle_file is not None:
            tle = TLEConstellation.from_tle_file(_resolve(base, c.tle_file), epoch)
        else:
            tle = TLEConstellation.from_omm_file(_resolve(base, c.omm_file), epoch)
        if c.interpolate_s:
            tle.interpolate_s = float(c.interpolate_s)
        return tle
    except ScenarioError:
        raise
    except UnreadableFileError as exc:
        key = "constellation.tle_file" if c.tle_file is not None else "constellation.omm_file"
        raise _file_error(source, key, exc) from None
    except InputError as exc:
        if exc.source:
            raise
        raise _err(source, "constellation", exc) from None
    raise ScenarioError("no constellation given", source=source, where="constellation")


def _site_from_spec(spec: SiteSpec) -> Site:
    if spec.city is not None:
        return Site.city(spec.city, kind=spec.kind, country=spec.country, site_name=spec.name,
                         min_elevation_deg=spec.min_elevation_deg)
    return Site.at(spec.name, spec.lat_deg, spec.lon_deg, spec.kind, alt_km=spec.alt_km,
                   min_elevation_deg=spec.min_elevation_deg, country=spec.country or "")


def build_ground(model: ScenarioModel, source: str, epoch=None) -> GroundSegment:
    """The ground segment; with ``epoch``, only the bundled gateways in service then
    (``ground.gateway_dates``)."""
    g = model.ground
    sites: list[Site] = []
    for i, name in enumerate(g.cities):
        try:
            sites.append(Site.city(name))
        except InputError as exc:
            raise _err(source, f"ground.cities[{i}]", exc) from None
    taken = {s.name for s in sites}
    for city in top_cities(g.top_cities) if g.top_cities else []:
        name = city.name if city.name not in taken else f"{city.name}, {city.country}"
        if name not in taken:  # two cities of one name: the second is "Name, CC"
            sites.append(Site.at(name, city.lat_deg, city.lon_deg, country=city.country))
            taken.add(name)
    for i, spec in enumerate(g.sites):
        try:
            sites.append(_site_from_spec(spec))
        except InputError as exc:
            raise _err(source, f"ground.sites[{i}]", exc) from None
        except ValueError as exc:
            raise ScenarioError(str(exc), source=source, where=f"ground.sites[{i}]") from None
        if sites[-1].name.strip().casefold() == RESERVED_NAME:
            raise ScenarioError(f"site name {sites[-1].name!r} is reserved: routes to the "
                                f"internet end at {RESERVED_NAME!r}", source=source,
                                where=f"ground.sites[{i}].name",
                                hint='give the site another name (a point of presence is a site '
                                     'with kind = "pop")')
    for key, kind, loader in (("gateways", "gateway", starlink_gateways),
                              ("pops", "pop", starlink_pops)):
        value = getattr(g, key)
        if value == "none":
            continue
        if value == "starlink":
            region = None if g.gateway_region is None else (
                g.gateway_region.lat_deg, g.gateway_region.lon_deg, g.gateway_region.radius_km)
            if kind == "gateway" and g.gateway_dates != "ignore":
                pool = loader(region, countries=g.gateway_countries, on_date=epoch,
                              unknown_dates=g.gateway_dates)
            else:
                pool = loader(region, countries=g.gateway_countries)
            bad = {c.upper() for c in g.gateways_exclude_countries}
            prefix = "GW_" if kind == "gateway" else ""  # PoP names already read "PoP_<city>"
            sites.extend(attrs.evolve(s, name=prefix + s.name) for s in pool
                         if s.country not in bad)
        else:
            for i, name in enumerate(value):
                try:
                    sites.append(Site.city(name, kind=kind))
                except InputError as exc:
                    raise _err(source, f"ground.{key}[{i}]", exc) from None
    sites.extend(demand_cell_sites(model, source, {s.name for s in sites}))
    try:
        return GroundSegment(sites)
    except InputError as exc:
        raise _err(source, "ground", exc) from None


def _demand_region(group, source: str, i: int):
    from leosim.threats.regions import Circle, Polygon

    if group.region is not None:
        return Circle(group.region.lat_deg, group.region.lon_deg, group.region.radius_km)
    if group.polygon is not None:
        return Polygon(group.polygon)
    return group.country.strip().upper()


_SPREADS: dict[str, object] = {}


def _spread(group, source: str, i: int):
    """:func:`leosim.demand.spread.spread_terminals` of a ``[[demand]]`` region (cached)."""
    from leosim.demand.spread import spread_terminals

    key = group.model_dump_json()
    if key not in _SPREADS:
        try:
            _SPREADS[key] = spread_terminals(
                _demand_region(group, source, i), group.terminals, resolution=group.resolution,
                weighting=group.weighting, max_cells=group.max_cells)
        except InputError as exc:
            raise _err(source, f"demand[{i}]", exc) from None
        if len(_SPREADS) > 16:
            _SPREADS.pop(next(iter(_SPREADS)))
    return _SPREADS[key]


def demand_cell_sites(model: ScenarioModel, source: str, taken: set[str]) -> list[Site]:
    """Terminal sites for the H3 cells of every ``[[demand]]`` region (one per cell with
    terminals, named ``"cell <id>"``; docs/demand.md)."""
    out: list[Site] = []
    for i, group in enumerate(model.demand):
        if group.sites:
            continue
        tc = _spread(group, source, i)
        for name, lat, lon in zip(tc.names, tc.lat_deg, tc.lon_deg, strict=True):
            if name not in taken:
                out.append(Site.at(name, float(lat), float(lon), "terminal"))
                taken.add(name)
    return out


def build_demand(model: ScenarioModel, ground: GroundSegment, source: str):
    """Terminals and demand per site (``[[demand]]``), or None without any."""
    if not model.demand:
        return None
    from leosim.demand.profile import DemandSpec
    from leosim.demand.sites import SiteDemand

    m = len(ground)
    terminals = np.zeros(m, dtype=np.int64)
    spec_index = np.full(m, -1, dtype=np.int64)
    specs = []
    for i, group in enumerate(model.demand):
        profile = group.profile if isinstance(group.profile, str) else tuple(group.profile)
        try:
            specs.append(DemandSpec(group.down_mbps, group.up_mbps, profile))
        except InputError as exc:
            raise _err(source, f"demand[{i}]", exc) from None
        if group.sites:
            for k, name in enumerate(group.sites):
                try:
                    idx = ground.index(name)
                except InputError as exc:
                    raise _err(source, f"demand[{i}].sites[{k}]", exc) from None
                if ground.kinds[idx] != "terminal":
                    raise ScenarioError(f"site {name!r} is a {ground.kinds[idx]}, not a terminal",
                                        source=source, where=f"demand[{i}].sites[{k}]",
                                        hint="demand sits on terminal sites")
                terminals[idx] += group.terminals
                spec_index[idx] = i
        else:
            tc = _spread(group, source, i)
            for name, n in zip(tc.names, tc.terminals, strict=True):
                idx = ground.index(name)
                terminals[idx] += int(n)
                spec_index[idx] = i
    return SiteDemand(terminals, spec_index, tuple(specs), np.asarray(ground.lon_deg, float))


def build_radio(model: ScenarioModel, source: str):
    """The user-link radio parameters (``[radio]``; defaults: RadioParams')."""
    from leosim.capacity.budget import RadioParams

    given = {k: v for k, v in model.radio.model_dump().items() if v is not None}
    try:
        return RadioParams(**given)
    except (InputError, ValueError, TypeError) as exc:
        raise ScenarioError(getattr(exc, "message", str(exc)), source=source, where="radio",
                            hint="docs/link_budget.md lists the radio keys") from None


def build_capacity(model: ScenarioModel, source: str):
    """Capacity parameters and the background load (None, None without ``[[demand]]``)."""
    if not model.demand:
        return None, None
    from leosim.capacity.budget import CapacityParams

    c = model.capacity
    keys = ("user_beams_per_sat", "sat_capacity_mbps", "feeder_mbps_per_antenna",
            "laser_capacity_mbps")
    given = {k: getattr(c, k) for k in keys if getattr(c, k) is not None}
    for k in ("max_bps_hz", "modcod_margin_db"):  # one MODCOD rule for links and satellites
        if getattr(model.radio, k) is not None:
            given[k] = getattr(model.radio, k)
    try:
        params = CapacityParams(**given)
    except (InputError, ValueError, TypeError) as exc:
        raise ScenarioError(str(exc), source=source, where="capacity") from None
    background = None
    if c.background:
        from leosim.demand.background import background_grid
        from leosim.demand.profile import DemandSpec
        from leosim.demand.sites import BackgroundLoad

        opts = {"subscribers": c.background_subscribers, "activity": c.background_activity,
                "resolution": c.background_resolution}
        grid = background_grid(exclude_countries=tuple(x.upper() for x in c.background_exclude),
                               **{k: v for k, v in opts.items() if v is not None})
        background = BackgroundLoad(grid, DemandSpec(profile="diurnal"),
                                    model.links.min_elevation_deg)
    return params, background


def build_fibre(model: ScenarioModel, ground: GroundSegment, source: str) -> FibreLinks:
    spec = model.links.fibre
    if spec == "none":
        return FibreLinks.empty()
    if spec == "auto":
        pairs = auto_fibre_pairs(ground.kinds, ground.lat_deg, ground.lon_deg)
    else:
        pairs = []
        for i, (a, b) in enumerate(spec):
            try:
                ia, ib = ground.index(a), ground.index(b)
            except InputError as exc:
                raise _err(source, f"links.fibre[{i}]", exc) from None
            for name, idx in ((a, ia), (b, ib)):
                if ground.kinds[idx] == "terminal":
                    raise ScenarioError(
                        f"fibre cannot end at terminal {name!r}: terminals never relay traffic",
                        source=source, where=f"links.fibre[{i}]",
                        hint="connect gateways and PoPs only")
            pairs.append((ia, ib))
        pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return fibre_links(ground.lat_deg, ground.lon_deg, pairs,
                       route_factor=model.links.fibre_route_factor)


def _check_pair(pair: tuple[int, int], k: int, seen: dict[tuple[int, int], int],
                names: tuple[str, str], source: str) -> None:
    """Refuse a route from a site to itself and a pair listed twice (in either direction)."""
    where = f"routing.pairs[{k}]"
    if pair[0] == pair[1]:
        raise ScenarioError(f"the pair {list(names)} routes a site to itself", source=source,
                            where=where, hint="remove it; a route needs two different sites")
    key = (min(pair), max(pair))
    if key in seen:
        raise ScenarioError(
            f"the pair {list(names)} is listed twice (also routing.pairs[{seen[key]}]; a route "
            "and its reverse are the same route)", source=source, where=where,
            hint="list every pair once")
    seen[key] = k


def build_pairs(model: ScenarioModel, ground: GroundSegment, source: str) -> np.ndarray:
    r = model.routing
    terminals = ground.of_kind("terminal")
    out: list[tuple[int, int]] = []
    if r.pairs == "all":
        n_all = len(terminals) * (len(terminals) - 1) // 2  # refused before it is built
        check_run_counts(TimeGrid(parse_epoch(DEFAULT_EPOCH), model.scenario.duration_s,
                                  model.scenario.step_s).n_steps, n_all,
                         len(set(model.scenario.modes)), 0, len(ground), source)
        i, j = np.triu_indices(len(terminals), k=1)
        out.extend(zip(terminals[i].tolist(), terminals[j].tolist(), strict=True))
    elif r.pairs != "none":
        seen: dict[tuple[int, int], int] = {}
        for k, (a, b) in enumerate(r.pairs):
            try:
                pair = (ground.index(a), ground.index(b))
            except InputError as exc:
                raise _err(source, f"routing.pairs[{k}]", exc) from None
            _check_pair(pair, k, seen, (a, b), source)
            out.append(pair)
    if r.to_internet == "terminals":
        out.extend((int(t), INTERNET) for t in terminals)
    elif r.to_internet != "none":
        first: dict[int, int] = {}
        for k, a in enumerate(r.to_internet):
            try:
                site = ground.index(a)
            except InputError as exc:
                raise _err(source, f"routing.to_internet[{k}]", exc) from None
            if site in first:
                raise ScenarioError(
                    f"site {a!r} is listed twice (also routing.to_internet[{first[site]}])",
                    source=source, where=f"routing.to_internet[{k}]",
                    hint="list every site once")
            first[site] = k
            out.append((site, INTERNET))
    if any(b == INTERNET for _, b in out) and not len(ground.of_kind("pop")):
        raise ScenarioError("routes to the internet need at least one point of presence",
                            source=source, where="routing.to_internet",
                            hint='add pops = "starlink" or sites with kind = "pop" to [ground]')
    if not out:
        raise ScenarioError("the scenario asks for no routes", source=source, where="routing",
                            hint='set pairs = "all" (with two or more terminals) or to_internet')
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def build_scenario(model: ScenarioModel, *, base_dir: str | Path = ".",
                   source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from a validated model; relative paths resolve to ``base_dir``."""
    base = Path(base_dir)
    if model.constellation.hypatia_dir is not None:
        from leosim.scenario.hypatia import build_hypatia_scenario

        scn = build_hypatia_scenario(model, base, source)
        check_run_size(scn, source)
        if model.flows:
            check_packet_flows(model, scn.network.ground, source)
        return attrs.evolve(scn, inputs=input_files(model, base))
    constellation = build_constellation(model, base, source)
    ground = build_ground(model, source, constellation.epoch)
    lk = model.links
    fleet = build_fleet(model, constellation, source)
    isl, isl_modes, meshes = build_lasers(model, constellation, fleet, base, source)
    policy = lk.terminal_policy or default_terminal_policy(model)
    rules = LinkRules(
        gsl_rule=lk.gsl_rule,
        min_elevation_deg=lk.min_elevation_deg,
        max_gsl_range_km=lk.max_gsl_range_km or float("inf"),
        terminal_policy=policy,
        max_isl_km=lk.max_isl_km,
        ground_relay=lk.ground_relay,
    )
    access, delay = build_access(model, policy, source)
    capacity, background = build_capacity(model, source)
    radio = build_radio(model, source)
    network = Network(constellation, ground, isl, build_fibre(model, ground, source), rules,
                      serving=None if fleet is None else fleet.operational,
                      isl_modes=isl_modes, laser_meshes=meshes, access=access,
                      access_delay=delay,
                      via_pop_modes=via_pop_modes(model, policy,
                                                  bool(len(ground.of_kind("pop"))), source),
                      radio=radio, pop_route_factor=lk.fibre_route_factor,
                      demand=build_demand(model, ground, source), capacity=capacity,
                      background=background)
    sc = model.scenario
    times = TimeGrid(constellation.epoch, sc.duration_s, sc.step_s)
    from leosim.scenario.threats import build_threats

    threats = build_threats(model, network, seed=sc.seed, source=source) if model.threats else None
    mc = model.montecarlo
    if mc is not None and (mc.threat >= len(model.threats)
                           or model.threats[mc.threat].type != "satellite_loss"):
        raise ScenarioError(
            f"montecarlo.threat = {mc.threat} is not a satellite_loss threat of this scenario",
            source=source, where="montecarlo.threat",
            hint='add a [[threats]] entry with type = "satellite_loss" and give its index')
    scn = Scenario(sc.name, network, times, build_pairs(model, ground, source),
                   tuple(dict.fromkeys(sc.modes)), model.routing.method, sc.seed, model, source,
                   threats, route_stride(model, source), input_files(model, base), fleet)
    check_run_size(scn, source)  # steps x routes x modes and the memory estimate, before a run
    if model.flows:
        check_packet_flows(model, ground, source)
    return scn


def check_packet_flows(model: ScenarioModel, ground: GroundSegment, source: str) -> None:
    """``[[flows]]`` against the built ground segment and the run's window."""
    from leosim.ground.cities import find_city
    from leosim.packet.run import window_of
    from leosim.packet.spec import check_flows

    _section, start, stop = window_of(model)
    names = {str(n) for n in ground.names}
    cities = set()
    for f in model.flows:
        for name in getattr(f, "followers", ()):
            if name not in names:
                try:
                    find_city(name)
                    cities.add(name)
                except InputError:
                    pass
    check_flows(model.flows, names, start_s=start, end_s=stop, city_names=cities, source=source)


def default_terminal_policy(model: ScenarioModel) -> str:
    """Starlink presets get Starlink's scheduler; everything else Hypatia's ``lowest_delay``."""
    preset = (model.constellation.preset or "").strip().lower()
    return "scheduler" if preset.startswith("starlink") else "lowest_delay"


def via_pop_modes(model: ScenarioModel, policy: str, has_pops: bool = True,
                  source: str = "<scenario>") -> frozenset:
    """Modes whose terminal pairs travel through their PoPs (``routing.terminal_to_terminal``;
    ``"auto"`` in a scenario without points of presence: none)."""
    rule = model.routing.terminal_to_terminal
    modes = set(model.scenario.modes)
    if rule == "via_pop":
        if not has_pops:
            raise ScenarioError(
                'terminal_to_terminal = "via_pop" needs points of presence', source=source,
                where="routing.terminal_to_terminal",
                hint='add pops = "starlink" (or sites with kind = "pop") to [ground], or use '
                     '"direct"')
        return frozenset(modes)
    if not has_pops:
        return frozenset()
    if rule == "direct":
        return frozenset()
    auto = {"bent_pipe", "as_flown"} | ({"laser"} if policy == "scheduler" else set())
    return frozenset(modes & auto)


def build_fleet(model: ScenarioModel, constellation: Constellation,
                source: str) -> FleetAttributes | None:
    """Per-satellite version, lasers and status: from the launch table for element sets, from
    ``laser_fraction`` / ``laser_planes`` for Walker shells (all fitted by default)."""
    c = model.constellation
    walker = isinstance(constellation, WalkerConstellation)
    if not walker:
        if c.laser_fraction is not None or c.laser_planes is not None:
            raise ScenarioError(
                "laser_fraction and laser_planes apply to Walker shells; element sets take "
                "their lasers from the launch table", source=source,
                where="constellation.laser_fraction" if c.laser_fraction is not None
                else "constellation.laser_planes",
                hint="remove the key (docs/fleet.md explains the launch table)")
        attrs_of = getattr(constellation, "fleet_attributes", None)
        return attrs_of() if attrs_of is not None else None
    planes = None
    if c.laser_planes is not None:
        names = [sh.name for sh in constellation.shells]
        planes = []
        for i, spec in enumerate(c.laser_planes):
            if spec.shell not in names:
                raise ScenarioError(f"no shell called {spec.shell!r}", source=source,
                                    where=f"constellation.laser_planes[{i}].shell",
                                    hint="use one of: " + ", ".join(names))
            k = names.index(spec.shell)
            if spec.plane >= constellation.shells[k].planes:
                raise ScenarioError(
                    f"shell {spec.shell!r} has planes 0..{constellation.shells[k].planes - 1}",
                    source=source, where=f"constellation.laser_planes[{i}].plane")
            planes.append((k, spec.plane))
    return FleetAttributes.walker(constellation, laser_fraction=(
        1.0 if c.laser_fraction is None else c.laser_fraction), laser_planes=planes,
        seed=model.scenario.seed)


def build_lasers(model: ScenarioModel, constellation: Constellation,
                 fleet: FleetAttributes | None, base: Path,
                 source: str) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """Candidate laser links (the union over modes), each mode's mask over them, and for
    element sets each mode's :class:`~leosim.links.laser_mesh.LaserMesh` (repaired where a
    link breaks or a satellite is lost).

    ``laser`` (every satellite fitted) uses the whole mesh; ``as_flown`` only links whose ends
    both carry lasers in use at the epoch: +Grid (Walker) or the automatic mesh (element sets)
    among the fitted satellites alone.
    """
    lk = model.links
    kind = lk.isl
    walker = isinstance(constellation, WalkerConstellation)
    if kind == "auto":
        kind = "plus_grid" if walker else "mesh"
    if kind == "none":
        return np.empty((0, 2), dtype=np.int64), {}, {}
    if kind == "file":
        try:
            pairs = read_isl_pairs(_resolve(base, lk.isl_file), constellation.n_sats)
        except UnreadableFileError as exc:
            raise _file_error(source, "links.isl_file", exc) from None
        if fleet is None:
            return pairs, {}, {}
        fitted = fleet.lasers_at(constellation.epoch)
        return pairs, {"as_flown": fitted[pairs[:, 0]] & fitted[pairs[:, 1]]}, {}
    if kind == "plus_grid":
        try:
            full = plus_grid_pairs(constellation)
        except InputError as exc:
            raise _err(source, "links.isl", exc) from None
        fitted = None if fleet is None else fleet.lasers_at(constellation.epoch)
        if fitted is None or fitted.all():
            return full, {}, {}
        flown, _ = fleet_mesh(constellation, fitted, fleet.laser_terminals, lk.max_isl_km)
        meshes = {}
    else:
        from leosim.links.laser_mesh import LaserMesh

        every = fleet.operational if fleet is not None else np.ones(constellation.n_sats, bool)
        four = np.full(constellation.n_sats, 4, dtype=np.int64)
        full, group = fleet_mesh(constellation, every, four, lk.max_isl_km, fleet)
        fitted = (fleet.lasers_at(constellation.epoch) if fleet is not None
                  else np.zeros(constellation.n_sats, bool))
        terminals = np.asarray(fleet.laser_terminals, np.int64) if fleet is not None else four
        flown, flown_group = fleet_mesh(constellation, fitted, terminals, lk.max_isl_km, fleet)
        meshes = {"laser": LaserMesh(full, group, every, four, lk.max_isl_km),
                  "as_flown": LaserMesh(flown, flown_group, fitted, terminals, lk.max_isl_km)}
    union = np.unique(np.concatenate([full, flown]), axis=0)
    return union, {"laser": _rows_in(union, full), "as_flown": _rows_in(union, flown)}, meshes


def _rows_in(union: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Mask over ``union`` of its rows that are in ``pairs`` (both sorted ``a < b`` pairs)."""
    key = union[:, 0] * (1 << 32) + union[:, 1]
    return np.isin(key, pairs[:, 0] * (1 << 32) + pairs[:, 1])


def fleet_mesh(constellation: Constellation, fitted: np.ndarray, terminals: np.ndarray,
               max_isl_km: float,
               fleet: FleetAttributes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The automatic laser mesh (:mod:`leosim.links.laser_mesh`) among ``fitted`` satellites at
    the epoch: planes from the orbit normals, shells from the fleet's target shells (Walker: its
    shells). Returns the pairs and each satellite's shell group (-1 where not fitted)."""
    from leosim.links.laser_mesh import infer_planes, mesh_pairs

    r, v = constellation.inertial_state_km(0.0)
    if fleet is not None and not isinstance(constellation, WalkerConstellation):
        _, group = np.unique(np.asarray(fleet.target_shell, dtype=str), return_inverse=True)
        group = np.where(np.asarray(fleet.target_shell, dtype=str) == "", -1, group)
    else:
        group = np.asarray(constellation.shell, dtype=np.int64)
    group = np.where(fitted, group, -1)
    structure = infer_planes(r, v, group)
    return mesh_pairs(structure, fitted, terminals, r_km=r, max_isl_km=max_isl_km), group


def build_access(model: ScenarioModel, policy: str, source: str):
    """Starlink's access layer (under the scheduler) and its modelled delay (under the
    scheduler, and for Starlink presets whatever the policy, so that what-ifs compare)."""
    starlink = default_terminal_policy(model) == "scheduler"
    if policy != "scheduler" and not starlink:
        return None, None
    from leosim.access.delay import AccessDelay
    from leosim.access.scheduler import AccessRules

    a = model.access
    given = {k: v for k, v in a.model_dump().items() if v is not None}
    delay_keys = {"access_delay_median_ms": "median_ms", "access_delay_sigma": "sigma",
                  "slot_boundary_penalty_ms": "slot_boundary_penalty_ms"}
    delay_args = {delay_keys[k]: given.pop(k) for k in list(given) if k in delay_keys}
    given["offset_s"] = given.pop("slot_offset_s")
    try:
        rules = AccessRules(**given)
        delay = AccessDelay(**delay_args)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(str(exc), source=source, where="access") from None
    return (rules if policy == "scheduler" else None), delay


def route_stride(model: ScenarioModel, source: str) -> int:
    """Steps between written route rows: ``output.routes_every_s / scenario.step_s``."""
    every, step = model.output.routes_every_s, model.scenario.step_s
    if every is None:
        return 1
    k = round(every / step)
    if k < 1 or abs(k * step - every) > 1e-9 * max(every, 1.0):
        raise ScenarioError(
            f"output.routes_every_s = {every:g} is not a whole number of steps of "
            f"{step:g} s", source=source, where="output.routes_every_s",
            hint=f"use a multiple of scenario.step_s, e.g. {max(k, 1) * step:g}")
    return k
