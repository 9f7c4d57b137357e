"""Maps: drawing on plain matplotlib axes (land from bundled Natural Earth data, circles,
extents) and the report's map figures (:func:`site_map`, :func:`coverage_map`,
:func:`capacity_map`).

Maps use the equirectangular (plate carrée) projection: x is longitude and y latitude, in
degrees. The land outlines come from ``leosim/data/ne_110m_land.json`` (Natural Earth 1:110m,
public domain; see ``src/leosim/data/README.md``), read from the package; nothing is downloaded.

Shapes that cross the antimeridian are drawn with continuous (unwrapped) longitudes, once more
shifted by 360 deg either way, and clipped by the axes limits.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from importlib import resources

import attrs
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from leosim.constants import R_EARTH_MEAN_KM
from leosim.ground.geodesy import coverage_radius_km, great_circle_km
from leosim.report.style import (
    KIND_STYLE,
    THREAT_COLORS,
    _empty,
    _figure,
    _mode_label,
    mode_color,
)

__all__ = [
    "LAND_FILE",
    "Snapshot",
    "ThreatShape",
    "capacity_map",
    "coverage_map",
    "site_map",
    "snapshot",
    "served_share",
    "threat_shapes",
    "add_circles",
    "add_land",
    "add_shape",
    "auto_extent",
    "circle_lonlat",
    "fit_aspect",
    "land_rings",
    "set_map_extent",
    "unwrap_ring",
]

#: Bundled land outlines: ``{"source": str, "rings": [[[lon, lat], ...], ...]}``.
LAND_FILE = "ne_110m_land.json"
#: Mean Earth radius for circles on the map, km.
_EARTH_R_KM = R_EARTH_MEAN_KM

LAND_FACE = "#ece6d8"
LAND_EDGE = "#9a927f"
SEA = "#f4f8fb"


@functools.lru_cache(maxsize=1)
def land_rings() -> tuple[np.ndarray, ...]:
    """The bundled Natural Earth 1:110m land rings, each an ``(n, 2)`` array of (lon, lat).

    Returns
    -------
    tuple of ndarray
        Closed rings (outer boundaries and lakes) in degrees, as stored (longitudes in
        [-180, 180]).

    Examples
    --------
    >>> rings = land_rings()
    >>> len(rings) > 100, rings[0].shape[1]
    (True, 2)
    """
    text = (resources.files("leosim.data") / LAND_FILE).read_text(encoding="utf-8")
    return tuple(np.asarray(r, dtype=float) for r in json.loads(text)["rings"])


def unwrap_ring(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """A ring as an ``(n, 2)`` polygon with continuous longitudes, closed over a pole if needed.

    Parameters
    ----------
    lon_deg, lat_deg : ndarray
        Vertices, degrees; consecutive vertices less than 180 deg of longitude apart.

    Returns
    -------
    ndarray
        Vertices with longitude jumps of more than 180 deg removed (so they may leave
        [-180, 180]). A ring that winds once around a pole (Antarctica, a large circle around a
        polar site) gets two extra vertices at latitude +-90 so that it fills the polar cap.

    Examples
    --------
    >>> unwrap_ring(np.array([170.0, -170.0, -170.0, 170.0]),
    ...             np.array([0.0, 0.0, 10.0, 10.0]))[:, 0].tolist()
    [170.0, 190.0, 190.0, 170.0]
    """
    lon = np.rad2deg(np.unwrap(np.deg2rad(np.asarray(lon_deg, dtype=float))))
    lat = np.asarray(lat_deg, dtype=float)
    xy = np.column_stack([lon, lat])
    if abs(lon[-1] - lon[0]) > 180.0:  # winds around a pole
        pole = 90.0 if np.nanmean(lat) > 0 else -90.0
        xy = np.vstack([xy, [[lon[-1], pole], [lon[0], pole]]])
    return xy


def _copies(xy: np.ndarray) -> list[np.ndarray]:
    """``xy`` plus the copies shifted by +-360 deg that may show on a [-180, 180] map."""
    out = [xy]
    if xy[:, 0].min() < -180.0:
        out.append(xy + [360.0, 0.0])
    if xy[:, 0].max() > 180.0:
        out.append(xy - [360.0, 0.0])
    return out


@functools.lru_cache(maxsize=1)
def _land_polygons() -> tuple[np.ndarray, ...]:
    polys = []
    for r in land_rings():
        polys.extend(_copies(unwrap_ring(r[:, 0], r[:, 1])))
    return tuple(polys)


@functools.lru_cache(maxsize=1)
def _land_boxes() -> np.ndarray:
    return np.array([[p[:, 0].min(), p[:, 0].max(), p[:, 1].min(), p[:, 1].max()]
                     for p in _land_polygons()])


def add_land(ax: Axes, extent: tuple[float, float, float, float] | None = None, *,
             facecolor: str = LAND_FACE, edgecolor: str = LAND_EDGE,
             linewidth: float = 0.5, zorder: float = 0.5) -> PolyCollection:
    """Draw the land (filled, with coastlines) on a lon/lat axes.

    Parameters
    ----------
    ax : Axes
    extent : (lon_min, lon_max, lat_min, lat_max), optional
        Only land that may show in this box is drawn (smaller SVG files).

    Notes
    -----
    Lakes are stored as rings of their own and drawn filled like land (at 1:110m only the
    largest lakes exist; they show as outlines).
    """
    ax.set_facecolor(SEA)
    polys = _land_polygons()
    if extent is not None:
        b = _land_boxes()
        x0, x1, y0, y1 = extent
        keep = (b[:, 1] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 2] <= y1)
        polys = [p for p, k in zip(polys, keep, strict=True) if k]
    coll = PolyCollection(list(polys), facecolors=facecolor, edgecolors=edgecolor,
                          linewidths=linewidth, zorder=zorder)
    ax.add_collection(coll, autolim=False)
    return coll


def circle_lonlat(lat_deg, lon_deg, radius_km, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    """Points of great-circle (geodesic on a sphere) circles around centres.

    Parameters
    ----------
    lat_deg, lon_deg : float or array_like
        Centres, degrees (broadcast together with ``radius_km``).
    radius_km : float or array_like
        Radii along the ground, km.
    n : int, optional
        Vertices per circle (the first equals the last).

    Returns
    -------
    lon_deg, lat_deg : ndarray, shape ``(..., n)``
        Longitudes in [-180, 180) and latitudes, degrees.

    Examples
    --------
    >>> lon, lat = circle_lonlat(0.0, 0.0, 111.195, n=5)
    >>> np.round(lat, 3).tolist()
    [1.0, 0.0, -1.0, -0.0, 1.0]
    >>> circle_lonlat([0.0, 10.0], [0.0, 20.0], 500.0, n=7)[0].shape
    (2, 7)
    """
    phi1 = np.deg2rad(np.asarray(lat_deg, dtype=float))[..., None]
    lam1 = np.deg2rad(np.asarray(lon_deg, dtype=float))[..., None]
    d = (np.asarray(radius_km, dtype=float) / _EARTH_R_KM)[..., None]
    az = np.linspace(0.0, 2 * np.pi, n)
    phi2 = np.arcsin(np.sin(phi1) * np.cos(d) + np.cos(phi1) * np.sin(d) * np.cos(az))
    lam2 = lam1 + np.arctan2(np.sin(az) * np.sin(d) * np.cos(phi1),
                             np.cos(d) - np.sin(phi1) * np.sin(phi2))
    lon = (np.rad2deg(lam2) + 180.0) % 360.0 - 180.0
    return lon, np.rad2deg(phi2)


def add_circles(ax: Axes, lat_deg, lon_deg, radius_km, *, n: int = 121,
                **kw) -> LineCollection:
    """Outline many ground circles at once (one :class:`LineCollection`), across the antimeridian.

    Parameters
    ----------
    ax : Axes
    lat_deg, lon_deg, radius_km : array_like
        Centres (degrees) and radii (km), broadcast together.
    n : int, optional
        Vertices per circle.
    **kw
        Passed to :class:`~matplotlib.collections.LineCollection` (``colors``, ``linewidths``,
        ``linestyles``, ``alpha``, ``zorder`` ...).
    """
    lon, lat = circle_lonlat(lat_deg, lon_deg, radius_km, n=n)
    lon = np.rad2deg(np.unwrap(np.deg2rad(lon.reshape(-1, n)), axis=1))
    lat = lat.reshape(-1, n)
    segs = []
    for x, y in zip(lon, lat, strict=True):
        segs.extend(_copies(np.column_stack([x, y])))
    coll = LineCollection(segs, **kw)
    ax.add_collection(coll, autolim=False)
    return coll


def add_shape(ax: Axes, lon_deg: np.ndarray, lat_deg: np.ndarray, *, fill: bool = True,
              **kw) -> list:
    """Draw a closed lon/lat ring (a threat region, a coverage circle) across the antimeridian.

    Parameters
    ----------
    ax : Axes
    lon_deg, lat_deg : ndarray
        Ring vertices, degrees.
    fill : bool, optional
        A filled patch (``Polygon``) or only its outline.
    **kw
        Passed to :class:`matplotlib.patches.Polygon` (``facecolor``, ``edgecolor``, ``alpha``,
        ``linestyle``, ``label`` ...); the label is set on the first copy only.

    Returns
    -------
    list of matplotlib.patches.Polygon
    """
    from matplotlib.patches import Polygon

    xy = unwrap_ring(lon_deg, lat_deg)
    patches = []
    for i, part in enumerate(_copies(xy)):
        p = Polygon(part, closed=True, fill=fill, **(kw if i == 0 else
                                                     {k: v for k, v in kw.items()
                                                      if k != "label"}))
        ax.add_patch(p)
        patches.append(p)
    return patches


def auto_extent(lon_deg: np.ndarray, lat_deg: np.ndarray, *, pad_frac: float = 0.12,
                min_span_deg: float = 12.0,
                world_above_deg: float = 200.0) -> tuple[float, float, float, float]:
    """A lon/lat box around points, padded; the whole world when they spread too widely.

    Parameters
    ----------
    lon_deg, lat_deg : ndarray
        Points to show, degrees.
    pad_frac : float, optional
        Margin on each side, as a share of the span.
    min_span_deg : float, optional
        Smallest latitude span shown (longitude span is at least 1.5 x this).
    world_above_deg : float, optional
        Show the whole world when the points span more longitude than this.

    Returns
    -------
    (lon_min, lon_max, lat_min, lat_max)

    Examples
    --------
    >>> auto_extent(np.array([30.0, 40.0]), np.array([45.0, 50.0]))
    (26.0, 44.0, 41.5, 53.5)
    >>> auto_extent(np.array([-120.0, 150.0]), np.array([0.0, 10.0]))
    (-180.0, 180.0, -90.0, 90.0)
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if not len(lon) or np.ptp(lon) > world_above_deg:
        return (-180.0, 180.0, -90.0, 90.0)
    spans = []
    for v, lo_lim, hi_lim, min_span in ((lon, -180.0, 180.0, 1.5 * min_span_deg),
                                        (lat, -90.0, 90.0, min_span_deg)):
        lo, hi = float(v.min()), float(v.max())
        pad = max(pad_frac * (hi - lo), (min_span - (hi - lo)) / 2, 0.0)
        lo, hi = max(lo - pad, lo_lim), min(hi + pad, hi_lim)
        spans += [round(float(lo), 6), round(float(hi), 6)]
    return tuple(spans)


def fit_aspect(extent: tuple[float, float, float, float],
               ratio: float) -> tuple[float, float, float, float]:
    """Widen a lon/lat box (about its centre) so that its map is ``ratio`` times wider than tall.

    Distances are equal at the middle latitude, as :func:`set_map_extent` draws it; the box
    only grows, and stays within the world.

    Examples
    --------
    >>> fit_aspect((30.0, 40.0, -5.0, 5.0), 2.0)
    (25.0, 45.0, -5.0, 5.0)
    """
    lon0, lon1, lat0, lat1 = extent
    k = max(np.cos(np.deg2rad(0.5 * (lat0 + lat1))), 0.2)
    w = (lon1 - lon0) * k
    h = lat1 - lat0
    if w < ratio * h:
        half = 0.5 * ratio * h / k
        mid = 0.5 * (lon0 + lon1)
        lon0, lon1 = mid - half, mid + half
    else:
        half = 0.5 * w / ratio
        mid = 0.5 * (lat0 + lat1)
        lat0, lat1 = mid - half, mid + half
    if lon1 - lon0 >= 360.0:
        lon0, lon1 = -180.0, 180.0
    elif lon0 < -180.0:
        lon0, lon1 = -180.0, lon1 + (-180.0 - lon0)
    elif lon1 > 180.0:
        lon0, lon1 = lon0 - (lon1 - 180.0), 180.0
    lat0, lat1 = max(lat0, -90.0), min(lat1, 90.0)
    return tuple(round(float(v), 6) for v in (lon0, lon1, lat0, lat1))


def _deg_label(axis: str):
    def fmt(v: float, _pos: int) -> str:
        v = (v + 180.0) % 360.0 - 180.0 if axis == "lon" else v
        if abs(v) < 1e-9:
            return "0°"
        hemi = ("E", "W") if axis == "lon" else ("N", "S")
        return f"{abs(v):g}°{hemi[0] if v > 0 else hemi[1]}"
    return FuncFormatter(fmt)


def set_map_extent(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """Limits, aspect (equal distances at the middle latitude), grid and degree tick labels."""
    lon0, lon1, lat0, lat1 = extent
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    mid = np.deg2rad(0.5 * (lat0 + lat1))
    world = (lon1 - lon0) >= 300.0
    ax.set_aspect(1.0 if world else 1.0 / max(np.cos(mid), 0.2))
    ax.xaxis.set_major_formatter(_deg_label("lon"))
    ax.yaxis.set_major_formatter(_deg_label("lat"))
    if world:
        ax.set_xticks(np.arange(-180, 181, 60))
        ax.set_yticks(np.arange(-90, 91, 30))
    ax.grid(True, color="#c9d3dc", linewidth=0.4, linestyle=":")
    ax.tick_params(labelsize=8)


# ---------------------------------------------------------------------------------------------
# The report's map figures


@attrs.frozen
class ThreatShape:
    """Where a threat acts, for maps.

    Attributes
    ----------
    name, type : str
    circle : (lat_deg, lon_deg, radius_km) or None
    polygon : tuple of (lat_deg, lon_deg) or None
    point : (lat_deg, lon_deg) or None
        A jammer's position.
    """

    name: str
    type: str
    circle: tuple[float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    point: tuple[float, float] | None = None


def threat_shapes(specs: Iterable) -> list[ThreatShape]:
    """Map shapes of threat specifications (``scenario.model.threats``).

    Destroy and satellite-loss ``region`` circles, destroy ``polygon``\\ s and jammer positions;
    threats without a place (named sites, fractions) give nothing.

    Parameters
    ----------
    specs : iterable
        Pydantic threat specs (or objects with the same attributes).

    Returns
    -------
    list of ThreatShape
    """
    out = []
    for i, s in enumerate(specs):
        kind = str(getattr(s, "type", "?"))
        name = getattr(s, "name", None) or f"threat {i} ({kind})"
        region = getattr(s, "region", None)
        poly = getattr(s, "polygon", None)
        circle = None if region is None else (float(region.lat_deg), float(region.lon_deg),
                                              float(region.radius_km))
        polygon = None if not poly else tuple((float(a), float(b)) for a, b in poly)
        point = (float(s.lat_deg), float(s.lon_deg)) if kind == "jam" else None
        if circle or polygon or point:
            out.append(ThreatShape(name, kind, circle, polygon, point))
    return out


def _map_ratio(extent: tuple[float, float, float, float]) -> float:
    """Width / height of a lon/lat box as :func:`~leosim.report.maps.set_map_extent` draws it."""
    lon0, lon1, lat0, lat1 = extent
    if lon1 - lon0 >= 300.0:
        return (lon1 - lon0) / (lat1 - lat0)
    return (lon1 - lon0) * max(np.cos(np.deg2rad(0.5 * (lat0 + lat1))), 0.2) / (lat1 - lat0)


def _shape_points(th: ThreatShape) -> list[tuple[float, float]]:
    """(lon, lat) points outlining a threat shape, for map extents."""
    pts = []
    if th.circle is not None:
        lon, lat = circle_lonlat(*th.circle, n=37)
        pts += list(zip(lon, lat, strict=True))
    if th.polygon is not None:
        pts += [(b, a) for a, b in th.polygon]
    if th.point is not None:
        pts.append((th.point[1], th.point[0]))
    return pts


def _draw_threats(ax, shapes: Sequence[ThreatShape], handles: dict) -> None:
    """Draw threat shapes (circles and polygons filled, jammers as stars)."""
    for i, th in enumerate(shapes):
        color = THREAT_COLORS[i % len(THREAT_COLORS)]
        label = f"{th.name} ({th.type.replace('_', ' ')})"
        if th.circle is not None:
            lon, lat = circle_lonlat(*th.circle)
            add_shape(ax, lon, lat, facecolor=color, edgecolor=color, alpha=0.18, lw=1.2,
                      zorder=2)
            add_shape(ax, lon, lat, fill=False, edgecolor=color, lw=1.2, zorder=2)
        if th.polygon is not None:
            v = np.asarray(th.polygon)
            add_shape(ax, v[:, 1], v[:, 0], facecolor=color, alpha=0.16, lw=0, zorder=2)
            add_shape(ax, v[:, 1], v[:, 0], fill=False, edgecolor=color, lw=1.4, ls="--",
                      zorder=2)
        if th.point is not None:
            ax.scatter([th.point[1]], [th.point[0]], marker="*", s=170, color=color,
                       edgecolor="black", lw=0.6, zorder=6)
            handles[label] = Line2D([], [], marker="*", color=color, markeredgecolor="black",
                                    ls="", markersize=12)
        else:
            handles[label] = Patch(facecolor=color, alpha=0.35, edgecolor=color)


def _draw_sites(ax, sites: pd.DataFrame, handles: dict, *, label_max: int = 30,
                extent=None) -> list[tuple[float, float, str, bool]]:
    """Draw site markers; return the labels to place: (lon, lat, name, is_terminal).

    Terminals inside ``extent`` are always labelled, other sites when at most ``label_max``
    of them are inside.
    """
    kinds = sites["kind"].astype(str).to_numpy()
    lon = sites["lon_deg"].to_numpy(dtype=float)
    lat = sites["lat_deg"].to_numpy(dtype=float)
    names = sites["name"].astype(str).to_numpy()
    for kind, (marker, color, size, label) in KIND_STYLE.items():
        m = kinds == kind
        if not m.any():
            continue
        ax.scatter(lon[m], lat[m], marker=marker, s=size, color=color, edgecolor="white",
                   lw=0.6, zorder=5 if kind == "terminal" else 4)
        handles[f"{label} ({int(m.sum())})"] = Line2D(
            [], [], marker=marker, color=color, ls="", markersize=7)
    inside = np.ones(len(sites), dtype=bool)
    if extent is not None:
        inside = ((lon >= extent[0]) & (lon <= extent[1]) & (lat >= extent[2])
                  & (lat <= extent[3]))
    term = kinds == "terminal"
    labelled = term & inside
    if (~term & inside).sum() <= label_max:
        labelled |= ~term & inside
    order = np.flatnonzero(labelled)
    order = order[np.argsort(~term[order], kind="stable")]  # terminals first
    return [(float(lon[i]), float(lat[i]), str(names[i]), bool(term[i])) for i in order]


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(ax, labels: Sequence[tuple[float, float, str, bool]]) -> None:
    """Annotate sites, moving each label around its point to avoid the labels already placed.

    Runs after the figure's layout is final (text sizes are estimated, not measured). A label
    that fits nowhere is left out, except a terminal's when there are at most 12 terminals.
    """
    if not labels:
        return
    keep_terminals = sum(1 for lab in labels if lab[3]) <= 12
    fig = ax.figure
    fig.draw_without_rendering()
    to_pt = 72.0 / fig.dpi
    placed: list[tuple] = []
    for x, y, name, is_t in labels:
        px, py = ax.transData.transform((x, y)) * to_pt
        fs = 8.0 if is_t else 6.5
        w, h = (0.64 if is_t else 0.58) * fs * len(name), 1.15 * fs  # bold is wider
        choice = None
        for dx, dy in ((4, 1), (4, -h - 1), (-4 - w, 1), (-4 - w, -h - 1), (4, h + 2),
                       (4, -2 * h - 2), (-w / 2, 5), (-w / 2, -h - 5)):
            box = (px + dx, py + dy, px + dx + w, py + dy + h)
            if not any(_overlaps(box, b) for b in placed):
                choice = (dx, dy, box)
                break
        if choice is None:
            if not (is_t and keep_terminals):
                continue
            choice = (4, 1, (px + 4, py + 1, px + 4 + w, py + 1 + h))
        dx, dy, box = choice
        placed.append(box)
        ann = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                          ha="left", va="bottom", fontsize=fs,
                          color="#111" if is_t else "#2d3e50",
                          weight="bold" if is_t else "normal", zorder=7, clip_on=True)
        ann.set_in_layout(False)


def site_map(sites: pd.DataFrame, *, threats: Sequence[ThreatShape] = (),
             report: pd.DataFrame | None = None, extent=None, title: str | None = None) -> Figure:
    """Map of the ground sites (terminals, gateways, PoPs) and the threat regions.

    Parameters
    ----------
    sites : DataFrame
        ``sites.parquet`` (``name, kind, lat_deg, lon_deg``).
    threats : sequence of ThreatShape, optional
        Destroyed regions (circles, polygons), jammer positions (:func:`threat_shapes`).
    report : DataFrame, optional
        ``report.csv``: a line from each terminal to its main gateway, per mode.
    extent : (lon_min, lon_max, lat_min, lat_max), optional
        Default: around the sites and threats (the whole world if they spread widely).
    title : str, optional

    Returns
    -------
    Figure
    """
    shapes = list(threats)
    pts = [(lo, la) for th in shapes for lo, la in _shape_points(th)]
    lon = np.concatenate([sites["lon_deg"].to_numpy(dtype=float), [p[0] for p in pts]])
    lat = np.concatenate([sites["lat_deg"].to_numpy(dtype=float), [p[1] for p in pts]])
    extent = extent or fit_aspect(auto_extent(lon, lat), 1.75)
    n_legend = len(shapes) + 3 + (0 if report is None else 2)
    fig = _figure(10, 9.2 / _map_ratio(extent) + 0.7 + 0.2 * np.ceil(n_legend / 3))
    ax = fig.subplots()
    handles: dict = {}
    _draw_threats(ax, shapes, handles)
    add_land(ax, extent)
    if report is not None and "gateway_main" in report.columns and len(sites):
        pos = pd.DataFrame({"lon": sites["lon_deg"].to_numpy(dtype=float),
                            "lat": sites["lat_deg"].to_numpy(dtype=float)},
                           index=sites["name"].astype(str).to_numpy())
        pos = pos[~pos.index.duplicated()]
        r = report[report["gateway_main"].notna()]
        r = r[r["gateway_main"].astype(str).isin(pos.index)
              & r["src"].astype(str).isin(pos.index)]
        modes = list(dict.fromkeys(r["mode"].astype(str)))
        for k, mode in enumerate(modes):
            rm = r[r["mode"].astype(str) == mode].drop_duplicates(["src", "gateway_main"])
            a = pos.loc[rm["src"].astype(str)].to_numpy()
            b = pos.loc[rm["gateway_main"].astype(str)].to_numpy()
            off = (k - (len(modes) - 1) / 2) * 0.15
            for (x0, y0), (x1, y1) in zip(a, b, strict=True):
                ax.plot([x0, x1], [y0 + off, y1 + off], color=mode_color(mode), lw=1.3,
                        ls=(0, (4, 2)), zorder=3, alpha=0.9)
            handles[f"main gateway, {_mode_label(mode)}"] = Line2D(
                [], [], color=mode_color(mode), ls=(0, (4, 2)))
    labels = _draw_sites(ax, sites, handles, extent=extent)
    set_map_extent(ax, extent)
    ax.set_title(title or "Ground sites and threat regions", fontsize=11, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 3), fontsize=8, frameon=False)
    _place_labels(ax, labels)
    return fig


@attrs.frozen(eq=False)
class Snapshot:
    """Satellites and coverage at one time, for :func:`coverage_map`.

    Attributes
    ----------
    time_s : float
        Seconds after the epoch.
    epoch : datetime or None
    sat_lat_deg, sat_lon_deg : ndarray (N,)
        Geocentric subpoints (NaN where a satellite failed to propagate).
    sat_group : ndarray of int (N,)
        Index into ``groups`` (a shell, or one group for all).
    groups : tuple of str
        Shell names.
    altitude_km : ndarray (G,)
        Median altitude per group.
    coverage_km : ndarray (S, G)
        Ground radius of each site's coverage circle per group (NaN: no antenna).
    on_route : ndarray of int
        Satellites on a route's path at ``time_s``.
    tracks : tuple of (lon ndarray, lat ndarray)
        Ground tracks of the ``on_route`` satellites around ``time_s``.
    """

    time_s: float
    epoch: datetime | None
    sat_lat_deg: np.ndarray
    sat_lon_deg: np.ndarray
    sat_group: np.ndarray
    groups: tuple[str, ...]
    altitude_km: np.ndarray
    coverage_km: np.ndarray
    on_route: np.ndarray = attrs.field(factory=lambda: np.zeros(0, np.int64))
    tracks: tuple = ()


def _range_radius_km(alt_km: np.ndarray, range_km: np.ndarray, r_km: float) -> np.ndarray:
    """Ground radius within which a satellite at ``alt_km`` is closer than ``range_km``."""
    a = r_km + alt_km
    cos_t = (r_km**2 + a**2 - range_km**2) / (2 * r_km * a)
    with np.errstate(invalid="ignore"):
        horizon = np.arccos(r_km / a)
        theta = np.where(cos_t >= 1, 0.0, np.arccos(np.clip(cos_t, -1, 1)))
    return r_km * np.minimum(theta, horizon)


def snapshot(scenario, time_s: float | None = None, *, on_route: Sequence[int] = (),
             track_s: float = 900.0, track_points: int = 61) -> Snapshot:
    """Sub-satellite points and coverage circles of a scenario at one time.

    Parameters
    ----------
    scenario : leosim.scenario.build.Scenario
    time_s : float, optional
        Seconds after the epoch; default the middle of the run.
    on_route : sequence of int, optional
        Node ids of satellites on a path at ``time_s`` (highlighted, with ground tracks).
    track_s : float, optional
        Ground tracks cover ``time_s +- track_s / 2``.
    track_points : int, optional
        Points per ground track.

    Returns
    -------
    Snapshot
    """
    from leosim.threats.regions import subpoints_deg

    net = scenario.network
    c = net.constellation
    times = scenario.times
    if time_s is None:
        time_s = 0.5 * float(times.duration_s)
        if getattr(times, "step_s", None):
            time_s = float(np.floor(time_s / times.step_s) * times.step_s)
    ecef = c.propagate(float(time_s)).ecef_km
    lat, lon = subpoints_deg(ecef)
    r_km = R_EARTH_MEAN_KM
    alt = np.linalg.norm(ecef, axis=-1) - r_km
    shell = np.asarray(c.shell)
    if (shell >= 0).all() and len(shell):
        sat_group = shell.astype(np.int64)
        names = [getattr(s, "name", None) for s in getattr(c, "shells", ())]
        n_groups = int(sat_group.max()) + 1
        groups = tuple((names[i] if i < len(names) and names[i] else f"shell {i}")
                       for i in range(n_groups))
    else:
        sat_group = np.zeros(c.n_sats, dtype=np.int64)
        groups = ("all satellites",)
    alt_g = np.array([np.nanmedian(alt[sat_group == g]) if (sat_group == g).any() else np.nan
                      for g in range(len(groups))])
    kinds = net.ground.kinds
    antenna = kinds != "pop"
    if net.rules.gsl_rule == "distance":
        rng = net.site_max_range_km
        cov = _range_radius_km(alt_g[None, :], rng[:, None], r_km)
    else:
        el = net.site_min_elevation_deg
        cov = coverage_radius_km(alt_g[None, :], el[:, None], r_km)
    cov = np.where(antenna[:, None], cov, np.nan)
    ids = np.unique(np.asarray(on_route, dtype=np.int64))
    ids = ids[(ids >= 0) & (ids < c.n_sats)]
    tracks: list = []
    if len(ids):
        tt = float(time_s) + np.linspace(-track_s / 2, track_s / 2, track_points)
        pos = c.propagate(tt).ecef_km[:, ids]  # (T, k, 3)
        tlat, tlon = subpoints_deg(pos)
        tracks = [(tlon[:, j], tlat[:, j]) for j in range(len(ids))]
    return Snapshot(float(time_s), getattr(times, "epoch", None), lat, lon, sat_group,
                    groups, alt_g, cov, ids, tuple(tracks))


def _track_segments(lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
    """A ground track as (n, 2) pieces, cut where it jumps across the antimeridian."""
    jump = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
    return [np.column_stack(p) for p in zip(np.split(lon, jump), np.split(lat, jump),
                                            strict=True) if len(p[0]) > 1]


def coverage_map(snap: Snapshot, sites: pd.DataFrame, *, threats: Sequence[ThreatShape] = (),
                 zoom: bool = True) -> Figure:
    """Sub-satellite points, site coverage circles and ground tracks at one time.

    A satellite can serve a site when its subpoint lies inside the site's circle (for the
    satellite's shell altitude and the site's minimum elevation). The satellites on a route at
    that time are highlighted, with their ground tracks over the surrounding minutes.

    Parameters
    ----------
    snap : Snapshot
        From :func:`snapshot`.
    sites : DataFrame
        ``sites.parquet``, in the scenario's site order (as ``snap.coverage_km``).
    threats : sequence of ThreatShape, optional
    zoom : bool, optional
        Add a second panel around the terminals when they lie within a region.

    Returns
    -------
    Figure
    """
    kinds = sites["kind"].astype(str).to_numpy()
    slon = sites["lon_deg"].to_numpy(dtype=float)
    slat = sites["lat_deg"].to_numpy(dtype=float)
    term = kinds == "terminal"
    focus = term if term.any() else np.ones(len(sites), dtype=bool)
    region = None
    if zoom and focus.any():
        # Terminals plus their coverage circles, in a 2:1 box.
        r_deg = np.nanmax(snap.coverage_km[focus], initial=0.0) / 111.2
        box = auto_extent(slon[focus], slat[focus], min_span_deg=2.6 * r_deg, pad_frac=0.1)
        region = fit_aspect(box, 2.0)
        if region[1] - region[0] >= 300.0:
            region = None
    fig = _figure(10, 10.2 if region else 5.9)
    axes = (fig.subplots(2, 1, height_ratios=[1, 1]) if region else [fig.subplots()])
    handles: dict = {}
    group_ls = ["-", "--", ":", "-."]
    sat_colors = ["#4d4d4d", "#8c6bb1", "#41ab5d", "#fd8d3c"]
    in_view = np.zeros(len(snap.sat_lat_deg), dtype=bool)
    t_idx = np.flatnonzero(term)
    if len(t_idx):  # satellites inside some terminal's circle (terminals x satellites)
        d = great_circle_km(slat[t_idx, None], slon[t_idx, None], snap.sat_lat_deg[None, :],
                            snap.sat_lon_deg[None, :])
        r = snap.coverage_km[t_idx][:, snap.sat_group]
        in_view = (d <= r).any(axis=0)
    # One circle per distinct altitude: shells within 50 km share the lower shell's circle.
    drawn: list[int] = []
    for g in np.argsort(snap.altitude_km):
        if np.isfinite(snap.altitude_km[g]) and all(
                abs(snap.altitude_km[g] - snap.altitude_km[d]) > 50.0 for d in drawn):
            drawn.append(int(g))
    gw_circles = False
    labels = []
    for k, ax in enumerate(axes):
        ext = (-180.0, 180.0, -90.0, 90.0) if k == 0 else region
        add_land(ax, ext)
        _draw_threats(ax, threats, handles)
        for g, name in enumerate(snap.groups):
            m = snap.sat_group == g
            ax.scatter(snap.sat_lon_deg[m], snap.sat_lat_deg[m], s=2.0 if k == 0 else 7,
                       color=sat_colors[g % len(sat_colors)], lw=0, zorder=3, rasterized=True)
            handles.setdefault(
                f"satellite, {name} ({int(m.sum())}, median {snap.altitude_km[g]:.0f} km)",
                Line2D([], [], marker="o", color=sat_colors[g % len(sat_colors)], ls="",
                       markersize=4))
        # Terminals: a circle per distinct altitude. Gateways: the lowest shell's circle, only
        # where few enough to read (the zoomed panel shows those inside it).
        gw = np.flatnonzero(kinds == "gateway")
        if k == 0 and len(gw) > 30:
            gw = gw[:0]
        for j, g in enumerate(drawn):
            r = snap.coverage_km[:, g]
            t_idx = np.flatnonzero(term & np.isfinite(r))
            if len(t_idx):
                add_circles(ax, slat[t_idx], slon[t_idx], r[t_idx],
                            colors=KIND_STYLE["terminal"][1], linewidths=1.3,
                            linestyles=group_ls[j % len(group_ls)], zorder=4)
            g_idx = gw[np.isfinite(r[gw])] if j == 0 else gw[:0]
            if len(g_idx):
                add_circles(ax, slat[g_idx], slon[g_idx], r[g_idx],
                            colors=KIND_STYLE["gateway"][1], linewidths=0.6, alpha=0.4,
                            zorder=4)
                gw_circles = True
        if snap.tracks:  # one collection: a route through ~1,000 satellites draws fast
            ax.add_collection(LineCollection(
                [seg for lon, lat in snap.tracks for seg in _track_segments(lon, lat)],
                colors="#111111", linewidths=0.8, alpha=0.75, zorder=5))
        if in_view.any():
            ax.scatter(snap.sat_lon_deg[in_view], snap.sat_lat_deg[in_view],
                       s=14 if k else 5, color="#d62728", lw=0, zorder=5)
        if len(snap.on_route):
            ax.scatter(snap.sat_lon_deg[snap.on_route], snap.sat_lat_deg[snap.on_route],
                       s=34 if k else 14, facecolor="#ffd400", edgecolor="black", lw=0.7,
                       zorder=6)
        lab = _draw_sites(ax, sites, handles, label_max=0 if k == 0 else 30, extent=ext)
        if k == len(axes) - 1:
            labels = lab
        set_map_extent(ax, ext)
    handles["coverage circle of a terminal"] = Line2D([], [], color=KIND_STYLE["terminal"][1])
    if gw_circles:
        handles["coverage circle of a gateway (lowest shell)"] = Line2D(
            [], [], color=KIND_STYLE["gateway"][1], alpha=0.6)
    if len(drawn) > 1:
        for j, g in enumerate(drawn):
            handles[f"circle for {snap.altitude_km[g]:.0f} km ({snap.groups[g]})"] = Line2D(
                [], [], color="#555", ls=group_ls[j % len(group_ls)])
    if in_view.any():
        handles[f"in view of a terminal ({int(in_view.sum())})"] = Line2D(
            [], [], marker="o", color="#d62728", ls="", markersize=4)
    if len(snap.on_route):
        handles[f"on a route ({len(snap.on_route)}), with ground track"] = Line2D(
            [], [], marker="o", markerfacecolor="#ffd400", markeredgecolor="black",
            color="#111111", lw=0.8, markersize=6)
    when = f"t = {snap.time_s:g} s"
    if snap.epoch is not None:
        when += f" ({(snap.epoch + timedelta(seconds=snap.time_s)):%Y-%m-%d %H:%M:%S} UTC)"
    axes[0].set_title(f"Satellites and coverage at {when}", fontsize=11, loc="left")
    if region:
        axes[1].set_title("around the terminals", fontsize=10, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=2, fontsize=8, frameon=False)
    _place_labels(axes[-1], labels)
    return fig


# ---------------------------------------------------------------------------------------------
# Capacity: share of each terminal site's demand served


def served_share(pairs: pd.DataFrame, mode: str | None = None) -> pd.DataFrame:
    """Share of each terminal site's demand served, from ``summary.json["pairs"]``.

    Parameters
    ----------
    pairs : DataFrame
        Records of ``summary.json["pairs"]`` (``mode, src, offered_mean_mbps,
        unserved_share``).
    mode : str, optional
        Mode to use (default: the first with demand, in the table's order).

    Returns
    -------
    DataFrame
        Indexed by site name (``src``): ``offered_mbps`` (mean demand per terminal, Mbit/s)
        and ``served`` (``1 - unserved_share``; over several destinations of one site, weighted
        by their demand). Empty when no pair has demand. ``attrs["mode"]`` names the mode.

    Examples
    --------
    >>> p = pd.DataFrame({"mode": ["laser", "laser"], "src": ["A", "B"],
    ...                   "offered_mean_mbps": [10.0, np.nan], "unserved_share": [0.25, np.nan]})
    >>> served_share(p)["served"].to_dict()
    {'A': 0.75}
    """
    empty = pd.DataFrame({"offered_mbps": [], "served": []}, dtype=float)
    need = {"mode", "src", "offered_mean_mbps", "unserved_share"}
    if not need <= set(pairs.columns) or not len(pairs):
        empty.attrs["mode"] = mode
        return empty
    off = pd.to_numeric(pairs["offered_mean_mbps"], errors="coerce").to_numpy(dtype=float)
    uns = pd.to_numeric(pairs["unserved_share"], errors="coerce").to_numpy(dtype=float)
    modes = pairs["mode"].astype(str).to_numpy()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(off) & (off > 0) & np.isfinite(uns)
    if mode is None:
        mode = str(modes[ok][0]) if ok.any() else None
    ok &= modes == mode
    if not ok.any():
        empty.attrs["mode"] = mode
        return empty
    df = pd.DataFrame({"src": pairs["src"].astype(str).to_numpy()[ok], "off": off[ok],
                       "unserved": off[ok] * uns[ok]})
    g = df.groupby("src", sort=False)[["off", "unserved"]].sum()
    out = pd.DataFrame({"offered_mbps": df.groupby("src", sort=False)["off"].mean(),
                        "served": 1.0 - g["unserved"] / g["off"]})
    out.index.name = None
    out.attrs["mode"] = mode
    return out


def capacity_map(sites: pd.DataFrame, pairs: pd.DataFrame, *, mode: str | None = None,
                 gateway_use: dict | None = None, extent=None,
                 title: str | None = None) -> Figure:
    """Terminal sites coloured by the share of their demand served, on the land map.

    Parameters
    ----------
    sites : DataFrame
        ``sites.parquet`` (``name, kind, lat_deg, lon_deg``).
    pairs : DataFrame
        Records of ``summary.json["pairs"]`` (see :func:`served_share`).
    mode : str, optional
        Mode shown (default: the first with demand).
    gateway_use : dict, optional
        ``summary.json["capacity"]["per_mode"][mode]["gateway_utilisation"]``: ``{gateway:
        {"mean": ..., "max": ...}}``. Gateways in it are kept in view and labelled with their
        mean utilisation.
    extent : (lon_min, lon_max, lat_min, lat_max), optional
        Default: around the terminal sites with demand and the gateways of ``gateway_use``.
    title : str, optional

    Returns
    -------
    Figure
        One marker per terminal site with demand (H3 cells: at the cell's centre), colour:
        share of its demand served (mean over the run's steps, ``1 - unserved_share``), area:
        mean demand per terminal; gateways as triangles; a colour bar.
    """
    share = served_share(pairs, mode)
    mode = share.attrs.get("mode")
    pos = sites.assign(name=sites["name"].astype(str)).drop_duplicates("name").set_index("name")
    share = share[share.index.isin(pos.index)]
    fig = _figure(10, 6.0)
    if not len(share):
        return _empty(fig, "no demand in this run: no capacity to map")
    lon = pos.loc[share.index, "lon_deg"].to_numpy(dtype=float)
    lat = pos.loc[share.index, "lat_deg"].to_numpy(dtype=float)
    kinds = sites["kind"].astype(str).to_numpy()
    gw = sites[kinds == "gateway"]
    gw_lon = gw["lon_deg"].to_numpy(dtype=float)
    gw_lat = gw["lat_deg"].to_numpy(dtype=float)
    gw_names = gw["name"].astype(str).to_numpy()
    use = {str(k): v for k, v in (gateway_use or {}).items()}
    used = np.isin(gw_names, list(use))
    if extent is None:
        box = auto_extent(np.concatenate([lon, gw_lon[used]]),
                          np.concatenate([lat, gw_lat[used]]), min_span_deg=4.0)
        extent = fit_aspect(box, 1.6)
    fig = _figure(10, 9.0 / _map_ratio(extent) + 1.1)
    ax = fig.subplots()
    add_land(ax, extent)
    off = share["offered_mbps"].to_numpy(dtype=float)
    size = 14.0 + 110.0 * off / off.max()
    order = np.argsort(-size, kind="stable")  # small markers on top
    sc = ax.scatter(lon[order], lat[order], c=share["served"].to_numpy(dtype=float)[order],
                    s=size[order], cmap="RdYlGn", vmin=0.0, vmax=1.0, edgecolor="#333",
                    lw=0.4, zorder=5)
    sc.set_gid("capacity-sites")
    cb = fig.colorbar(sc, ax=ax, shrink=0.85, pad=0.01)
    cb.set_label("share of demand served (mean over steps; 1 − unserved share)", fontsize=8)
    handles: dict = {}
    vals = np.unique(off)
    for v in (vals if len(vals) <= 3 else vals[[0, -1]]):
        handles[f"demand {v:.3g} Mbit/s per terminal"] = Line2D(
            [], [], marker="o", ls="", color="#bbb", markeredgecolor="#333",
            markersize=float(np.sqrt(14.0 + 110.0 * v / off.max())))
    marker, color, gsize, _ = KIND_STYLE["gateway"]
    inside = ((gw_lon >= extent[0]) & (gw_lon <= extent[1]) & (gw_lat >= extent[2])
              & (gw_lat <= extent[3]))
    if inside.any():
        ax.scatter(gw_lon[inside], gw_lat[inside], marker=marker, s=2.2 * gsize, color=color,
                   edgecolor="white", lw=0.6, zorder=6)
        handles[f"gateway ({int(inside.sum())} on the map)"] = Line2D(
            [], [], marker=marker, color=color, ls="", markersize=8)
    for i in np.flatnonzero(inside & used):
        u = use[gw_names[i]]
        text = f"{gw_names[i]}\n{100 * float(u.get('mean', np.nan)):.0f}% used (mean)"
        ann = ax.annotate(text, (gw_lon[i], gw_lat[i]), xytext=(5, 3),
                          textcoords="offset points", fontsize=7, color="#1f4e9c", zorder=7,
                          clip_on=True)
        ann.set_in_layout(False)
    set_map_extent(ax, extent)
    served = share["served"].to_numpy(dtype=float)
    what = f", {_mode_label(mode)}" if mode else ""
    ax.set_title(title or (f"Share of demand served per terminal site{what}: "
                           f"{len(share)} sites, median {100 * np.median(served):.0f}%"),
                 fontsize=11, loc="left")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 3), fontsize=8, frameon=False)
    return fig
