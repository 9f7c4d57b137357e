"""The scenario file schema (TOML), validated with pydantic.

Every table forbids unknown keys, so a typo is an error rather than a silently ignored setting.
The reference of every key is ``docs/scenario.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from leosim.scenario.limits import MAX_SATELLITES, MAX_STEPS

# Scalars are strict: ``duration_s = true`` or ``planes = "4"`` is an error, not a coercion (an
# int is still accepted where a float is expected). Floats must be finite (``_Strict`` config).
Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScenarioSection(_Strict):
    name: Str = "scenario"
    epoch: Str | None = None
    duration_s: Float = Field(60.0, gt=0, le=400 * 86400)
    step_s: Float = Field(1.0, gt=0)
    seed: Int = Field(0, ge=0, le=2**63 - 1)
    modes: list[Literal["laser", "bent_pipe", "as_flown"]] = Field(
        default_factory=lambda: ["laser"], min_length=1)

    @field_validator("epoch")
    @classmethod
    def _epoch(cls, value: str | None) -> str | None:
        if value is not None:
            from leosim.errors import InputError
            from leosim.timebase import parse_epoch

            try:
                parse_epoch(value)
            except InputError as exc:  # as a ValueError, so the key path is named
                raise ValueError(f"{exc.message} ({exc.hint})" if exc.hint
                                 else exc.message) from None
        return value

    @model_validator(mode="after")
    def _bounded_steps(self) -> ScenarioSection:
        steps = self.duration_s / self.step_s
        if steps > MAX_STEPS:
            raise ValueError(
                f"duration_s = {self.duration_s:g} at step_s = {self.step_s:g} makes "
                f"{steps:.3g} steps, more than leosim's limit of {MAX_STEPS:,}; use a longer "
                "step_s or a shorter duration_s (docs/scenario.md, Limits)")
        return self


class ShellSpec(_Strict):
    name: Str | None = None
    altitude_km: Float = Field(gt=100, le=50_000)
    inclination_deg: Float = Field(ge=0, le=180)
    planes: Int = Field(gt=0, le=10_000)
    sats_per_plane: Int = Field(gt=0, le=10_000)
    phasing: Int = Field(1, ge=0)
    pattern: Literal["delta", "star"] = "delta"
    raan0_deg: Float = 0.0


class PlaneSpec(_Strict):
    shell: Str
    plane: Int = Field(ge=0)


class ConstellationSection(_Strict):
    preset: Str | None = None
    shells: list[ShellSpec] | None = Field(None, min_length=1)
    tle_file: Str | None = None
    omm_file: Str | None = None
    hypatia_dir: Str | None = None
    interpolate_s: Float = Field(60.0, ge=0, le=600)
    # Which satellites carry lasers (Walker shells; element sets take it from the launch table).
    laser_fraction: Float | None = Field(None, ge=0, le=1)
    laser_planes: list[PlaneSpec] | None = None
    earth_frame: Literal["ut1", "hypatia"] = "ut1"  # "hypatia": PyEphem's (docs/hypatia.md)

    @model_validator(mode="after")
    def _exactly_one(self) -> ConstellationSection:
        given = [k for k in ("preset", "shells", "tle_file", "omm_file", "hypatia_dir")
                 if getattr(self, k) is not None]  # interpolate_s is a setting, not a source
        if len(given) != 1:
            raise ValueError(
                "give exactly one of preset, shells, tle_file, omm_file, hypatia_dir"
                + (f" (got {', '.join(given)})" if given else " (got none)")
            )
        if self.laser_fraction is not None and self.laser_planes is not None:
            raise ValueError("give laser_fraction or laser_planes, not both")
        if self.earth_frame != "ut1" and self.hypatia_dir is None:
            raise ValueError('earth_frame = "hypatia" needs hypatia_dir (docs/hypatia.md)')
        n_sats = sum(s.planes * s.sats_per_plane for s in self.shells or ())
        if n_sats > MAX_SATELLITES:
            raise ValueError(
                f"the shells hold {n_sats:,} satellites, more than leosim's limit of "
                f"{MAX_SATELLITES:,}; use fewer planes or sats_per_plane (docs/scenario.md, "
                "Limits)")
        return self


class LinksSection(_Strict):
    gsl_rule: Literal["elevation", "distance"] = "elevation"
    min_elevation_deg: Float = Field(25.0, ge=0, lt=90)
    max_gsl_range_km: Float | None = Field(None, gt=0)
    # None: "scheduler" for Starlink presets, else "lowest_delay" (docs/access.md)
    terminal_policy: Literal["scheduler", "lowest_delay", "best_elevation"] | None = None
    # "auto": +Grid for Walker shells, the automatic mesh for element sets (docs/fleet.md)
    isl: Literal["auto", "plus_grid", "none", "file"] = "auto"
    isl_file: Str | None = None
    max_isl_km: Float = Field(5014.0, gt=0)
    ground_relay: Bool = True
    fibre: Literal["auto", "none"] | list[tuple[Str, Str]] = "auto"
    fibre_route_factor: Float = Field(1.0, ge=1.0, le=10.0)

    @model_validator(mode="after")
    def _consistent(self) -> LinksSection:
        if self.isl == "file" and not self.isl_file:
            raise ValueError('isl = "file" needs isl_file = "PATH"')
        if self.gsl_rule == "distance" and self.max_gsl_range_km is None:
            raise ValueError('gsl_rule = "distance" needs max_gsl_range_km')
        return self


class SiteSpec(_Strict):
    name: Str | None = None
    city: Str | None = None
    country: Str | None = None
    lat_deg: Float | None = Field(None, ge=-90, le=90)
    lon_deg: Float | None = Field(None, ge=-180, le=180)
    alt_km: Float = Field(0.0, ge=-0.5, le=100)
    kind: Literal["terminal", "gateway", "pop"] = "terminal"
    min_elevation_deg: Float | None = Field(None, ge=0, lt=90)

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


class CircleSpec(_Strict):
    lat_deg: Float = Field(ge=-90, le=90)
    lon_deg: Float = Field(ge=-180, le=180)
    radius_km: Float = Field(gt=0, le=20_100)


class GroundSection(_Strict):
    cities: list[Str] = Field(default_factory=list)
    top_cities: Int = Field(0, ge=0, le=5000)
    sites: list[SiteSpec] = Field(default_factory=list)
    gateways: Literal["starlink", "none"] | list[Str] = "none"
    gateway_countries: list[Str] | None = None
    gateways_exclude_countries: list[Str] = Field(default_factory=list)
    gateway_region: CircleSpec | None = None
    # Gateways on the scenario's epoch: sites not yet in service are left out; a site whose date
    # is unknown is kept ("in_service") or left out ("exclude"); "ignore" keeps every site.
    gateway_dates: Literal["in_service", "exclude", "ignore"] = "in_service"
    pops: Literal["starlink", "none"] | list[Str] = "none"


class RoutingSection(_Strict):
    pairs: Literal["all", "none"] | list[tuple[Str, Str]] = "all"
    # How terminal-to-terminal pairs travel: "via_pop" (each end's route to its PoP, joined over
    # the terrestrial internet: Starlink), "direct" (any path, e.g. laser-only: Hypatia's model),
    # "auto": via_pop in bent_pipe and as_flown modes and under the scheduler, else direct.
    terminal_to_terminal: Literal["auto", "via_pop", "direct"] = "auto"
    to_internet: Literal["terminals", "none"] | list[Str] = "none"
    method: Literal["numba", "scipy"] = "numba"


class AccessSection(_Strict):
    """Starlink's access layer (docs/access.md); used when links.terminal_policy = "scheduler"."""

    slot_s: Float = Field(15.0, gt=0, le=3600)
    slot_offset_s: Float = Field(12.0, ge=0, le=3600)
    fov_half_angle_deg: Float = Field(50.0, gt=0, le=90)
    boresight_tilt_deg: Float | None = Field(None, ge=0, lt=90)
    boresight_azimuth: Literal["poleward"] | Float = "poleward"
    gso_exclusion_deg: Float = Field(22.0, ge=0, lt=90)
    selection: Str | None = None
    gateway_antennas: Int | None = Field(None, ge=1, le=1000)
    gateway_gso_exclusion: Bool | None = None
    on_loss: Literal["reassign", "wait"] = "reassign"
    # modelled latency (added to the propagation RTT in rtt_modelled_ms, never to rtt_ms)
    access_delay_median_ms: Float | None = Field(None, ge=0, le=10_000)
    access_delay_sigma: Float | None = Field(None, ge=0, le=5)
    slot_boundary_penalty_ms: Float | None = Field(None, ge=0, le=10_000)


class DemandGroup(_Strict):
    """Terminals and their traffic (docs/demand.md): on named sites, or spread over the H3 cells
    of a region (each cell becomes a terminal site with its share)."""

    name: Str | None = None
    sites: list[Str] = Field(default_factory=list)
    region: CircleSpec | None = None
    polygon: list[tuple[Float, Float]] | None = Field(None, min_length=3)
    country: Str | None = None
    terminals: Int = Field(ge=1, le=10_000_000)  # per site (sites) or in all (a region)
    weighting: Literal["population", "uniform"] = "population"
    resolution: Int = Field(5, ge=0, le=9)
    max_cells: Int | None = Field(None, ge=1, le=100_000)
    down_mbps: Float = Field(10.0, ge=0, le=1e6)
    up_mbps: Float = Field(1.0, ge=0, le=1e6)
    profile: Literal["constant", "diurnal"] | list[Float] = "constant"

    @model_validator(mode="after")
    def _one_place(self):
        given = [k for k in ("sites", "region", "polygon", "country") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a [[demand]] table needs exactly one of sites, region, polygon, "
                             "country" + (f" (got {', '.join(given)})" if given else ""))
        return self


class RadioSection(_Strict):
    """User-link radio (docs/link_budget.md); every key defaults to
    :class:`leosim.capacity.budget.RadioParams`'s cited value."""

    capacity_model: Literal["modcod", "shannon"] | None = None
    modcod_margin_db: Float | None = Field(None, ge=-10, le=20)
    max_bps_hz: Float | None = Field(None, gt=0, le=20)
    # SpaceX's anti-jamming software update (Musk, 5 March 2022; US DoD, April 2022): from this
    # date the terminals null jammers and avoid jammed channels
    countermeasures_from: Str | None = None
    terminal_nulling_db: Float | None = Field(None, ge=0, le=80)
    sat_nulling_db: Float | None = Field(None, ge=0, le=80)
    channel_agility: Literal["avoid", "hop", "none"] | None = None


class CapacitySection(_Strict):
    """Capacities shared max-min fairly among the demand (docs/link_budget.md); every key
    defaults to :class:`leosim.capacity.budget.CapacityParams`'s cited value."""

    user_beams_per_sat: Int | None = Field(None, ge=1, le=1000)
    sat_capacity_mbps: Float | None = Field(None, gt=0)
    feeder_mbps_per_antenna: Float | None = Field(None, gt=0)
    laser_capacity_mbps: Float | None = Field(None, gt=0)
    # background traffic: population-weighted demand on every land cell (docs/demand.md)
    background: Bool = False
    background_subscribers: Float | None = Field(None, ge=0, le=1e9)
    background_activity: Float | None = Field(None, ge=0, le=1)
    background_resolution: Int | None = Field(None, ge=0, le=5)
    background_exclude: list[Str] = Field(default_factory=list)


class OutputSection(_Strict):
    routes_every_s: Float | None = Field(None, gt=0)


class _Timed(_Strict):
    name: Str | None = None
    start_s: Float = Field(0.0, ge=0)
    end_s: Float | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s (repair time) {self.end_s:g} must be after start_s "
                             f"{self.start_s:g}")
        return self


class _SiteSelector(_Timed):
    sites: list[Str] = Field(default_factory=list)
    kinds: list[Literal["terminal", "gateway", "pop"]] = Field(default_factory=list)
    countries: list[Str] = Field(default_factory=list)
    region: CircleSpec | None = None
    polygon: list[tuple[Float, Float]] | None = Field(None, min_length=3)


class DestroySpec(_SiteSelector):
    type: Literal["destroy"]
    fibre: list[tuple[Str, Str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self):
        if not (self.sites or self.kinds or self.countries or self.region or self.polygon
                or self.fibre):
            raise ValueError("a destroy threat needs sites, kinds, countries, region, polygon "
                             "or fibre")
        return self


class JamSpec(_Timed):
    type: Literal["jam"]
    lat_deg: Float = Field(ge=-90, le=90)
    lon_deg: Float = Field(ge=-180, le=180)
    alt_km: Float = Field(0.01, ge=0, le=40)
    eirp_dbw: Float = Field(ge=-50, le=120)
    band: Literal["downlink", "uplink", "both"] = "both"
    bandwidth_mhz: Float | None = Field(None, ge=1e-6, le=1e5)
    pattern: Literal["isotropic", "directional"] = "isotropic"
    # one 250 MHz channel, or the power spread over all the user channels (docs/link_budget.md)
    channels: Literal["single", "spread"] = "single"


class SatelliteLossSpec(_Timed):
    type: Literal["satellite_loss"]
    fraction: Float = Field(0.0, ge=0, le=1)
    satellites: list[Str] = Field(default_factory=list)
    planes: list[PlaneSpec] = Field(default_factory=list)
    region: CircleSpec | None = None
    region_at_s: Float | None = Field(None, ge=0)
    laser_fraction: Float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _something(self):
        given = self.model_fields_set & {"fraction", "satellites", "planes", "region",
                                         "laser_fraction"}
        if not given:
            raise ValueError("a satellite_loss threat needs fraction, satellites, planes, "
                             "region or laser_fraction")
        return self


ThreatSpec = Annotated[DestroySpec | JamSpec | SatelliteLossSpec, Field(discriminator="type")]


class MonteCarloSection(_Strict):
    threat: Int = Field(0, ge=0)
    parameter: Literal["fraction", "laser_fraction"] = "fraction"
    values: list[Float] = Field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
                                min_length=1)
    draws: Int = Field(10, ge=1, le=10_000)
    confidence: Float = Field(0.95, gt=0, lt=1)


class SensitivitySpec(_Strict):
    """One what-if of a sensitivity table (docs/sensitivity.md): dotted keys to set, lists to
    extend; applied to the scenario file's own tables before validation."""

    name: Str
    note: Str = ""
    set: dict[Str, Any] = Field(default_factory=dict)
    append: dict[Str, Any] = Field(default_factory=dict)


# The packet layer's tables (docs/packets.md); imported here, after the scalar types it uses.
from leosim.packet.spec import Flows, PacketsSection  # noqa: E402


class ScenarioModel(_Strict):
    scenario: ScenarioSection = Field(default_factory=ScenarioSection)
    constellation: ConstellationSection
    links: LinksSection = Field(default_factory=LinksSection)
    ground: GroundSection = Field(default_factory=GroundSection)
    routing: RoutingSection = Field(default_factory=RoutingSection)
    access: AccessSection = Field(default_factory=AccessSection)
    demand: list[DemandGroup] = Field(default_factory=list)
    capacity: CapacitySection = Field(default_factory=CapacitySection)
    radio: RadioSection = Field(default_factory=RadioSection)
    output: OutputSection = Field(default_factory=OutputSection)
    threats: list[ThreatSpec] = Field(default_factory=list)
    montecarlo: MonteCarloSection | None = None
    sensitivity: list[SensitivitySpec] = Field(default_factory=list)
    packets: PacketsSection | None = None
    flows: Flows = Field(default_factory=list)
