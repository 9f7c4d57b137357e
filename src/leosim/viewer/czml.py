"""Write a run as CZML (``scene.czml``) for the CesiumJS viewer.

The scene holds, over the scenario's clock (epoch to epoch + duration):

* ``sat/<i>``: one entity per satellite ``i`` (node id ``i``), Earth-fixed (``"FIXED"``) positions
  sampled every ``sample_s`` and Lagrange-interpolated by Cesium (60 s samples reproduce the
  propagator to well under a metre); lost satellites turn grey while lost;
* ``site/<k>``: one entity per ground site ``k`` (node id ``N + k``), coloured by kind, dark red
  while destroyed; ``destroyed/<k>``: a red ring and label, available only while destroyed;
* ``jammer/<j>``: each jammer, with a red ellipse of its radio horizon to terminals (downlink
  jamming), available only while it is on; ``jammer/<j>/uplink``: the outline of the area from
  which it sees satellites at the fleet's mean altitude (uplink jamming);
* ``path/<p>/<r>``: the ``r``-th distinct path of route ``p`` (a mode, source and destination of
  ``routes.parquet``), a polyline through the satellites and sites it uses, available while the
  route takes it; property ``nodes`` is the JSON list of node names;
* ``pair/<p>``: a label at the route's source with its current RTT (property ``rtt_ms``);
* ``gsl/<k>/<i>/<r>``: the ground links of terminals, sampled every ``sample_s`` (links of other
  sites, and the laser mesh, would be too many entities to draw; the laser links a route uses are
  on its path).

``viewer.json`` (next to ``scene.czml``) lists the routes for the viewer's menu.
"""

from __future__ import annotations

import json
import math
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leosim.constants import R_EARTH_MEAN_KM
from leosim.errors import InputError
from leosim.io.atomic import atomic_write_json, atomic_write_text
from leosim.metrics.stream import RouteFile

SCENE = "scene.czml"
PAIRS_JSON = "viewer.json"

EARTH_RADIUS_KM = R_EARTH_MEAN_KM
MAX_ROUTES = 100  # routes (mode x pair) drawn; the rest are listed as omitted
MAX_ROUTE_ROWS = 20_000  # route rows drawn (paths and RTT labels); more: every k-th step
MAX_TERMINAL_LINKS = 20  # terminals whose ground links are drawn
POSITION_BUDGET = 300_000  # satellite x sample positions aimed for by the default sample_s

KIND_RGBA = {
    "terminal": [255, 214, 0, 255],
    "gateway": [0, 200, 255, 255],
    "pop": [235, 90, 235, 255],
}
OTHER_RGBA = [200, 200, 200, 255]
SAT_RGBA = [235, 235, 235, 255]
LOST_RGBA = [110, 110, 110, 160]
DESTROYED_RGBA = [140, 0, 0, 255]
JAM_RGBA = [255, 30, 30, 255]
MODE_RGBA = {"laser": [0, 255, 160, 255], "bent_pipe": [255, 150, 0, 255]}
GSL_RGBA = [255, 255, 255, 110]


def iso(epoch: datetime, t_s: float) -> str:
    """``epoch + t_s`` as ISO 8601 UTC with a ``Z`` (milliseconds when not whole seconds).

    Examples
    --------
    >>> from leosim.timebase import parse_epoch
    >>> e = parse_epoch("2022-03-20T12:00:00Z")
    >>> iso(e, 90.0), iso(e, 1.5)
    ('2022-03-20T12:01:30Z', '2022-03-20T12:00:01.500Z')
    """
    dt = epoch + timedelta(milliseconds=round(float(t_s) * 1000.0))
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    ms = dt.microsecond // 1000
    return f"{text}.{ms:03d}Z" if ms else f"{text}Z"


def interval(epoch: datetime, start_s: float, stop_s: float) -> str:
    """A CZML interval ``start/stop`` (ISO 8601)."""
    return f"{iso(epoch, start_s)}/{iso(epoch, stop_s)}"


def default_sample_s(duration_s: float, n_sats: int) -> float:
    """Sampling period of satellite positions: 60 s, longer for long or large runs.

    Aims at :data:`POSITION_BUDGET` positions in all (about 30 bytes each) with at most 300 s
    between samples, and keeps at least 6 samples (Lagrange degree 5).

    Examples
    --------
    >>> default_sample_s(1800, 1980), default_sample_s(86_400, 1980), default_sample_s(120, 200)
    (60.0, 300.0, 20.0)
    """
    s = min(max(60.0, duration_s * max(n_sats, 1) / POSITION_BUDGET), 300.0)
    s = math.ceil(s / 10.0) * 10.0
    return float(max(min(s, math.floor(duration_s / 6.0)), 1.0))


def _runs(keys: list) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of equal consecutive keys."""
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((start, i))
            start = i
    return out


class _Scene:
    """Collects CZML packets for one scenario."""

    def __init__(self, scenario, sample_s: float) -> None:
        self.scn = scenario
        net = scenario.network
        self.net = net
        self.n = int(net.constellation.n_sats)
        self.epoch: datetime = scenario.times.epoch
        self.end_s = float(scenario.times.duration_s)
        self.sample_s = float(sample_s)
        t = np.arange(0.0, self.end_s, self.sample_s)
        self.sample_t = np.append(t, self.end_s) if self.end_s > 0 else np.zeros(1)
        self.effects = scenario.threats.effects if scenario.threats is not None else ()
        self.packets: list[dict] = []
        self.names = np.concatenate([net.constellation.sat_ids.astype(str),
                                     net.ground.names.astype(str)]).astype(object)

    def ref(self, node: int) -> str:
        return f"sat/{node}#position" if node < self.n else f"site/{node - self.n}#position"

    def clip(self, start_s: float, end_s: float) -> tuple[float, float] | None:
        a, b = max(float(start_s), 0.0), min(float(end_s), self.end_s)
        return (a, b) if b > a else None

    # --- packets ---------------------------------------------------------------------------

    def document(self) -> None:
        self.packets.append({
            "id": "document", "name": self.scn.name, "version": "1.0",
            "clock": {"interval": interval(self.epoch, 0.0, self.end_s),
                      "currentTime": iso(self.epoch, 0.0),
                      "multiplier": max(1.0, round(self.end_s / 120.0)),
                      "range": "LOOP_STOP", "step": "SYSTEM_CLOCK_MULTIPLIER"},
        })

    def satellites(self) -> np.ndarray:
        """Satellite packets; returns the sampled positions ``(T, N, 3)`` km (NaN if failed)."""
        c = self.net.constellation
        states = c.propagate(self.sample_t)
        pos = np.array(states.ecef_km, dtype=float).reshape(len(self.sample_t), self.n, 3)
        pos[np.asarray(states.error).reshape(len(self.sample_t), self.n) != 0] = np.nan
        lost = [e for e in self.effects if e.sats is not None and e.sats.any()]
        metres = np.rint(pos * 1000.0)
        ok = np.isfinite(metres).all(axis=2)
        t_int = [int(t) if float(t).is_integer() else float(t) for t in self.sample_t]
        for i, sid in enumerate(c.sat_ids.astype(str)):
            rows = np.flatnonzero(ok[:, i])
            flat: list = []
            for r in rows:
                flat.append(t_int[r])
                flat.extend(int(v) for v in metres[r, i])
            color: object = {"rgba": SAT_RGBA}
            spans = [s for e in lost if e.sats[i] for s in [self.clip(e.start_s, e.end_s)] if s]
            if spans:
                color = _timeline(self.epoch, self.end_s, spans, SAT_RGBA, LOST_RGBA)
            packet = {"id": f"sat/{i}", "name": sid,
                      "point": {"pixelSize": 4, "color": color}}
            if flat:
                packet["position"] = {
                    "epoch": iso(self.epoch, 0.0), "referenceFrame": "FIXED",
                    "interpolationAlgorithm": "LAGRANGE",
                    "interpolationDegree": int(min(5, max(1, len(rows) - 1))),
                    "cartesian": flat}
            self.packets.append(packet)
        return pos

    def sites(self) -> None:
        g = self.net.ground
        destroyed: dict[int, list[tuple[float, float, str]]] = {}
        for e in self.effects:
            if e.sites is None:
                continue
            span = self.clip(e.start_s, e.end_s)
            for k in np.flatnonzero(e.sites) if span else ():
                destroyed.setdefault(int(k), []).append((*span, e.name))
        for k, (name, kind, lat, lon, alt) in enumerate(zip(
                g.names.astype(str), g.kinds.astype(str), g.lat_deg, g.lon_deg, g.alt_km,
                strict=True)):
            rgba = KIND_RGBA.get(kind, OTHER_RGBA)
            spans = [(a, b) for a, b, _ in destroyed.get(k, ())]
            color = (_timeline(self.epoch, self.end_s, spans, rgba, DESTROYED_RGBA) if spans
                     else {"rgba": rgba})
            terminal = kind == "terminal"
            self.packets.append({
                "id": f"site/{k}", "name": name,
                "description": f"{kind} at {lat:.3f}, {lon:.3f}",
                "position": {"cartographicDegrees": [round(float(lon), 6), round(float(lat), 6),
                                                     round(float(alt) * 1000.0, 1)]},
                "point": {"pixelSize": 11 if terminal else 7, "color": color,
                          "outlineColor": {"rgba": [0, 0, 0, 255]}, "outlineWidth": 1},
                "label": {"text": name, "font": "13px sans-serif" if terminal else "11px sans-serif",
                          "fillColor": {"rgba": rgba}, "outlineColor": {"rgba": [0, 0, 0, 255]},
                          "outlineWidth": 2, "style": "FILL_AND_OUTLINE",
                          "pixelOffset": {"cartesian2": [0, -16]},
                          "distanceDisplayCondition": {
                              "distanceDisplayCondition": [0, 2.0e7 if terminal else 4.0e6]}},
                "properties": {"kind": kind},
            })
            if spans:
                names = sorted({n for _, _, n in destroyed[k]})
                avail = [interval(self.epoch, a, b) for a, b in _union(spans)]
                self.packets.append({
                    "id": f"destroyed/{k}", "name": f"{name} (destroyed)",
                    "availability": avail[0] if len(avail) == 1 else avail,
                    "description": "destroyed by " + "; ".join(names),
                    "position": {"reference": f"site/{k}#position"},
                    "point": {"pixelSize": 20, "color": {"rgba": [0, 0, 0, 0]},
                              "outlineColor": {"rgba": JAM_RGBA}, "outlineWidth": 3},
                    "label": {"text": f"{name}: destroyed", "font": "11px sans-serif",
                              "fillColor": {"rgba": JAM_RGBA}, "pixelOffset": {"cartesian2": [0, 18]},
                              "distanceDisplayCondition": {"distanceDisplayCondition": [0, 4.0e6]}},
                    "properties": {"site": name, "threats": json.dumps(names)},
                })

    def jammers(self, pos_km: np.ndarray) -> None:
        from leosim.capacity.linkbudget import radio_horizon_km

        r = np.linalg.norm(pos_km, axis=2)
        mean_alt = float(np.nanmean(r)) - EARTH_RADIUS_KM if np.isfinite(r).any() else 550.0
        sat_horizon_m = EARTH_RADIUS_KM * math.acos(
            EARTH_RADIUS_KM / (EARTH_RADIUS_KM + mean_alt)) * 1000.0
        h_term = self.net.radio.terminal_height_m
        for j, e in enumerate(x for x in self.effects if x.jammer is not None):
            span = self.clip(e.start_s, e.end_s)
            if span is None:
                continue
            jam = e.jammer
            avail = interval(self.epoch, *span)
            where = [round(jam.lon_deg, 6), round(jam.lat_deg, 6), 0.0]
            horizon_m = float(radio_horizon_km(jam.alt_km * 1000.0, h_term)) * 1000.0
            down = jam.band in ("downlink", "both")
            packet = {
                "id": f"jammer/{j}", "name": jam.name, "availability": avail,
                "description": (f"{jam.band} jammer, EIRP {jam.eirp_dbw:g} dBW, "
                                f"{jam.alt_km * 1000:g} m up; radio horizon to terminals "
                                f"{horizon_m / 1000:.1f} km"),
                "position": {"cartographicDegrees": where},
                "point": {"pixelSize": 10, "color": {"rgba": JAM_RGBA},
                          "outlineColor": {"rgba": [0, 0, 0, 255]}, "outlineWidth": 1},
                "label": {"text": jam.name, "font": "12px sans-serif",
                          "fillColor": {"rgba": JAM_RGBA}, "pixelOffset": {"cartesian2": [0, 18]},
                          "outlineColor": {"rgba": [0, 0, 0, 255]}, "outlineWidth": 2,
                          "style": "FILL_AND_OUTLINE"},
                "properties": {"band": jam.band, "horizon_km": round(horizon_m / 1000.0, 3)},
            }
            if down:
                packet["ellipse"] = {
                    "semiMajorAxis": horizon_m, "semiMinorAxis": horizon_m, "height": 0,
                    "material": {"solidColor": {"color": {"rgba": [255, 0, 0, 110]}}},
                    "outline": True, "outlineColor": {"rgba": JAM_RGBA}}
            self.packets.append(packet)
            if jam.band in ("uplink", "both"):
                self.packets.append({
                    "id": f"jammer/{j}/uplink", "name": f"{jam.name} (uplink reach)",
                    "availability": avail, "position": {"cartographicDegrees": where},
                    "ellipse": {"semiMajorAxis": sat_horizon_m, "semiMinorAxis": sat_horizon_m,
                                "height": 0, "fill": False, "outline": True,
                                "outlineColor": {"rgba": [255, 60, 60, 200]}},
                    "properties": {"horizon_km": round(sat_horizon_m / 1000.0, 1)},
                })

    def terminal_links(self, pos_km: np.ndarray) -> None:
        g = self.net.ground
        terminals = np.flatnonzero(g.kinds == "terminal")[:MAX_TERMINAL_LINKS]
        if not len(terminals):
            return
        up: dict[tuple[int, int], list[int]] = {}
        for r, t in enumerate(self.sample_t):
            state = self.scn.threats.state_at(float(t)) if self.scn.threats else None
            topo = self.net.topology(pos_km[r], mode="bent_pipe", threats=state)
            sel = np.isin(topo.gsl.site, terminals)
            for k, i in zip(topo.gsl.site[sel].tolist(), topo.gsl.sat[sel].tolist(), strict=True):
                up.setdefault((k, i), []).append(r)
        t = self.sample_t
        for (k, i), rows in sorted(up.items()):
            # Consecutive samples form one run; a run lasts until the next sample.
            breaks = np.flatnonzero(np.diff(rows) > 1) + 1
            for n, chunk in enumerate(np.split(np.asarray(rows), breaks)):
                a = float(t[chunk[0]])
                b = float(t[min(chunk[-1] + 1, len(t) - 1)])
                if b <= a:
                    b = self.end_s
                self.packets.append({
                    "id": f"gsl/{k}/{i}/{n}", "name": f"{g.names[k]} - {self.names[i]}",
                    "availability": interval(self.epoch, a, max(a, b - 0.001)),
                    "polyline": {"positions": {"references": [f"site/{k}#position",
                                                              f"sat/{i}#position"]},
                                 "width": 1.5, "arcType": "NONE",
                                 "material": {"solidColor": {"color": {"rgba": GSL_RGBA}}}},
                })

    def routes(self, table, mode: str | None, n_routes: int | None = None) -> list[dict]:
        """Path and RTT packets of each route; returns the route list for ``viewer.json``.

        ``n_routes``: how many routes the run has, when ``table`` holds only those drawn.
        """
        if mode is not None:
            table = table.filter(pc.equal(table["mode"], mode))
        if table.num_rows == 0:
            return []
        df = table.to_pandas()
        keys = list(dict.fromkeys(zip(df["mode"], df["src"], df["dst"], strict=True)))
        n_routes = len(keys) if n_routes is None else n_routes
        omitted = max(0, n_routes - MAX_ROUTES)
        if omitted:
            warnings.warn(f"scene.czml draws the first {MAX_ROUTES} of {n_routes} routes",
                          stacklevel=3)
        keys = keys[:MAX_ROUTES]
        wanted = set(keys)
        df = df[[k in wanted for k in zip(df["mode"], df["src"], df["dst"], strict=True)]]
        times = np.unique(df["time_s"].to_numpy())
        if len(df) > MAX_ROUTE_ROWS:
            # Too many steps to draw each (long runs, many routes): keep every k-th step.
            df = df[np.isin(df["time_s"].to_numpy(), times[::math.ceil(len(df) / MAX_ROUTE_ROWS)])]
        names = self.names
        n_nodes = len(names)
        site_index = {str(n): k for k, n in enumerate(self.net.ground.names)}
        unknown = sorted({k[1] for k in keys} - set(site_index))
        if unknown:
            raise InputError(f"routes.parquet starts routes at {unknown[0]!r}, which is not a "
                             "site of this scenario", hint="pass the scenario that made this run")
        groups = dict(iter(df.groupby(["mode", "src", "dst"], sort=False)))
        out = []
        for p, key in enumerate(keys):
            rows = groups[key].sort_values("time_s")
            t = rows["time_s"].to_numpy(dtype=float)
            stops = np.append(t[1:], self.end_s)
            paths = [tuple(int(x) for x in v) for v in rows["path"]]
            bad = [x for path in paths for x in path if not 0 <= x < n_nodes]
            if bad:
                raise InputError(f"routes.parquet names node {bad[0]}, but the scenario has "
                                 f"{n_nodes} nodes", hint="pass the scenario that made this run")
            m, src, dst = key
            label = f"{src} → {dst} ({m.replace('_', ' ')})"
            run_list = _runs(paths)
            for r, (a, b) in enumerate(run_list):
                if not paths[a]:
                    continue
                nodes = [str(names[x]) for x in paths[a]]
                self.packets.append({
                    "id": f"path/{p}/{r}", "name": f"{label}: {' > '.join(nodes)}",
                    "availability": interval(self.epoch, t[a], max(t[a], stops[b - 1] - 0.001)),
                    "polyline": {"positions": {"references": [self.ref(x) for x in paths[a]]},
                                 "width": 5, "arcType": "NONE",
                                 "material": {"polylineOutline": {
                                     "color": {"rgba": MODE_RGBA.get(m, [0, 255, 255, 255])},
                                     "outlineColor": {"rgba": [0, 0, 0, 255]},
                                     "outlineWidth": 1}}},
                    "properties": {"pair": p, "nodes": json.dumps(nodes),
                                   "hops": len(nodes) - 1},
                })
            text, rtt = [], []
            targets = rows["target"].tolist()
            reasons = rows["reason"].tolist()
            for i, v in enumerate(rows["rtt_ms"].to_numpy(dtype=float)):
                if np.isfinite(v):
                    via = f" via {targets[i]}" if dst == "internet" and targets[i] else ""
                    text.append(f"{label}{via}: {v:.1f} ms")
                    rtt.append(round(float(v), 2))
                else:
                    text.append(f"{label}: unreachable ({reasons[i] or 'no path'})")
                    rtt.append(-1.0)
            src_k = site_index[src]
            self.packets.append({
                "id": f"pair/{p}", "name": label,
                "position": {"reference": f"site/{src_k}#position"},
                "label": {"text": [{"interval": interval(self.epoch, t[a],
                                                         max(t[a], stops[b - 1] - 0.001)),
                                    "string": text[a]} for a, b in _runs(text)],
                          "font": "14px sans-serif", "fillColor": {"rgba": [255, 255, 255, 255]},
                          "outlineColor": {"rgba": [0, 0, 0, 255]}, "outlineWidth": 3,
                          "style": "FILL_AND_OUTLINE", "pixelOffset": {"cartesian2": [14, 0]},
                          "horizontalOrigin": "LEFT", "verticalOrigin": "CENTER"},
                "properties": {"pair": p, "rtt_ms": [
                    {"interval": interval(self.epoch, t[a], max(t[a], stops[b - 1] - 0.001)),
                     "number": rtt[a]} for a, b in _runs(rtt)]},
            })
            out.append({"index": p, "mode": m, "src": src, "dst": dst, "label": label,
                        "entity": f"pair/{p}", "paths": sum(1 for a, _ in run_list if paths[a])})
        if omitted:
            out.append({"omitted": omitted})
        return out


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _timeline(epoch: datetime, end_s: float, spans: list[tuple[float, float]],
              normal: list[int], during: list[int]) -> list[dict]:
    """Interval colours: ``during`` inside ``spans``, ``normal`` elsewhere on ``[0, end_s]``."""
    out, t = [], 0.0
    for a, b in _union(spans):
        if a > t:
            out.append({"interval": interval(epoch, t, a - 0.001), "rgba": normal})
        out.append({"interval": interval(epoch, a, b), "rgba": during})
        t = b + 0.001
    if t < end_s:
        out.append({"interval": interval(epoch, t, end_s), "rgba": normal})
    return out


def _drawn_rows(routes_file: Path, mode: str | None) -> tuple[pa.Table, int]:
    """The rows of ``routes_file`` that :meth:`_Scene.routes` draws - the first
    :data:`MAX_ROUTES` routes (of ``mode``), every k-th step so that at most
    :data:`MAX_ROUTE_ROWS` rows remain - and the number of routes. Two passes batch by batch:
    the key columns choose the rows, then only those are kept, so memory follows the rows
    drawn, not the run's length."""
    cols = ["time_s", "mode", "src", "dst", "target", "rtt_ms", "path", "reason"]
    rf = RouteFile(routes_file)
    drawn = np.zeros(0, dtype=bool)  # per route id: drawn
    n_drawn = 0
    n_rows = 0
    times = np.zeros(0)
    for pid, batch in rf.batches(["time_s"]):
        if len(drawn) < rf.n_pairs:  # new routes, in order of first appearance
            new = np.arange(len(drawn), rf.n_pairs)
            if mode is not None:
                names = np.asarray(rf.modes.names, dtype=object)
                new = new[names[np.asarray(rf.pair_mode, dtype=np.int64)[new]] == mode]
            add = np.zeros(rf.n_pairs - len(drawn), dtype=bool)
            take = new[: max(MAX_ROUTES - n_drawn, 0)]
            add[take - len(drawn)] = True
            n_drawn += len(take)
            drawn = np.concatenate([drawn, add])
        sel = drawn[pid]
        n_rows += int(sel.sum())
        times = np.union1d(times, batch.column("time_s").to_numpy(zero_copy_only=False)[sel])
    n_routes = rf.n_pairs
    if mode is not None:
        names = np.asarray(rf.modes.names + [""], dtype=object)
        n_routes = int((names[np.asarray(rf.pair_mode, dtype=np.int64)] == mode).sum())
    if n_rows > MAX_ROUTE_ROWS:
        times = times[::math.ceil(n_rows / MAX_ROUTE_ROWS)]
    schema = pq.read_schema(routes_file)
    target = pa.schema([schema.field(c) for c in cols])
    parts = []
    for pid, batch in rf.batches(cols):
        sel = drawn[pid] & np.isin(batch.column("time_s").to_numpy(zero_copy_only=False), times)
        rows = np.flatnonzero(sel)
        if len(rows):
            parts.append(pa.Table.from_batches([batch.select(cols).take(pa.array(rows))])
                         .cast(target))
    table = pa.concat_tables(parts) if parts else target.empty_table()
    return table, n_routes


def write_czml(scenario, out_dir: str | Path, *, sample_s: float | None = None,
               mode: str | None = None, terminal_links: bool = True) -> Path:
    """Write ``scene.czml`` and ``viewer.json`` for ``scenario`` into its run folder.

    Parameters
    ----------
    scenario : leosim.scenario.build.Scenario
        The scenario that was run.
    out_dir : str or Path
        The run's output folder; paths and RTTs come from its ``routes.parquet`` (without one,
        the scene has satellites, sites and threats only).
    sample_s : float, optional
        Seconds between satellite position samples (default :func:`default_sample_s`: 60 s for
        runs up to about 2.5 h of a 2,000-satellite fleet, keeping the file to a few MB).
    mode : str, optional
        Draw only the routes of this mode (``"laser"`` or ``"bent_pipe"``); default all.
    terminal_links : bool, optional
        Draw the ground links of terminals (sampled every ``sample_s``).

    Returns
    -------
    Path
        The ``scene.czml`` written (atomically).
    """
    out = Path(out_dir)
    net = scenario.network
    if sample_s is None:
        sample_s = default_sample_s(scenario.times.duration_s, net.constellation.n_sats)
    if not sample_s > 0:
        raise InputError(f"sample_s must be > 0, got {sample_s}")
    if mode is not None and mode not in ("laser", "bent_pipe"):
        raise InputError(f"mode must be 'laser' or 'bent_pipe', got {mode!r}")
    scene = _Scene(scenario, sample_s)
    scene.document()
    pos = scene.satellites()
    scene.sites()
    scene.jammers(pos)
    if terminal_links:
        scene.terminal_links(pos)
    routes_file = out / "routes.parquet"
    pairs: list[dict] = []
    if routes_file.is_file():
        drawn, n_routes = _drawn_rows(routes_file, mode)
        pairs = scene.routes(drawn, mode, n_routes)
    g = net.ground
    term = g.kinds == "terminal"
    focus = term if term.any() else np.ones(len(g), dtype=bool)
    meta = {
        "scenario": scenario.name,
        "epoch": iso(scene.epoch, 0.0),
        "end": iso(scene.epoch, scene.end_s),
        "satellites": scene.n,
        "sites": len(g),
        "sample_s": scene.sample_s,
        "home": {"lat_deg": float(np.mean(g.lat_deg[focus])) if len(g) else 0.0,
                 "lon_deg": float(np.mean(g.lon_deg[focus])) if len(g) else 0.0},
        "pairs": [p for p in pairs if "index" in p],
        "omitted_pairs": sum(p.get("omitted", 0) for p in pairs),
    }
    path = out / SCENE
    atomic_write_text(path, json.dumps(scene.packets, separators=(",", ":"),
                                       ensure_ascii=False, allow_nan=False))
    atomic_write_json(out / PAIRS_JSON, meta)
    return path
