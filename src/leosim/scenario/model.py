"""The scenario file schema (TOML), validated with pydantic.

Every table forbids unknown keys, so a typo is an error rather than a silently ignored setting.
The reference of every key is ``docs/scenario.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioSection(_Strict):
    name: str = "scenario"
    epoch: str | None = None
    duration_s: float = Field(60.0, gt=0, le=400 * 86400)
    step_s: float = Field(1.0, gt=0)
    seed: int = 0
    modes: list[Literal["laser", "bent_pipe"]] = Field(default_factory=lambda: ["laser"],
                                                       min_length=1)


class ShellSpec(_Strict):
    name: str | None = None
    altitude_km: float = Field(gt=100, le=50_000)
    inclination_deg: float = Field(ge=0, le=180)
    planes: int = Field(gt=0, le=10_000)
    sats_per_plane: int = Field(gt=0, le=10_000)
    phasing: int = Field(1, ge=0)
    pattern: Literal["delta", "star"] = "delta"
    raan0_deg: float = 0.0


class ConstellationSection(_Strict):
    preset: str | None = None
    shells: list[ShellSpec] | None = None
    tle_file: str | None = None
    omm_file: str | None = None
    hypatia_dir: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ConstellationSection:
        given = [k for k in ("preset", "shells", "tle_file", "omm_file", "hypatia_dir")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of preset, shells, tle_file, omm_file, hypatia_dir"
                + (f" (got {', '.join(given)})" if given else " (got none)")
            )
        return self


class LinksSection(_Strict):
    gsl_rule: Literal["elevation", "distance"] = "elevation"
    min_elevation_deg: float = Field(25.0, ge=0, lt=90)
    max_gsl_range_km: float | None = Field(None, gt=0)
    terminal_policy: Literal["lowest_delay", "best_elevation"] = "lowest_delay"
    isl: Literal["plus_grid", "none", "file"] = "plus_grid"
    isl_file: str | None = None
    max_isl_km: float = Field(5014.0, gt=0)
    ground_relay: bool = True
    fibre: Literal["auto", "none"] | list[tuple[str, str]] = "auto"
    fibre_route_factor: float = Field(1.0, ge=1.0, le=10.0)

    @model_validator(mode="after")
    def _consistent(self) -> LinksSection:
        if self.isl == "file" and not self.isl_file:
            raise ValueError('isl = "file" needs isl_file = "PATH"')
        if self.gsl_rule == "distance" and self.max_gsl_range_km is None:
            raise ValueError('gsl_rule = "distance" needs max_gsl_range_km')
        return self


class SiteSpec(_Strict):
    name: str | None = None
    city: str | None = None
    country: str | None = None
    lat_deg: float | None = Field(None, ge=-90, le=90)
    lon_deg: float | None = Field(None, ge=-180, le=180)
    alt_km: float = Field(0.0, ge=-0.5, le=100)
    kind: Literal["terminal", "gateway", "pop"] = "terminal"
    min_elevation_deg: float | None = Field(None, ge=0, lt=90)

    @model_validator(mode="after")
    def _where(self) -> SiteSpec:
        has_pos = self.lat_deg is not None or self.lon_deg is not None
        if self.city is None and not has_pos:
            raise ValueError("a site needs city = NAME or lat_deg and lon_deg")
        if self.city is not None and has_pos:
            raise ValueError("give city or lat_deg/lon_deg, not both")
        if has_pos and (self.lat_deg is None or self.lon_deg is None):
            raise ValueError("give both lat_deg and lon_deg")
        if self.city is None and not self.name:
            raise ValueError("a site given by lat_deg/lon_deg needs a name")
        return self


class GroundSection(_Strict):
    cities: list[str] = Field(default_factory=list)
    top_cities: int = Field(0, ge=0, le=5000)
    sites: list[SiteSpec] = Field(default_factory=list)
    gateways: Literal["starlink", "none"] | list[str] = "none"
    gateway_countries: list[str] | None = None
    gateways_exclude_countries: list[str] = Field(default_factory=list)
    pops: Literal["starlink", "none"] | list[str] = "none"


class RoutingSection(_Strict):
    pairs: Literal["all", "none"] | list[tuple[str, str]] = "all"
    to_internet: Literal["terminals", "none"] | list[str] = "none"
    method: Literal["numba", "scipy"] = "numba"


class ScenarioModel(_Strict):
    scenario: ScenarioSection = Field(default_factory=ScenarioSection)
    constellation: ConstellationSection
    links: LinksSection = Field(default_factory=LinksSection)
    ground: GroundSection = Field(default_factory=GroundSection)
    routing: RoutingSection = Field(default_factory=RoutingSection)
