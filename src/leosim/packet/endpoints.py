"""Where each flow's packets go: flows' ends resolved to the packet network's routes.

* ``dst = "internet"`` (and a message service's ``server = "internet"``) is the source's *home
  point of presence*: the PoP leosim's own route to the internet reaches first in the packet
  window (Starlink gives each terminal a PoP, whose address it uses on the internet; a change of
  PoP would break its connections, so the packet layer keeps the first one). When no route
  exists in the first minute, the nearest PoP not destroyed at the start is used.
* ``dst`` (or ``server``) naming a site: leosim's route between the two sites (two terminals
  talk through their PoPs under Starlink's rules, :mod:`leosim.routing.viapop`).
* A message service's followers: a terminal follower is reached over the constellation from the
  server (leosim's route); any other site, or a city that is not a site, is an *internet host*
  over terrestrial fibre from the server (great circle x the scenario's route factor).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from leosim.errors import InputError
from leosim.ground.geodesy import great_circle_km
from leosim.packet.spec import INTERNET
from leosim.packet.timeline import Host, RouteSpec
from leosim.routing.shortest import INTERNET as INTERNET_DST

#: how long (s, at 1 s steps) leosim's route to the internet is searched for a home PoP
HOME_POP_SEARCH_S = 60


@attrs.frozen(eq=False)
class Endpoints:
    """Routes and hosts of a packet run.

    Attributes
    ----------
    routes : list of RouteSpec
    hosts : list of Host
    flow_route : list of int
        The route each flow (in :func:`leosim.packet.spec.expand_flows` order) uses.
    followers : list of list of (str, int)
        Per flow (messages only): each follower's name and the route from the server to it.
    seeds : list of int
        Per flow: the seed of its random choices (the scenario's seed and the flow's index).
    home_pop_names : dict
        Source site -> the PoP standing for "internet".
    """

    routes: list[RouteSpec]
    hosts: list[Host]
    flow_route: list[int]
    followers: list[list[tuple[str, int]]]
    seeds: list[int]
    home_pop_names: dict[str, str]


def resolve_endpoints(scn, flows: Sequence, *, mode: str, start_s: float) -> Endpoints:
    """Resolve every flow's ends (see the module docstring) into :class:`Endpoints`."""
    g = scn.network.ground
    index = {str(n): i for i, n in enumerate(g.names)}
    needs_home = sorted({index[f.src] for f in flows if f.dst == INTERNET})
    home = home_pops(scn, needs_home, mode=mode, start_s=start_s)
    routes: list[RouteSpec] = []
    route_index: dict[RouteSpec, int] = {}
    hosts: list[Host] = []
    host_index: dict[str, int] = {}

    def route(spec: RouteSpec) -> int:
        if spec not in route_index:
            route_index[spec] = len(routes)
            routes.append(spec)
        return route_index[spec]

    def host(name: str) -> int:
        if name not in host_index:
            if name in index:
                lat, lon = float(g.lat_deg[index[name]]), float(g.lon_deg[index[name]])
            else:
                from leosim.ground.cities import find_city

                c = find_city(name)
                lat, lon = float(c.lat_deg), float(c.lon_deg)
            host_index[name] = len(hosts)
            hosts.append(Host(f"{name} (internet)", lat, lon))
        return host_index[name]

    flow_route, followers, seeds = [], [], []
    for i, f in enumerate(flows):
        src = index[f.src]
        dst = home[src] if f.dst == INTERNET else index[f.dst]
        flow_route.append(route(RouteSpec((src, dst))))
        seeds.append(int(np.random.SeedSequence([int(scn.seed), i]).generate_state(1)[0]))
        outs = []
        for name in getattr(f.spec, "followers", ()) if f.kind == "messages" else ():
            if name in index and g.kinds[index[name]] == "terminal":
                outs.append((name, route(RouteSpec((dst, index[name])))))
            else:
                outs.append((name, route(RouteSpec(None, tail=host(name), fixed_site=dst))))
        followers.append(outs)
    names = {str(g.names[s]): str(g.names[p]) for s, p in home.items()}
    return Endpoints(routes, hosts, flow_route, followers, seeds, names)


def home_pops(scn, sources: Sequence[int], *, mode: str, start_s: float) -> dict[int, int]:
    """Each source site's home PoP (site index): see the module docstring."""
    if not len(sources):
        return {}
    net = scn.network
    g = net.ground
    pops = g.of_kind("pop")
    if not len(pops):
        raise InputError('a flow goes to "internet" but the scenario has no point of presence',
                         source=scn.source, where="flows",
                         hint="add PoPs under [ground] (e.g. pops = true) or give dst a site")
    from leosim.engine.simulate import simulate

    pairs = np.array([(s, INTERNET_DST) for s in sources], np.int64)
    times = start_s + np.arange(HOME_POP_SEARCH_S, dtype=float)
    times = times[times <= scn.model.scenario.duration_s] if len(times) > 1 else times
    found: dict[int, int] = {}
    from leosim.packet.run import access_replay

    routes_only = attrs.evolve(net, demand=None, background=None)  # no capacity allocation
    for step in simulate(routes_only, times, pairs, modes=(mode,), threats=scn.threats,
                         seed=scn.seed, warmup=access_replay(scn, start_s, 1.0),
                         method=scn.method):
        for s, target in zip(sources, step.routes.target, strict=True):
            if target >= 0 and s not in found:
                found[s] = int(target)
        if len(found) == len(sources):
            break
    dead = (scn.threats.state_at(start_s).dead_sites if scn.threats is not None
            else np.zeros(len(g), bool))
    live = pops[~dead[pops]] if (~dead[pops]).any() else pops
    for s in sources:
        if s not in found:
            km = great_circle_km(g.lat_deg[s], g.lon_deg[s], g.lat_deg[live], g.lon_deg[live])
            found[s] = int(live[int(np.argmin(km))])
    return found
