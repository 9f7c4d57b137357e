"""Convert Natural Earth 1:110m land (TopoJSON from npm ``world-atlas``) to leosim's coastline file.

The npm package ``world-atlas`` (2.0.2, ISC licence for the packaging; the geometry is Natural
Earth 4.1.0, public domain) ships ``land-110m.json``: a quantised, delta-encoded TopoJSON topology
with one MultiPolygon ``land``. This script decodes its arcs, assembles every polygon ring and
writes ``src/leosim/data/ne_110m_land.json``::

    {"source": "...", "rings": [[[lon, lat], ...], ...]}

Each ring is closed (first point = last point), outer rings and holes alike (at 1:110m the only
holes are large lakes), longitudes in [-180, 180], latitudes in [-90, 90], rounded to 0.01 deg
(~1 km; the source's quantisation step is 0.0036 x 0.0017 deg). leosim reads the file at run time
(:mod:`leosim.report.maps`); nothing is downloaded then.

Usage::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python tools/make_coastlines.py /tmp/package/land-110m.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

_OUT = Path(__file__).resolve().parents[1] / "src" / "leosim" / "data" / "ne_110m_land.json"


def decode_arcs(topo: dict) -> list[np.ndarray]:
    """Absolute (lon, lat) coordinates of every arc of a quantised TopoJSON topology."""
    scale = np.asarray(topo["transform"]["scale"], dtype=float)
    translate = np.asarray(topo["transform"]["translate"], dtype=float)
    return [np.cumsum(np.asarray(a, dtype=float), axis=0) * scale + translate
            for a in topo["arcs"]]


def ring_coords(ring: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    """Join the arcs of one ring; a negative index ``~i`` is arc ``i`` reversed."""
    parts = []
    for k, i in enumerate(ring):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if k == 0 else a[1:])  # consecutive arcs share their end point
    return np.concatenate(parts)


def land_rings(topo: dict, name: str = "land") -> list[np.ndarray]:
    """Every ring of every polygon of object ``name``."""
    arcs = decode_arcs(topo)
    rings = []
    for geom in topo["objects"][name]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            rings.extend(ring_coords(r, arcs) for r in poly)
    return rings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("topojson", type=Path, help="world-atlas land-110m.json")
    ap.add_argument("-o", "--output", type=Path, default=_OUT)
    args = ap.parse_args()
    raw = args.topojson.read_bytes()
    rings = land_rings(json.loads(raw))
    out_rings = []
    for r in rings:
        r = np.round(r, 2)
        r[:, 0] = r[:, 0].clip(-180, 180)
        r[:, 1] = r[:, 1].clip(-90, 90)
        keep = np.ones(len(r), dtype=bool)
        keep[1:] = np.any(r[1:] != r[:-1], axis=1)  # drop repeats created by rounding
        r = r[keep]
        if len(r) >= 4:
            out_rings.append([[float(x), float(y)] for x, y in r])
    doc = {
        "source": "Natural Earth 4.1.0 1:110m land (public domain), via npm world-atlas 2.0.2 "
                  f"land-110m.json (sha256 {hashlib.sha256(raw).hexdigest()}); "
                  "converted by tools/make_coastlines.py",
        "rings": out_rings,
    }
    text = json.dumps(doc, separators=(",", ":"))
    args.output.write_text(text + "\n", encoding="utf-8")
    n = sum(len(r) for r in out_rings)
    print(f"wrote {args.output} ({len(out_rings)} rings, {n} points, {len(text) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
