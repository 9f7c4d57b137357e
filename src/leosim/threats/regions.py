"""Geographic selectors: circles (centre + radius) and lat/lon polygons."""

from __future__ import annotations

import attrs
import numpy as np

from leosim.ground.geodesy import great_circle_km


@attrs.frozen
class Circle:
    """All points within ``radius_km`` (great circle) of a centre."""

    lat_deg: float = attrs.field(converter=float)
    lon_deg: float = attrs.field(converter=float)
    radius_km: float = attrs.field(converter=float)

    def __attrs_post_init__(self) -> None:
        if not self.radius_km >= 0:
            raise ValueError(f"radius_km must be >= 0, got {self.radius_km}")

    def contains(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        return great_circle_km(self.lat_deg, self.lon_deg, lat_deg, lon_deg) <= self.radius_km


@attrs.frozen
class Polygon:
    """A simple polygon of ``(lat_deg, lon_deg)`` vertices, tested in the lat/lon plane.

    Fine for regions that do not cross the antimeridian or a pole (e.g. a country).

    Examples
    --------
    >>> sq = Polygon(((0, 0), (0, 10), (10, 10), (10, 0)))
    >>> sq.contains(np.array([5.0, 15.0]), np.array([5.0, 5.0])).tolist()
    [True, False]
    """

    vertices: tuple[tuple[float, float], ...] = attrs.field(
        converter=lambda v: tuple((float(a), float(b)) for a, b in v))

    def __attrs_post_init__(self) -> None:
        if len(self.vertices) < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {len(self.vertices)}")

    def contains(self, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
        # Even-odd ray casting along +lon, vectorised over points.
        lat = np.asarray(lat_deg, float)[..., None]
        lon = np.asarray(lon_deg, float)[..., None]
        v = np.asarray(self.vertices)
        y1, x1 = v[:, 0], v[:, 1]
        y2, x2 = np.roll(y1, -1), np.roll(x1, -1)
        crosses = (y1 > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        return (crosses & (lon < x_at)).sum(axis=-1) % 2 == 1


def subpoints_deg(ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geocentric latitude and longitude of Earth-fixed points (for "satellites over a region")."""
    x, y, z = ecef_km[..., 0], ecef_km[..., 1], ecef_km[..., 2]
    return np.rad2deg(np.arctan2(z, np.hypot(x, y))), np.rad2deg(np.arctan2(y, x))
