"""The packet layer's scenario tables: ``[packets]`` and ``[[flows]]`` (issue 11).

Pydantic models in the style of :mod:`leosim.scenario.model` (strict scalars, unknown keys
refused). ``ScenarioModel`` holds them as::

    packets: PacketsSection | None = None
    flows: Flows = Field(default_factory=list)

``docs/packets.md`` explains the layer and ``docs/scenario.md`` lists every key. What the schema
cannot check alone (site names, the run's duration) :func:`check_flows` checks against the built
scenario; :func:`expand_flows` turns the tables into one frozen record per simulated flow
(``count`` copies), :func:`link_rates` chooses each link class's rate.

Defaults and their sources
--------------------------
- ``update_interval_ms = 100``: Hypatia's default time step for forwarding-state and delay
  updates (Kassing et al., "Exploring the 'Internet from space' with Hypatia", IMC 2020).
- ``queue_packets = 100``: ns-3's ``DropTailQueue`` default ``MaxSize`` of ``"100p"``
  (also the queue of Hypatia's runs); an assumption for Starlink's real buffers.
- ``congestion = "cubic"``: the default of Linux (since 2.6.19), Windows 10+ and macOS;
  RFC 9438. A user's machine behind a Starlink terminal most likely runs it (assumption).
- Link rates (used where neither the scenario nor the capacity model gives one; see
  :func:`link_rates`): :data:`DEFAULT_ISL_MBPS`, :data:`DEFAULT_GSL_MBPS`,
  :data:`DEFAULT_FEEDER_MBPS`, :data:`DEFAULT_FIBRE_MBPS`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from typing import Annotated, Any, Literal

import attrs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from leosim.errors import InputError

# The scalar types and base of leosim.scenario.model, defined again here: model.py imports this
# module for ScenarioModel's packets and flows, so importing model.py from here would be a
# cycle. Keep them identical (strict scalars, finite floats, unknown keys refused, frozen).
Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


__all__ = [
    "CONGESTION_TYPES",
    "DEFAULT_FEEDER_MBPS",
    "DEFAULT_FIBRE_MBPS",
    "DEFAULT_GSL_MBPS",
    "DEFAULT_ISL_MBPS",
    "INTERNET",
    "MAX_UDP_PAYLOAD_BYTES",
    "FlowInstance",
    "FlowSpec",
    "Flows",
    "LinkRates",
    "MessagesFlow",
    "PacketLayer",
    "PacketsSection",
    "PingFlow",
    "TcpBulkFlow",
    "TcpRRFlow",
    "UdpCbrFlow",
    "check_flows",
    "expand_flows",
    "flow_names",
    "link_rates",
    "validate_packet_tables",
]

#: The destination meaning "the source terminal's point of presence" (its exit to the internet).
INTERNET = "internet"

#: Largest UDP payload over IPv4: 65,535 - 8 (UDP header) - 20 (IPv4 header) bytes (RFC 768,
#: RFC 791).
MAX_UDP_PAYLOAD_BYTES = 65_507

#: Smallest UDP CBR payload: ns-3's ``UdpClient`` writes a 12-byte ``SeqTsHeader`` (sequence
#: number and time stamp) into each packet, which the loss count needs.
MIN_UDP_CBR_BYTES = 12

#: Smallest ping payload: the 8-byte ICMP echo header's payload carries the sequence number and
#: send time (16 bytes: assumption of the ping application, which needs both to time replies).
MIN_PING_BYTES = 16

#: Inter-satellite laser link, Mbit/s (100,000: SpaceX, SPIE Photonics West, Jan 2024, as in
#: :class:`leosim.capacity.budget.CapacityParams`). The rate of a link costs nothing to simulate;
#: the packets do, and they are set by the flows' bottleneck (usually the ground link).
DEFAULT_ISL_MBPS = 100_000.0
#: Terminal-satellite link as one terminal sees it, Mbit/s (100: Ookla, Q1 2022, median download
#: above 100 Mbit/s in every European market; Michel et al., IMC 2022: median 178 down, 17 up).
#: One rate both ways (assumption: ns-3's point-to-point links here are symmetric). This is the
#: bottleneck of most flows and so sets the cost of a simulation (about 8,600 full-size packets
#: per second per saturating TCP flow); lower it for many flows (Hypatia's examples use 10).
DEFAULT_GSL_MBPS = 100.0
#: Gateway-satellite feeder link, Mbit/s (20,000: ``CapacityParams.feeder_mbps_per_antenna``,
#: an assumption there: one antenna sized to one satellite's user traffic).
DEFAULT_FEEDER_MBPS = 20_000.0
#: Terrestrial fibre between ground sites, Mbit/s (100,000: assumption, one 100G wavelength; the
#: capacity model's fibre is unlimited, which a packet link cannot be).
DEFAULT_FIBRE_MBPS = 100_000.0

#: ns-3 TypeIds of the congestion controls offered (all in ns-3 3.44's internet module).
CONGESTION_TYPES = {"newreno": "ns3::TcpNewReno", "cubic": "ns3::TcpCubic",
                    "bbr": "ns3::TcpBbr"}

Congestion = Literal["newreno", "cubic", "bbr"]
Mode = Literal["laser", "bent_pipe", "as_flown"]
_Rate = Annotated[float, Field(gt=0, le=1e7, strict=True, allow_inf_nan=False)]


class PacketsSection(_Strict):
    """``[packets]``: how leosim's network is simulated packet by packet (docs/packets.md).

    Parameters
    ----------
    mode : {"laser", "bent_pipe", "as_flown"}, optional
        The mode whose routes ns-3 follows (default: the scenario's first mode).
    update_interval_ms : float
        Delays and forwarding tables are updated this often (100 ms: Hypatia's default,
        Kassing et al., IMC 2020).
    sample_ms : float
        Interval of the flow time series (100 ms: assumption, the update interval).
    start_s, stop_s : float
        Simulated window after the epoch (0 to the scenario's ``duration_s``).
    queue : {"droptail", "fq_codel"}
        Queue discipline on every link ("droptail": ns-3's and Hypatia's default; "fq_codel":
        RFC 8290).
    queue_packets : int
        Queue size per device, packets (100: ns-3's ``DropTailQueue`` default; assumption for
        Starlink).
    isl_mbps, gsl_mbps, feeder_mbps, fibre_mbps : float, optional
        Link rates; None: the capacity model's, else the module defaults (:func:`link_rates`).
    congestion : {"newreno", "cubic", "bbr"}
        Default TCP congestion control ("cubic": Linux, Windows and macOS default; RFC 9438).
    """

    mode: Mode | None = None
    update_interval_ms: Float = Field(100.0, gt=0, le=60_000)
    sample_ms: Float = Field(100.0, gt=0, le=3_600_000)
    start_s: Float = Field(0.0, ge=0)
    stop_s: Float | None = Field(None, gt=0)
    queue: Literal["droptail", "fq_codel"] = "droptail"
    queue_packets: Int = Field(100, ge=1, le=1_000_000)
    isl_mbps: _Rate | None = None
    gsl_mbps: _Rate | None = None
    feeder_mbps: _Rate | None = None
    fibre_mbps: _Rate | None = None
    congestion: Congestion = "cubic"

    @model_validator(mode="after")
    def _window(self) -> PacketsSection:
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError(f"stop_s = {self.stop_s:g} must be after start_s = "
                             f"{self.start_s:g}; leave stop_s out to run to the scenario's end")
        return self


class _FlowBase(_Strict):
    name: Str = Field(min_length=1, max_length=80)
    src: Str = Field(min_length=1)
    start_s: Float = Field(0.0, ge=0)
    stop_s: Float | None = Field(None, gt=0)
    count: Int = Field(1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _times(self):
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError(f"flow {self.name!r}: stop_s = {self.stop_s:g} must be after "
                             f"start_s = {self.start_s:g} (or leave stop_s out: until the end)")
        return self

    def _not_to_self(self, other: str, key: str) -> None:
        if other == self.src:
            raise ValueError(f"flow {self.name!r}: {key} {other!r} is its own src; give another "
                             f"site or {INTERNET!r}")


class _ToDst(_FlowBase):
    dst: Str = Field(INTERNET, min_length=1)

    @model_validator(mode="after")
    def _dst(self):
        self._not_to_self(self.dst, "dst")
        return self


class PingFlow(_ToDst):
    """``kind = "ping"``: an echo every ``interval_ms`` (1000 ms: the ``ping`` default) of
    ``size_bytes`` (64: assumption, iputils' 56 data bytes + 8 ICMP header bytes)."""

    kind: Literal["ping"]
    interval_ms: Float = Field(1000.0, ge=0.1, le=3_600_000)
    size_bytes: Int = Field(64, ge=MIN_PING_BYTES, le=MAX_UDP_PAYLOAD_BYTES)


class UdpCbrFlow(_ToDst):
    """``kind = "udp_cbr"``: constant bit rate ``rate_mbps`` in datagrams of ``size_bytes``
    (1200: assumption, QUIC's common datagram size, below IPv6's 1280-byte minimum MTU)."""

    kind: Literal["udp_cbr"]
    rate_mbps: _Rate
    size_bytes: Int = Field(1200, ge=MIN_UDP_CBR_BYTES, le=MAX_UDP_PAYLOAD_BYTES)

    @model_validator(mode="after")
    def _packet_rate(self):
        pps = self.rate_mbps * 1e6 / (8 * self.size_bytes)
        if pps > 1e6:
            raise ValueError(
                f"flow {self.name!r}: rate_mbps = {self.rate_mbps:g} in {self.size_bytes}-byte "
                f"datagrams is {pps:.3g} packets/s, more than 1e6 (ns-3 simulates about 5e4 "
                "packet-hops per second); lower rate_mbps or raise size_bytes")
        return self


class TcpBulkFlow(_ToDst):
    """``kind = "tcp_bulk"``: one TCP connection sending as fast as it can (ns-3 BulkSend),
    ``max_bytes`` in all (None: until ``stop_s``)."""

    kind: Literal["tcp_bulk"]
    congestion: Congestion | None = None
    max_bytes: Int | None = Field(None, ge=1, le=2**53)


class TcpRRFlow(_ToDst):
    """``kind = "tcp_rr"``: request/response over one TCP connection: every ``interval_s``
    (1 s) a ``request_bytes`` request (300) answered by ``response_bytes`` (50,000). Sizes:
    assumption (a small HTTP request, a web object)."""

    kind: Literal["tcp_rr"]
    congestion: Congestion | None = None
    request_bytes: Int = Field(300, ge=1, le=2**31 - 1)
    response_bytes: Int = Field(50_000, ge=1, le=2**31 - 1)
    interval_s: Float = Field(1.0, gt=0, le=86_400)


class MessagesFlow(_FlowBase):
    """``kind = "messages"``: the message service (docs/packets.md).

    A client at ``src`` posts one message every ``every_s`` (30 s: issue 11's example), a
    photo with probability ``photo_share`` (0.3: assumption), else a text of ``text_bytes``
    (1,024: assumption, a post of a few hundred characters with its JSON/HTTP framing; as
    ``leosim.packet.messages.PostSizes``); photo sizes are log-normal
    with median ``photo_median_bytes`` (150,000: assumption, a compressed phone photo as a
    social network re-encodes it) and shape ``photo_sigma`` (0.5: assumption). The server is
    ``"internet"`` (the client's point of presence) or a site name; it fans each post out to
    ``followers`` (site or city names). A failed or stalled upload is retried after
    ``retry_s`` (5 s: assumption).
    """

    kind: Literal["messages"]
    server: Str = Field(INTERNET, min_length=1)
    every_s: Float = Field(30.0, gt=0, le=86_400)
    photo_share: Float = Field(0.3, ge=0, le=1)
    text_bytes: Int = Field(1024, ge=1, le=2**31 - 1)
    photo_median_bytes: Int = Field(150_000, ge=1, le=2**31 - 1)
    photo_sigma: Float = Field(0.5, ge=0, le=5)
    followers: list[Str] = Field(default_factory=list, max_length=1000)
    retry_s: Float = Field(5.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _server(self):
        self._not_to_self(self.server, "server")
        dup = sorted({f for f in self.followers if self.followers.count(f) > 1})
        if dup:
            raise ValueError(f"flow {self.name!r}: followers lists {', '.join(map(repr, dup))} "
                             "more than once; give each follower once")
        if self.src in self.followers:
            raise ValueError(f"flow {self.name!r}: the poster {self.src!r} is among its own "
                             "followers; remove it")
        return self

    def post_sizes(self) -> dict[str, float]:
        """The size distribution's parameters (``photo_share, text_bytes, photo_median_bytes,
        photo_sigma``), as keyword arguments of the message service's size record."""
        return {"photo_share": self.photo_share, "text_bytes": self.text_bytes,
                "photo_median_bytes": self.photo_median_bytes, "photo_sigma": self.photo_sigma}


FlowSpec = Annotated[PingFlow | UdpCbrFlow | TcpBulkFlow | TcpRRFlow | MessagesFlow,
                     Field(discriminator="kind")]


def _expanded(name: str, count: int) -> list[str]:
    return [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]


def flow_names(flows: Iterable[Any]) -> list[str]:
    """The name of every simulated flow, ``count`` copies expanded, in order.

    A flow with ``count = 1`` keeps its name; ``count = n > 1`` gives ``NAME-1 ... NAME-n``.

    Examples
    --------
    >>> flow_names([TcpBulkFlow(kind="tcp_bulk", name="b", src="A", count=2),
    ...             PingFlow(kind="ping", name="p", src="A")])
    ['b-1', 'b-2', 'p']
    """
    return [n for f in flows for n in _expanded(f.name, f.count)]


def _unique_names(flows: list) -> list:
    seen: dict[str, int] = {}
    for i, f in enumerate(flows):
        for n in _expanded(f.name, f.count):
            if n in seen:
                j = seen[n]
                raise ValueError(
                    f"flow name {n!r} of flows[{i}] is already used by flows[{j}]; give every "
                    "[[flows]] table its own name (count = N names copies NAME-1 ... NAME-N)")
            seen[n] = i
    return flows


#: The ``[[flows]]`` list as a ``ScenarioModel`` field: flow names (after ``count``) unique.
Flows = Annotated[list[FlowSpec], AfterValidator(_unique_names)]


class PacketLayer(_Strict):
    """The two packet tables alone (for :func:`validate_packet_tables` and tests)."""

    packets: PacketsSection | None = None
    flows: Flows = Field(default_factory=list)


def _key_path(loc: Sequence) -> str:
    out = ""
    kinds = {"ping", "udp_cbr", "tcp_bulk", "tcp_rr", "messages"}
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in kinds or "[" in str(part) or str(part).startswith("function-"):
            continue  # pydantic's union branch / tag, not a user key
        else:
            out += ("." if out else "") + str(part)
    return out


def validate_packet_tables(data: dict, source: str = "<scenario>") -> PacketLayer:
    """Validate the ``packets`` and ``flows`` tables of a parsed scenario (other keys ignored).

    Raises
    ------
    InputError
        The first problem, with ``where`` the key path (e.g. ``flows[1].rate_mbps``).
    """
    try:
        return PacketLayer.model_validate(
            {k: data[k] for k in ("packets", "flows") if k in data})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _key_path(err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {err['loc'][-1]!r}"
        elif err["type"] == "missing":
            msg = f"required key {where!r} is missing"
        elif err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
            msg = ('kind must be one of "ping", "udp_cbr", "tcp_bulk", "tcp_rr", "messages"'
                   f" (got {err['input'].get('kind') if isinstance(err['input'], dict) else ''!r})")
        elif not isinstance(err.get("input"), dict | list):
            msg = f"bad value {err.get('input')!r}: {msg}"
        raise InputError(msg, source=source, where=where,
                         hint="docs/scenario.md ([packets], [[flows]]) lists every key") from None


# ---------------------------------------------------------------------------------------------
# Records for the engine


@attrs.frozen
class FlowInstance:
    """One simulated flow (one of a table's ``count`` copies).

    Attributes
    ----------
    name : str
        Unique name (:func:`flow_names`).
    table : int
        Index of its ``[[flows]]`` table.
    copy : int
        0 to ``count - 1``.
    kind : str
        ``"ping"``, ``"udp_cbr"``, ``"tcp_bulk"``, ``"tcp_rr"`` or ``"messages"``.
    src, dst : str
        Site names; ``dst`` is ``"internet"`` (the source's point of presence) or a site;
        for messages, the server.
    start_s, stop_s : float
        Active window after the epoch (``stop_s`` resolved to the packet run's end).
    congestion : str or None
        ns-3 TypeId of the TCP congestion control (None for UDP, ping).
    spec : FlowSpec
        The validated table with every kind-specific key.
    """

    name: str
    table: int
    copy: int
    kind: str
    src: str
    dst: str
    start_s: float
    stop_s: float
    congestion: str | None
    spec: Any = attrs.field(eq=False, repr=False)


def expand_flows(flows: Sequence[Any], packets: PacketsSection | None,
                 end_s: float) -> list[FlowInstance]:
    """One :class:`FlowInstance` per simulated flow, ``count`` copies expanded.

    Parameters
    ----------
    flows : sequence of FlowSpec
        The scenario's ``[[flows]]``.
    packets : PacketsSection or None
        ``[packets]`` (None: its defaults).
    end_s : float
        End of the packet run (``packets.stop_s`` or the scenario's ``duration_s``), s.
    """
    packets = packets or PacketsSection()
    out = []
    for i, f in enumerate(flows):
        cc = getattr(f, "congestion", None) or (
            packets.congestion if f.kind in ("tcp_bulk", "tcp_rr", "messages") else None)
        dst = f.server if f.kind == "messages" else f.dst
        stop = end_s if f.stop_s is None else min(float(f.stop_s), end_s)
        for k, n in enumerate(_expanded(f.name, f.count)):
            out.append(FlowInstance(
                name=n, table=i, copy=k, kind=f.kind, src=f.src, dst=dst,
                start_s=float(f.start_s), stop_s=float(stop),
                congestion=None if cc is None else CONGESTION_TYPES[cc], spec=f))
    return out


def check_flows(flows: Sequence[Any], site_names: Collection[str], *, start_s: float,
                end_s: float, city_names: Collection[str] = (),
                source: str = "<scenario>") -> None:
    """Check ``[[flows]]`` against the built scenario.

    Parameters
    ----------
    flows : sequence of FlowSpec
    site_names : collection of str
        Names of the scenario's sites.
    start_s, end_s : float
        The packet run's window (``packets.start_s``; ``packets.stop_s`` or ``duration_s``).
    city_names : collection of str, optional
        City names a message service's ``followers`` may also use.

    Raises
    ------
    InputError
        A flow from or to an unknown site, or outside the run's window (``where`` names the key).
    """
    sites = set(site_names)
    known = sites | set(city_names)
    some = ", ".join(sorted(sites)[:12]) + (" ..." if len(sites) > 12 else "")

    def fail(i: int, key: str, msg: str, hint: str) -> None:
        raise InputError(msg, source=source, where=f"flows[{i}].{key}", hint=hint)

    if not end_s > start_s:
        raise InputError(f"the packet run's window {start_s:g} to {end_s:g} s is empty",
                         source=source, where="packets.stop_s",
                         hint="packets.stop_s must be after packets.start_s and at most "
                              "scenario.duration_s")
    for i, f in enumerate(flows):
        if f.src not in sites:
            fail(i, "src", f"flow {f.name!r}: src {f.src!r} is not a site of the scenario",
                 f"use one of: {some}")
        key, other = ("server", f.server) if f.kind == "messages" else ("dst", f.dst)
        if other != INTERNET and other not in sites:
            fail(i, key, f"flow {f.name!r}: {key} {other!r} is not a site of the scenario",
                 f"use {INTERNET!r} or one of: {some}")
        for follower in getattr(f, "followers", ()):
            if follower not in known:
                fail(i, "followers", f"flow {f.name!r}: follower {follower!r} is neither a "
                     "site nor a known city", "add it under [ground] sites or cities")
        if not start_s <= f.start_s < end_s:
            fail(i, "start_s", f"flow {f.name!r}: start_s = {f.start_s:g} is outside the packet "
                 f"run ({start_s:g} to {end_s:g} s)",
                 "times are seconds after the epoch; see packets.start_s and packets.stop_s")
        if f.stop_s is not None and f.stop_s > end_s + 1e-9:
            fail(i, "stop_s", f"flow {f.name!r}: stop_s = {f.stop_s:g} is after the packet "
                 f"run's end ({end_s:g} s)", "leave stop_s out to run to the end")


@attrs.frozen
class LinkRates:
    """Rates of the packet network's link classes, Mbit/s, and where each came from
    (``"scenario"``, ``"capacity model"`` or ``"default"``)."""

    isl_mbps: float
    gsl_mbps: float
    feeder_mbps: float
    fibre_mbps: float
    sources: dict[str, str] = attrs.field(factory=dict, eq=False)


def link_rates(packets: PacketsSection | None = None, *,
               capacity_isl_mbps: float | None = None,
               capacity_gsl_mbps: float | None = None,
               capacity_feeder_mbps: float | None = None,
               capacity_fibre_mbps: float | None = None) -> LinkRates:
    """Each link class's rate: the scenario's ``[packets]`` key, else the capacity model's
    value (when the scenario has one and it is finite and positive), else the default.

    Examples
    --------
    >>> r = link_rates(PacketsSection(gsl_mbps=10.0), capacity_isl_mbps=20_000.0,
    ...                capacity_fibre_mbps=float("inf"))
    >>> r.isl_mbps, r.gsl_mbps, r.feeder_mbps, r.fibre_mbps
    (20000.0, 10.0, 20000.0, 100000.0)
    >>> r.sources["isl_mbps"], r.sources["gsl_mbps"], r.sources["fibre_mbps"]
    ('capacity model', 'scenario', 'default')
    """
    packets = packets or PacketsSection()
    given = {"isl_mbps": capacity_isl_mbps, "gsl_mbps": capacity_gsl_mbps,
             "feeder_mbps": capacity_feeder_mbps, "fibre_mbps": capacity_fibre_mbps}
    default = {"isl_mbps": DEFAULT_ISL_MBPS, "gsl_mbps": DEFAULT_GSL_MBPS,
               "feeder_mbps": DEFAULT_FEEDER_MBPS, "fibre_mbps": DEFAULT_FIBRE_MBPS}
    values, sources = {}, {}
    for key, dflt in default.items():
        own = getattr(packets, key)
        cap = given[key]
        if own is not None:
            values[key], sources[key] = float(own), "scenario"
        elif cap is not None and math.isfinite(cap) and cap > 0:
            values[key], sources[key] = float(cap), "capacity model"
        else:
            values[key], sources[key] = dflt, "default"
    return LinkRates(**values, sources=sources)
