"""The packet layer's summary, console answer and figures (issue 11), on hand-made frames.

Pure Python (no ns-3). Oracles:

- percentiles: numpy.percentile's linear rule recomputed here by hand from the sorted values
  (rank (n - 1) p / 100, linear between neighbours): equal to float rounding (1e-12);
- message accounting: sent = delivered + queued (states "queued" and "sending") and lost = 0;
  a row with an unknown state counts as lost;
- follower delivery times: delivered_s - created_s of the joined message, by hand;
- figures: drawn to PNG (the PNG signature, a non-trivial size) and the plotted points equal to
  the frames' values.
"""

from __future__ import annotations

import io
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from leosim.packet.answer import packet_answer_lines, packet_summary
from leosim.report import packets as P

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXACT = 1e-12


def _by_hand(values, p):
    v = sorted(values)
    r = (len(v) - 1) * p / 100
    lo = math.floor(r)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (r - lo)


WAITS = [1.2, 0.8, 2.5, 37.0, 1.8, 3.1, 0.9, 12.0, 1.5, 2.2]  # delivered, seconds


def _messages() -> pd.DataFrame:
    n = len(WAITS)
    created = np.arange(n) * 30.0
    rows = pd.DataFrame({
        "message": np.arange(n), "flow": "posts", "kind": ["text", "photo"] * (n // 2),
        "size_bytes": 2000, "created_s": created, "first_byte_s": created + 0.1,
        "server_s": created + np.array(WAITS), "attempts": [1, 1, 1, 3, 1, 1, 1, 2, 1, 1],
        "state": "delivered", "wait_s": np.array(WAITS),
        "reason": ["none"] * 3 + ["jammed"] + ["none"] * 6})
    queued = pd.DataFrame({
        "message": [10, 11], "flow": "posts", "kind": "text", "size_bytes": 2000,
        "created_s": [300.0, 310.0], "first_byte_s": [np.nan, 310.1],
        "server_s": np.nan, "attempts": [0, 1], "state": ["queued", "sending"],
        "wait_s": np.nan, "reason": "outage"})
    return pd.concat([rows, queued], ignore_index=True)


def _deliveries() -> pd.DataFrame:
    m = _messages()
    ok = m[m["state"] == "delivered"]
    kyiv = pd.DataFrame({"message": ok["message"], "follower": "Kyiv",
                         "delivered_s": ok["server_s"] + 0.05 * (1 + ok["message"])})
    warsaw = pd.DataFrame({"message": m["message"], "follower": "Warsaw",
                           "delivered_s": np.where(m["state"] == "delivered",
                                                   m["server_s"] + 0.2, np.nan)})
    return pd.concat([kyiv, warsaw], ignore_index=True)


RTTS = [42.1, 40.0, np.nan, 41.5, 55.0, np.nan, 43.3, 40.7, 44.4, 47.9]
EXPECTED = [42.0, 39.9, np.nan, 41.4, 40.0, 41.0, 43.2, 40.6, 44.3, 47.8]


def _pings() -> pd.DataFrame:
    return pd.DataFrame({"flow": "ping", "seq": np.arange(10), "sent_s": np.arange(10.0),
                         "rtt_ms": RTTS, "expected_rtt_ms": EXPECTED})


def _series() -> pd.DataFrame:
    t = np.arange(1, 41) * 0.5
    rx = np.where(t < 10, 8.0, 6.0)
    rx[(t > 12) & (t <= 13)] = 0.0
    cw = np.where(t < 10, 60_000.0, 30_000.0)
    tcp = pd.DataFrame({"flow": "bulk", "kind": "tcp_bulk", "t_s": t, "tx_mbps": rx + 0.2,
                        "rx_mbps": rx, "cwnd_bytes": cw, "rtt_ms": 45.0 + t,
                        "retransmissions": (t == 10).astype(int) * 4, "lost_packets": 0})
    udp = pd.DataFrame({"flow": "video", "kind": "udp_cbr", "t_s": t, "tx_mbps": 2.0,
                        "rx_mbps": np.where(t == 12.5, 1.0, 2.0), "cwnd_bytes": np.nan,
                        "rtt_ms": np.nan, "retransmissions": 0,
                        "lost_packets": (t == 12.5).astype(int) * 52})
    return pd.concat([tcp, udp], ignore_index=True)


def _changes() -> pd.DataFrame:
    return pd.DataFrame({"flow": ["bulk", "bulk", "video"], "t_s": [10.0, 15.0, 10.0],
                         "rtt_before_ms": [50.0, 60.0, 50.0], "rtt_after_ms": [60.0, 52.0, 60.0],
                         "hops_before": [4, 5, 4], "hops_after": [5, 4, 5]})


def _specs():
    return [SimpleNamespace(name="posts", src="Mariupol", dst="internet", congestion=None),
            SimpleNamespace(name="ping", src="Mariupol", dst="internet", congestion=None),
            SimpleNamespace(name="bulk", src="Mariupol", dst="internet",
                            congestion="ns3::TcpCubic"),
            SimpleNamespace(name="video", src="Mariupol", dst="Kyiv", congestion=None)]


@pytest.fixture(scope="module")
def summary() -> dict:
    return packet_summary(_series(), _pings(), _messages(), _deliveries(), _changes(),
                          specs=_specs(), end_s=400.0)


def test_message_accounting_and_percentiles(summary):
    m = summary["messages"]["posts"]
    assert (m["sent"], m["delivered"], m["queued"], m["sending"], m["lost"]) == (12, 10, 2, 1, 0)
    assert m["retries"] == 2 + 1 - 1  # attempts - 1 summed: 3 -> 2, 2 -> 1, queued 0 -> -1
    for p in (50, 90, 99):
        assert abs(m[f"wait_p{p}_s"] - _by_hand(WAITS, p)) <= EXACT, p
    assert m["wait_max_s"] == 37.0
    assert m["longest"] == {"message": 3, "created_s": 90.0, "wait_s": 37.0, "reason": "jammed"}
    assert m["oldest_queued_s"] == 400.0 - 300.0
    kyiv = [w + 0.05 * (1 + k) for k, w in enumerate(WAITS)]
    assert abs(m["followers"]["Kyiv"]["p50_s"] - _by_hand(kyiv, 50)) <= EXACT
    assert abs(m["followers"]["Kyiv"]["p99_s"] - _by_hand(kyiv, 99)) <= EXACT
    assert m["followers"]["Warsaw"]["delivered"] == 10
    assert m["followers"]["Warsaw"]["pending"] == 2
    assert abs(m["followers"]["Warsaw"]["p50_s"] - _by_hand([w + 0.2 for w in WAITS], 50)) \
        <= EXACT


def test_unknown_state_counts_as_lost():
    m = _messages()
    m.loc[11, "state"] = "vanished"
    s = packet_summary(None, None, m, None, None)
    assert (s["messages"]["posts"]["queued"], s["messages"]["posts"]["lost"]) == (1, 1)
    lines = packet_answer_lines(s)
    assert any("1 message(s) neither delivered nor queued" in x for x in lines)


def test_ping_and_series_stats(summary):
    p = summary["flows"]["ping"]
    ok = [r for r in RTTS if not math.isnan(r)]
    assert (p["sent"], p["received"], p["lost"], p["lost_share"]) == (10, 8, 2, 0.2)
    for q in (50, 90, 99):
        assert abs(p[f"rtt_p{q}_ms"] - _by_hand(ok, q)) <= EXACT
    assert p["rtt_min_ms"] == 40.0
    assert p["lost_without_route"] == 1  # probe 2 (no expected RTT); probe 5 had a route
    assert abs(p["max_abs_excess_ms"] - 15.0) <= 1e-9  # 55.0 vs 40.0
    b = summary["flows"]["bulk"]
    rx = np.where(np.arange(1, 41) * 0.5 < 10, 8.0, 6.0)
    rx[(np.arange(1, 41) * 0.5 > 12) & (np.arange(1, 41) * 0.5 <= 13)] = 0.0
    assert abs(b["rx_mean_mbps"] - rx.sum() / 40) <= EXACT
    assert (b["path_changes"], b["retransmissions"], b["congestion"]) == (2, 4, "cubic")
    assert (b["cwnd_median_bytes"], b["cwnd_max_bytes"]) == (30_000.0, 60_000.0)
    v = summary["flows"]["video"]
    assert (v["lost_packets"], v["path_changes"], v["tx_mean_mbps"]) == (52, 1, 2.0)
    assert abs(v["rx_mean_mbps"] - (39 * 2.0 + 1.0) / 40) <= EXACT
    assert summary["flows"]["posts"]["kind"] == "messages"


def test_summary_is_json_safe(summary):
    text = json.dumps(summary, allow_nan=False)  # raises on NaN / inf
    assert json.loads(text) == summary


def test_answer_lines(summary):
    lines = packet_answer_lines(summary)
    assert lines[0] == ("posts from Mariupol: 12 sent, 10 delivered, 2 queued; median 2.0 s, "
                        f"p99 {_by_hand(WAITS, 99):.1f} s, longest wait 37.0 s (posted at 90 s, "
                        "during an outage: jammed); oldest queued 100 s")
    # what the posts met (summary.json: messages.*.by_reason), counts adding up to those sent
    assert lines[1] == ("  by what they met: route up 9 (median 1.8 s), the jammer 1 (median "
                        "37.0 s), an outage 2 (median –)")
    assert lines[2].startswith("  to followers, median: Kyiv ")
    assert "Warsaw 2.2 s (2 pending)" in lines[2]
    ping = next(x for x in lines if x.startswith("ping "))
    ok = [r for r in RTTS if r == r]
    # propagation p50 over the answered probes with a route: 42.0 39.9 41.4 40.0 43.2 40.6
    # 44.3 47.8 -> (41.4 + 42.0) / 2 = 41.7
    assert ping == (f"ping Mariupol -> internet: RTT p50 {_by_hand(ok, 50):.1f} ms, p99 "
                    f"{_by_hand(ok, 99):.1f} ms (propagation p50 41.7 ms), lost 20.0% (1 of 2 "
                    "during outages)")
    tcp = next(x for x in lines if x.startswith("TCP bulk"))
    # goodput: (19 samples x 8 + 2 x 0 + 19 x 6 Mbit/s) / 40 = 6.65
    assert tcp.startswith("TCP bulk Mariupol -> internet (cubic): mean goodput 6.65 Mbit/s, "
                          "2 path changes, cwnd median 30 kB, max 60 kB, 4 retransmissions")
    udp = next(x for x in lines if x.startswith("UDP"))
    assert "52 packets lost" in udp and "Mariupol -> Kyiv" in udp


def test_many_flows_are_summed_up():
    fs = pd.concat([_series().assign(flow=lambda d, k=k: d["flow"] + f"-{k}")
                    for k in range(6)], ignore_index=True)
    lines = packet_answer_lines(packet_summary(fs, None, None, None, None))
    assert len(lines) == 2
    assert lines[0].startswith("6 TCP bulk flows: mean goodput median 6.65 Mbit/s")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def test_figures_draw_the_data():
    fig = P.tcp_timeline(_series(), _changes(), windows=[{"name": "jammer", "start_s": 12.0,
                                                          "end_s": 13.0}])
    ax_r, ax_c = fig.axes[0], fig.axes[1]
    t, y = ax_r.lines[0].get_data()
    s = _series()
    s = s[s["flow"] == "bulk"]
    assert np.array_equal(t, s["t_s"].to_numpy()) and np.array_equal(y, s["rx_mbps"])
    assert np.array_equal(ax_c.lines[0].get_ydata(), s["cwnd_bytes"].to_numpy() / 1e3)
    vlines = [ln for ln in ax_r.lines[1:] if ln.get_linestyle() == ":"]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [10.0, 15.0]
    assert len(fig.axes) == 2  # only the TCP flow, not the UDP one

    fig = P.ping_timeline(_pings())
    dots = fig.axes[0].lines[0]
    ok = ~np.isnan(RTTS)
    assert np.array_equal(dots.get_ydata(), np.array(RTTS)[ok])

    fig = P.message_times(_messages(), end_s=400.0)
    offsets = np.vstack([c.get_offsets() for c in fig.axes[0].collections])
    assert {37.0, 100.0, 90.0} <= set(np.round(offsets[:, 1], 9))  # a delivered, both queued

    fig = P.delivery_cdf(_messages(), _deliveries())
    server = fig.axes[0].lines[0]
    assert server.get_xdata().tolist() == sorted(WAITS)
    # levels over all 12 posted messages: the last delivered one is at 10 / 12
    assert abs(server.get_ydata()[-1] - 10 / 12) <= EXACT
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["server (10 of 12)", "follower Kyiv (10 of 12)",
                      "follower Warsaw (10 of 12)"]


@pytest.mark.parametrize("make", ["tcp", "ping", "messages", "message_cdf"])
def test_registered_figures_write_png(tmp_path, summary, make):
    (tmp_path / "packets").mkdir()
    _series().to_parquet(tmp_path / "packets" / "flows.parquet")
    _pings().to_parquet(tmp_path / "packets" / "pings.parquet")
    _messages().to_parquet(tmp_path / "packets" / "messages.parquet")
    _deliveries().to_parquet(tmp_path / "packets" / "deliveries.parquet")
    _changes().to_parquet(tmp_path / "packets" / "path_changes.parquet")
    data = SimpleNamespace(out_dir=tmp_path, summary={"packets": summary, "threats": []})
    spec = {s["name"]: s for s in P.PACKET_FIGURES}[make]
    assert spec["available"](data)
    png = _png(spec["make"](data))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000
    empty = SimpleNamespace(out_dir=tmp_path / "nothing", summary={})
    assert not spec["available"](empty)


def test_empty_frames_draw_a_note():
    for fig in (P.tcp_timeline(pd.DataFrame()), P.ping_timeline(pd.DataFrame()),
                P.message_times(pd.DataFrame()), P.delivery_cdf(pd.DataFrame())):
        assert _png(fig).startswith(PNG_SIGNATURE)
        assert fig.texts and fig.texts[0].get_text().startswith("no ")
