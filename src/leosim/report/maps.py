"""Map drawing on plain matplotlib axes: land from bundled Natural Earth data, circles, extents.

Maps use the equirectangular (plate carrée) projection: x is longitude and y latitude, in
degrees. The land outlines come from ``leosim/data/ne_110m_land.json`` (Natural Earth 1:110m,
public domain; see ``src/leosim/data/README.md``), read from the package; nothing is downloaded.

Shapes that cross the antimeridian are drawn with continuous (unwrapped) longitudes, once more
shifted by 360 deg either way, and clipped by the axes limits.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.ticker import FuncFormatter

from leosim.constants import R_EARTH_MEAN_KM

__all__ = [
    "LAND_FILE",
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
