"""leosim.ground: ground sites, geodesy, offline city lookup and bundled Starlink ground data."""

from leosim.ground.cities import City, find_city, top_cities
from leosim.ground.gateways import nearest, starlink_gateways, starlink_pops
from leosim.ground.geodesy import (
    coverage_radius_km,
    elevation_deg,
    geodetic_to_ecef_km,
    great_circle_km,
    slant_range_km,
    up_vector,
)
from leosim.ground.sites import SITE_KINDS, GroundSegment, Site

__all__ = [
    "SITE_KINDS",
    "City",
    "GroundSegment",
    "Site",
    "coverage_radius_km",
    "elevation_deg",
    "find_city",
    "geodetic_to_ecef_km",
    "great_circle_km",
    "nearest",
    "slant_range_km",
    "starlink_gateways",
    "starlink_pops",
    "top_cities",
    "up_vector",
]
