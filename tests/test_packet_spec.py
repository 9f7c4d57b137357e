"""The packet layer's scenario tables (issue 11): ``[packets]`` and ``[[flows]]``.

Pure Python (no ns-3). Oracles: the documented defaults (Hypatia's 100 ms update interval,
Kassing et al. IMC 2020; ns-3's 100-packet DropTailQueue; the UDP payload limit 65,535 - 8 - 20
= 65,507 bytes, RFC 768/791); every bad input raises :class:`InputError` whose ``where`` names
the key.
"""

from __future__ import annotations

import tomllib

import pytest

from leosim.errors import InputError
from leosim.packet.spec import (
    DEFAULT_FEEDER_MBPS,
    DEFAULT_FIBRE_MBPS,
    DEFAULT_GSL_MBPS,
    DEFAULT_ISL_MBPS,
    MessagesFlow,
    PacketsSection,
    PingFlow,
    TcpBulkFlow,
    check_flows,
    expand_flows,
    flow_names,
    link_rates,
    validate_packet_tables,
)

GOOD = """
[packets]
mode = "as_flown"
update_interval_ms = 50
stop_s = 120
queue = "fq_codel"
gsl_mbps = 10

[[flows]]
kind = "ping"
name = "ping-mariupol"
src = "Mariupol"
interval_ms = 100

[[flows]]
kind = "udp_cbr"
name = "video"
src = "Mariupol"
dst = "Kyiv"
rate_mbps = 2.5

[[flows]]
kind = "tcp_bulk"
name = "bulk"
src = "Mariupol"
congestion = "bbr"
count = 3
start_s = 10
stop_s = 60

[[flows]]
kind = "tcp_rr"
name = "web"
src = "Mariupol"

[[flows]]
kind = "messages"
name = "posts"
src = "Mariupol"
followers = ["Kyiv", "Warsaw"]
photo_share = 0.5
"""


def _good() -> dict:
    return tomllib.loads(GOOD)


def test_good_example_parses_with_defaults():
    layer = validate_packet_tables(_good())
    p = layer.packets
    assert (p.mode, p.update_interval_ms, p.queue, p.gsl_mbps) == ("as_flown", 50.0, "fq_codel",
                                                                    10.0)
    assert (p.sample_ms, p.start_s, p.queue_packets, p.congestion) == (100.0, 0.0, 100, "cubic")
    kinds = [f.kind for f in layer.flows]
    assert kinds == ["ping", "udp_cbr", "tcp_bulk", "tcp_rr", "messages"]
    ping, udp, bulk, rr, msg = layer.flows
    assert (ping.dst, ping.interval_ms, ping.size_bytes) == ("internet", 100.0, 64)
    assert (udp.dst, udp.rate_mbps, udp.size_bytes) == ("Kyiv", 2.5, 1200)
    assert (bulk.congestion, bulk.count, bulk.max_bytes) == ("bbr", 3, None)
    assert (rr.request_bytes, rr.response_bytes, rr.interval_s, rr.congestion) == (
        300, 50_000, 1.0, None)
    assert (msg.server, msg.every_s, msg.retry_s, msg.followers) == (
        "internet", 30.0, 5.0, ["Kyiv", "Warsaw"])
    assert msg.post_sizes() == {"photo_share": 0.5, "text_bytes": 1024,
                                "photo_median_bytes": 150_000, "photo_sigma": 0.5}
    assert flow_names(layer.flows) == ["ping-mariupol", "video", "bulk-1", "bulk-2", "bulk-3",
                                       "web", "posts"]


def test_section_defaults():
    p = PacketsSection()
    # Hypatia's update interval (Kassing et al. IMC 2020); ns-3's DropTailQueue "100p"
    assert (p.mode, p.update_interval_ms, p.sample_ms, p.start_s, p.stop_s) == (
        None, 100.0, 100.0, 0.0, None)
    assert (p.queue, p.queue_packets, p.congestion) == ("droptail", 100, "cubic")
    assert (p.isl_mbps, p.gsl_mbps, p.feeder_mbps, p.fibre_mbps) == (None,) * 4
    assert validate_packet_tables({}).flows == []
    assert validate_packet_tables({}).packets is None


def _set(doc: dict, path: str, value) -> dict:
    node = doc
    parts = path.replace("]", "").replace("[", ".").split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    if value is _DEL:
        del node[last]
    else:
        node[last] = value
    return doc


_DEL = object()

BAD = [  # (key path set, value, where, words in the message)
    ("packets.update_interval_ms", 0, "packets.update_interval_ms", "greater than 0"),
    ("packets.stop_s", 0.5, None, None),  # fine alone (start 0): checked below with start_s
    ("packets.queue", "red", "packets.queue", "droptail"),
    ("packets.queue_packets", 0, "packets.queue_packets", "greater than or equal to 1"),
    ("packets.isl_mbps", -1, "packets.isl_mbps", "greater than 0"),
    ("packets.gsl_mbps", True, "packets.gsl_mbps", "number"),
    ("packets.congestion", "reno", "packets.congestion", "cubic"),
    ("packets.mode", "lasers", "packets.mode", "laser"),
    ("packets.speed", 1, "packets.speed", "unknown key"),
    ("flows[0].interval_ms", 0, "flows[0].interval_ms", "0.1"),
    ("flows[0].size_bytes", 8, "flows[0].size_bytes", "16"),
    ("flows[1].rate_mbps", 0, "flows[1].rate_mbps", "greater than 0"),
    ("flows[1].size_bytes", 65_508, "flows[1].size_bytes", "65507"),
    ("flows[1].size_bytes", 11, "flows[1].size_bytes", "12"),
    ("flows[1].dst", "Mariupol", "flows[1]", "its own src"),
    ("flows[1].rate_mbps", 20_000.0, "flows[1]", "packets/s"),
    ("flows[2].stop_s", 5, "flows[2]", "stop_s = 5 must be after start_s = 10"),
    ("flows[2].congestion", "vegas", "flows[2].congestion", "bbr"),
    ("flows[2].count", 0, "flows[2].count", "greater than or equal to 1"),
    ("flows[2].max_bytes", 0, "flows[2].max_bytes", "greater than or equal to 1"),
    ("flows[3].interval_s", 0, "flows[3].interval_s", "greater than 0"),
    ("flows[4].followers", ["Kyiv", "Kyiv"], "flows[4]", "more than once"),
    ("flows[4].followers", ["Mariupol"], "flows[4]", "its own followers"),
    ("flows[4].server", "Mariupol", "flows[4]", "its own src"),
    ("flows[4].photo_share", 1.5, "flows[4].photo_share", "less than or equal to 1"),
    ("flows[4].every_s", 0, "flows[4].every_s", "greater than 0"),
    ("flows[4].dst", "Kyiv", "flows[4].dst", "unknown key"),
    ("flows[0].kind", "icmp", "flows[0]", "kind must be one of"),
    ("flows[0].name", _DEL, "flows[0].name", "missing"),
    ("flows[1].name", "ping-mariupol", "flows", "already used by flows[0]"),
    ("flows[0].name", "bulk-2", "flows", "already used"),  # against bulk's count copies
]


@pytest.mark.parametrize(("path", "value", "where", "words"), BAD,
                         ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_bad_inputs_name_the_key(path, value, where, words):
    doc = _set(_good(), path, value)
    if where is None:
        validate_packet_tables(doc)  # a valid value, for contrast
        return
    with pytest.raises(InputError) as info:
        validate_packet_tables(doc)
    assert info.value.where == where, str(info.value)
    assert words in info.value.message, info.value.message
    assert info.value.hint


def test_packet_window_order():
    with pytest.raises(InputError) as info:
        validate_packet_tables({"packets": {"start_s": 10, "stop_s": 10}})
    assert info.value.where == "packets"
    assert "stop_s = 10 must be after start_s = 10" in info.value.message


def test_check_flows_against_the_scenario():
    flows = validate_packet_tables(_good()).flows
    sites = ["Mariupol", "Kyiv"]
    check_flows(flows, sites, start_s=0, end_s=120, city_names=["Warsaw"])
    cases = [
        (dict(site_names=["Kyiv"]), "flows[0].src", "'Mariupol' is not a site"),
        (dict(site_names=["Mariupol"]), "flows[1].dst", "'Kyiv' is not a site"),
        (dict(city_names=[]), "flows[4].followers", "'Warsaw'"),
        (dict(end_s=50), "flows[2].stop_s", "after the packet run's end"),
        (dict(start_s=20), "flows[0].start_s", "outside the packet run"),
    ]
    for change, where, words in cases:
        kw = {"site_names": sites, "start_s": 0.0, "end_s": 120.0, "city_names": ["Warsaw"],
              **change}
        with pytest.raises(InputError) as info:
            check_flows(flows, **kw)
        assert info.value.where == where, (change, str(info.value))
        assert words in info.value.message
    with pytest.raises(InputError):
        check_flows(flows, sites, start_s=10, end_s=10, city_names=["Warsaw"])


def test_expand_flows():
    layer = validate_packet_tables(_good())
    inst = expand_flows(layer.flows, layer.packets, end_s=120.0)
    assert [f.name for f in inst] == flow_names(layer.flows)
    bulk = [f for f in inst if f.kind == "tcp_bulk"]
    assert [(f.copy, f.table, f.start_s, f.stop_s, f.congestion) for f in bulk] == [
        (k, 2, 10.0, 60.0, "ns3::TcpBbr") for k in range(3)]
    by = {f.name: f for f in inst}
    assert by["web"].congestion == "ns3::TcpCubic"  # the section's default
    assert by["ping-mariupol"].congestion is None
    assert (by["posts"].dst, by["posts"].stop_s) == ("internet", 120.0)
    assert by["video"].dst == "Kyiv"


def test_link_rates_priority():
    d = link_rates()
    assert (d.isl_mbps, d.gsl_mbps, d.feeder_mbps, d.fibre_mbps) == (
        DEFAULT_ISL_MBPS, DEFAULT_GSL_MBPS, DEFAULT_FEEDER_MBPS, DEFAULT_FIBRE_MBPS)
    assert set(d.sources.values()) == {"default"}
    r = link_rates(PacketsSection(isl_mbps=500.0), capacity_isl_mbps=100_000.0,
                   capacity_feeder_mbps=8_000.0, capacity_fibre_mbps=float("inf"),
                   capacity_gsl_mbps=0.0)
    assert (r.isl_mbps, r.feeder_mbps, r.fibre_mbps, r.gsl_mbps) == (
        500.0, 8000.0, DEFAULT_FIBRE_MBPS, DEFAULT_GSL_MBPS)
    assert r.sources == {"isl_mbps": "scenario", "gsl_mbps": "default",
                         "feeder_mbps": "capacity model", "fibre_mbps": "default"}


def test_models_are_frozen_and_strict():
    f = PingFlow(kind="ping", name="p", src="A")
    with pytest.raises(Exception):  # noqa: B017 (pydantic's frozen error)
        f.src = "B"
    with pytest.raises(Exception):  # noqa: B017
        TcpBulkFlow(kind="tcp_bulk", name="b", src="A", count="2")
    assert MessagesFlow(kind="messages", name="m", src="A").followers == []


def test_scalar_types_match_the_scenario_model():
    # spec.py defines model.py's strict types again (model.py imports spec.py): keep them equal
    from leosim.packet import spec
    from leosim.scenario import model

    assert spec._Strict.model_config == model._Strict.model_config
    for name in ("Float", "Int", "Str"):
        assert getattr(spec, name) == getattr(model, name), name
