"""The 3D viewer: CZML scene, local server, and the page in headless Chromium.

Server and CZML tests need neither a browser nor CesiumJS (a stand-in Cesium folder is used);
browser tests need /usr/bin/chromium, Playwright and the Cesium build (``make viewer-assets``).
The scenario is small: two Walker shells (200 satellites), four cities, a gateway destroyed from
minute 2 to 5 and a jammer on from minute 1 to 6:40; 10 minutes at 10 s steps, laser mesh.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leosim.capacity.linkbudget import radio_horizon_km
from leosim.engine.run import run_scenario
from leosim.errors import InputError
from leosim.scenario.build import build_scenario
from leosim.scenario.load import validate
from leosim.timebase import parse_epoch
from leosim.viewer import assets, czml, server
from leosim.viewer.czml import write_czml

EPOCH = "2022-03-15T12:00:00Z"
DURATION_S, STEP_S = 600, 10
N_SATS = 12 * 10 + 10 * 8
CHROMIUM = "/usr/bin/chromium"
# Flags from docs of this project's machines (shared/reference/offline-maps.md); the resolver rule
# makes any name other than 127.0.0.1 unresolvable, so a request leaving the machine would fail.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

SCENARIO = {
    "scenario": {"name": "viewer test", "epoch": EPOCH, "duration_s": DURATION_S,
                 "step_s": STEP_S, "modes": ["laser"]},
    "constellation": {"shells": [
        {"name": "a", "altitude_km": 550, "inclination_deg": 53, "planes": 12,
         "sats_per_plane": 10},
        {"name": "b", "altitude_km": 1100, "inclination_deg": 70, "planes": 10,
         "sats_per_plane": 8}]},
    "links": {"isl": "plus_grid", "min_elevation_deg": 10, "fibre": "none"},
    "ground": {"cities": ["London", "Madrid", "Berlin", "New York City"], "gateways": "none",
               "pops": "none",
               "sites": [{"name": "GW_X", "kind": "gateway", "lat_deg": 50.0, "lon_deg": 5.0}]},
    "routing": {"pairs": "all", "to_internet": "none"},
    "threats": [
        {"type": "destroy", "name": "gateway hit", "sites": ["GW_X"], "start_s": 120,
         "end_s": 300},
        {"type": "jam", "name": "J1", "lat_deg": 52.0, "lon_deg": 0.0, "alt_km": 5.0,
         "eirp_dbw": 40, "band": "both", "start_s": 60, "end_s": 400},
    ],
}


def _iso(t_s: float) -> str:
    return czml.iso(parse_epoch(EPOCH), t_s)


def _parse(text: str) -> datetime:
    return parse_epoch(text)


def _contains(avail: str | list[str], when: datetime) -> bool:
    spans = [avail] if isinstance(avail, str) else avail
    for span in spans:
        a, b = span.split("/")
        if _parse(a) <= when <= _parse(b):
            return True
    return False


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple:
    """(scenario, output folder with routes.parquet and scene.czml, CZML packets)."""
    out = tmp_path_factory.mktemp("viewer-run")
    scn = build_scenario(validate(SCENARIO))
    run_scenario(scn, out)
    write_czml(scn, out)
    packets = json.loads((out / "scene.czml").read_text(encoding="utf-8"))
    return scn, out, packets


@pytest.fixture(scope="module")
def routes(run_dir) -> pd.DataFrame:
    _, out, _ = run_dir
    return pd.read_parquet(out / "routes.parquet")


def _by_id(packets: list[dict]) -> dict[str, dict]:
    return {p["id"]: p for p in packets}


def _changing_route(routes: pd.DataFrame) -> tuple[str, str, float, list[int], float, list[int]]:
    """A pair whose path differs between two steps (both reachable): (src, dst, t1, p1, t2, p2)."""
    for (src, dst), g in routes.groupby(["src", "dst"], sort=False):
        g = g[g.rtt_ms.notna()].sort_values("time_s")
        paths = [list(p) for p in g.path]
        for i in range(1, len(paths)):
            if paths[i] != paths[i - 1]:
                t = g.time_s.to_numpy()
                return src, dst, float(t[i - 1]), paths[i - 1], float(t[i]), paths[i]
    pytest.fail("no route changes its path in the test scenario")


# --- CZML --------------------------------------------------------------------------------------


def test_one_satellite_entity_per_satellite_in_the_fixed_frame(run_dir):
    scn, _, packets = run_dir
    sats = [p for p in packets if p["id"].startswith("sat/")]
    assert len(sats) == scn.network.constellation.n_sats == N_SATS
    assert [p["name"] for p in sats] == scn.network.constellation.sat_ids.astype(str).tolist()
    pos = sats[0]["position"]
    assert pos["referenceFrame"] == "FIXED" and pos["interpolationAlgorithm"] == "LAGRANGE"
    assert pos["epoch"] == _iso(0)
    samples = np.array(pos["cartesian"], dtype=float).reshape(-1, 4)
    # Samples cover the whole clock: from 0 to the duration, evenly.
    assert samples[0, 0] == 0 and samples[-1, 0] == DURATION_S
    step = czml.default_sample_s(DURATION_S, N_SATS)
    assert np.allclose(np.diff(samples[:, 0]), step)
    # Each sample is the propagated Earth-fixed position, in metres (rounded to 1 m).
    want = scn.network.constellation.propagate(samples[:, 0]).ecef_km[:, 0] * 1000.0
    assert np.abs(samples[:, 1:] - want).max() <= 0.5 + 1e-6


def test_document_clock_spans_the_scenario(run_dir):
    _, _, packets = run_dir
    doc = packets[0]
    assert doc["id"] == "document" and doc["version"] == "1.0"
    assert doc["clock"]["interval"] == f"{_iso(0)}/{_iso(DURATION_S)}"
    assert doc["clock"]["currentTime"] == _iso(0)


def test_sites_by_kind_and_destroyed_interval(run_dir):
    scn, _, packets = run_dir
    by_id = _by_id(packets)
    names = scn.network.ground.names.tolist()
    k_gw, k_london = names.index("GW_X"), names.index("London")
    assert by_id[f"site/{k_london}"]["point"]["color"] == {"rgba": czml.KIND_RGBA["terminal"]}
    marker = by_id[f"destroyed/{k_gw}"]
    # Destroyed from t = 120 s to its repair at t = 300 s.
    assert marker["availability"] == f"{_iso(120)}/{_iso(300)}"
    colours = by_id[f"site/{k_gw}"]["point"]["color"]
    during = [c for c in colours if c["rgba"] == czml.DESTROYED_RGBA]
    assert [c["interval"] for c in during] == [f"{_iso(120)}/{_iso(300)}"]
    assert {c["rgba"] == czml.KIND_RGBA["gateway"] for c in colours} == {True, False}
    # No other site is ever marked destroyed.
    assert [p["id"] for p in packets if p["id"].startswith("destroyed/")] == [f"destroyed/{k_gw}"]


def test_jammer_ellipse_is_its_radio_horizon_while_on(run_dir):
    scn, _, packets = run_dir
    jam = _by_id(packets)["jammer/0"]
    assert jam["availability"] == f"{_iso(60)}/{_iso(400)}"
    # 5 km up, terminals 2 m up: 4.12 (sqrt 5000 + sqrt 2) km = 297 km.
    want_m = float(radio_horizon_km(5000.0, scn.network.radio.terminal_height_m)) * 1000.0
    assert jam["ellipse"]["semiMajorAxis"] == pytest.approx(want_m)
    assert 290e3 < want_m < 300e3
    assert "jammer/0/uplink" in _by_id(packets)  # band = "both" also jams satellites


def test_path_entities_follow_the_routes(run_dir, routes):
    scn, out, packets = run_dir
    meta = json.loads((out / "viewer.json").read_text(encoding="utf-8"))
    names = np.concatenate([scn.network.constellation.sat_ids.astype(str),
                            scn.network.ground.names.astype(str)])
    epoch = parse_epoch(EPOCH)
    paths = [p for p in packets if p["id"].startswith("path/")]
    # Every route of the scenario is in the scene (6 pairs of the 4 cities): a scene without
    # routes must not pass the loop below vacuously.
    assert [(p["src"], p["dst"]) for p in meta["pairs"]] == [tuple(n) for n in scn.pair_names]
    assert len(meta["pairs"]) == 6
    drawn = 0
    for pair in meta["pairs"]:
        mine = [p for p in paths if p["properties"]["pair"] == pair["index"]]
        rows = routes[(routes.src == pair["src"]) & (routes.dst == pair["dst"])]
        assert len(rows) == DURATION_S // STEP_S
        for t, path in zip(rows.time_s, rows.path, strict=True):
            when = epoch + timedelta(seconds=float(t))
            live = [p for p in mine if _contains(p["availability"], when)]
            if len(path) == 0:
                assert live == []
                continue
            # Exactly one path entity at each step, through the route's nodes.
            assert len(live) == 1, (pair, t)
            drawn += 1
            assert json.loads(live[0]["properties"]["nodes"]) == names[list(path)].tolist()
            refs = live[0]["polyline"]["positions"]["references"]
            assert len(refs) == len(path)
    # One drawn path per reachable pair-step: as many as routes.parquet has non-empty paths.
    assert drawn == int((routes.path.map(len) > 0).sum()) > 0


def test_demo_scene_stays_small():
    """The 5 May 2022 fleet (2,191 satellites), 30 minutes: well under 20 MB without routes."""
    from importlib import resources

    from leosim.api import load_scenario

    with resources.as_file(resources.files("leosim.data") / "mariupol.toml") as path:
        scn = load_scenario(path)
    with tempfile.TemporaryDirectory() as tmp:
        size = write_czml(scn, tmp).stat().st_size
    assert scn.network.constellation.n_sats == 2191
    assert size < 20e6


def test_write_czml_rejects_bad_arguments(run_dir, tmp_path):
    scn, _, _ = run_dir
    with pytest.raises(InputError):
        write_czml(scn, tmp_path, sample_s=0)
    with pytest.raises(InputError):
        write_czml(scn, tmp_path, mode="carrier_pigeon")


# --- server ------------------------------------------------------------------------------------


@pytest.fixture()
def fake_assets(tmp_path, monkeypatch) -> Path:
    """A stand-in Cesium build under LEOSIM_ASSETS (the server only needs the files)."""
    root = tmp_path / "assets"
    cesium = root / "cesium"
    (cesium / "Workers").mkdir(parents=True)
    (cesium / "Cesium.js").write_text("var Cesium = {};\n")
    (cesium / "Workers" / "w.js").write_text("// worker\n")
    (cesium / assets.STAMP).write_text('{"version": "test"}\n')
    monkeypatch.setenv(assets.ENV_VAR, str(root))
    return cesium


@pytest.fixture()
def served(tmp_path, fake_assets):
    """A server of a run folder; next to it a secret file that must stay unreachable."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "scene.czml").write_text('[{"id": "document", "version": "1.0"}]')
    (out / "viewer.json").write_text('{"pairs": []}')
    (out / "routes.parquet").write_text("not for the browser")
    (tmp_path / "secret.txt").write_text("SECRET")
    os.symlink(tmp_path / "secret.txt", fake_assets / "link.txt")
    os.symlink(tmp_path, fake_assets / "up")
    srv, url = server.serve(out)
    yield srv, url
    srv.shutdown()
    srv.server_close()


def _get(srv, target: str, method: str = "GET", host: str | None = None) -> tuple[int, bytes]:
    h, p = srv.server_address[:2]
    conn = http.client.HTTPConnection(h, p, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"{h}:{p}")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_server_binds_loopback_and_serves_the_viewer(served):
    srv, url = served
    assert srv.server_address[0] == "127.0.0.1" and url.startswith("http://127.0.0.1:")
    assert _get(srv, "/")[0] == 200
    assert b"viewer.js" in _get(srv, "/index.html")[1]
    assert _get(srv, "/viewer.js")[0] == 200
    assert _get(srv, "/cesium/Cesium.js") == (200, b"var Cesium = {};\n")
    assert _get(srv, "/cesium/Workers/w.js?x=1")[0] == 200
    assert _get(srv, "/scene.czml")[0] == 200
    assert _get(srv, "/viewer.json")[0] == 200
    assert _get(srv, "/scene.czml", method="HEAD") == (200, b"")


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/cesium/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
    "/cesium/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/cesium/..%2f..%2fsecret.txt",
    "/%252e%252e/secret.txt", "/cesium/..%5c..%5csecret.txt", "/cesium\\..\\..\\secret.txt",
    "//etc/passwd", "http://127.0.0.1/../secret.txt", "*", "/cesium/./Cesium.js",
    "/.leosim-cesium.json", "/cesium/%00", "/C:/Windows/win.ini",
])
def test_server_refuses_traversal(served, target):
    srv, _ = served
    status, body = _get(srv, target)
    assert status in (400, 403, 404)
    assert b"SECRET" not in body


@pytest.mark.parametrize("target", [
    "/etc/passwd", "/secret.txt", "/routes.parquet", "/cesium/link.txt", "/cesium/up/secret.txt",
    "/cesium/", "/cesium/Workers",
])
def test_files_outside_the_root_are_unreachable(served, target):
    srv, _ = served
    status, body = _get(srv, target)
    assert status == 404 and b"SECRET" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_server_allows_only_get_and_head(served, method):
    srv, _ = served
    assert _get(srv, "/index.html", method=method)[0] == 405


def test_server_refuses_foreign_host_headers(served):
    srv, _ = served  # DNS rebinding: a page of evil.example resolved to 127.0.0.1
    assert _get(srv, "/scene.czml", host="evil.example:80")[0] == 403
    assert _get(srv, "/scene.czml", host="localhost")[0] == 200


def test_serve_explains_a_missing_scene_or_cesium(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="scene.czml"):
        server.serve(tmp_path)
    (tmp_path / "scene.czml").write_text("[]")
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path / "nothing"))
    with pytest.raises(InputError, match="viewer-assets"):
        server.serve(tmp_path)


def test_view_command_prints_the_url(served, tmp_path, monkeypatch, capsys):
    from leosim.viewer import cli

    with pytest.raises(InputError, match="leosim run"):
        cli.view(tmp_path / "missing", no_browser=True)
    monkeypatch.setattr(cli, "_block", lambda: None)
    cli.view(tmp_path / "run", port=0, no_browser=True)
    assert "http://127.0.0.1:" in capsys.readouterr().out


# --- the page in headless Chromium -------------------------------------------------------------


def _browser_skip_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    if not assets.is_installed():
        return (f"the CesiumJS build is missing at {assets.cesium_dir(required=False)} "
                f"({assets.INSTALL_HINT})")
    return None


@pytest.fixture(scope="module")
def page(run_dir):
    """The viewer of the test run, loaded once in headless Chromium; logs every request URL."""
    reason = _browser_skip_reason()
    if reason and os.environ.get("LEOSIM_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests required (LEOSIM_REQUIRE_BROWSER is set): {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    _, out, _ = run_dir
    srv, url = server.serve(out)
    user_dir = tempfile.mkdtemp(prefix="leosim-chromium-")
    requests: list[str] = []
    errors: list[str] = []
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                user_dir, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 800, "height": 600})
            pg = ctx.new_page()
            pg.on("request", lambda r: requests.append(r.url))
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(url)
            pg.wait_for_function("window.leosimViewer && (window.leosimViewer.ready || "
                                 "window.leosimViewer.error)", timeout=60_000)
            assert pg.evaluate("window.leosimViewer.error") is None, errors
            yield pg, url, requests, errors
            ctx.close()
    finally:
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(user_dir, ignore_errors=True)


def test_page_makes_no_request_outside_127_0_0_1(page):
    pg, url, requests, errors = page
    pg.wait_for_timeout(1000)
    assert requests, "no request was logged"
    origin = url.rstrip("/")
    outside = [u for u in requests
               if not (u.startswith(origin + "/") or u.startswith(f"blob:{origin}/")
                       or u.startswith("data:"))]
    assert outside == []
    assert any("/cesium/Assets/Textures/NaturalEarthII/" in u for u in requests)
    assert errors == []


def test_globe_is_drawn_with_imagery(page):
    from PIL import Image

    pg, *_ = page
    try:  # the globe's tiles (Natural Earth II, zoom 0-2) come from the local server
        pg.wait_for_function("window.leosimViewer.viewer.scene.globe.tilesLoaded",
                             timeout=15_000)
    except Exception:  # slow software rendering: the coarsest tiles suffice
        pass
    img = np.asarray(Image.open(io.BytesIO(pg.screenshot())).convert("RGB"))
    h, w, _ = img.shape
    # The globe's middle (the camera looks at the terminals, Europe): imagery, not a flat colour.
    centre = img[h // 2 - 80:h // 2 + 80, w // 2 - 80:w // 2 + 80].reshape(-1, 3)
    assert centre.std() > 15
    assert len(np.unique(centre, axis=0)) > 200
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1000


def test_page_has_every_satellite(page):
    pg, *_ = page
    assert pg.evaluate("window.leosimViewer.satelliteCount()") == N_SATS


def test_moving_the_time_changes_the_highlighted_path(page, run_dir, routes):
    pg, *_ = page
    scn, _, _ = run_dir
    src, dst, t1, p1, t2, p2 = _changing_route(routes)
    names = np.concatenate([scn.network.constellation.sat_ids.astype(str),
                            scn.network.ground.names.astype(str)])
    pairs = pg.evaluate("window.leosimViewer.pairs")
    index = next(p["index"] for p in pairs if p["src"] == src and p["dst"] == dst)
    pg.evaluate(f"window.leosimViewer.selectPair({index})")
    got = []
    for t in (t1, t2):
        pg.evaluate(f"window.leosimViewer.setTime({_iso(t)!r})")
        got.append(pg.evaluate("window.leosimViewer.highlightedPath()"))
    assert got[0] == names[p1].tolist()
    assert got[1] == names[p2].tolist()
    assert got[0] != got[1]
    rtt = routes[(routes.src == src) & (routes.dst == dst) & (routes.time_s == t2)].rtt_ms.item()
    assert pg.evaluate("window.leosimViewer.currentRtt()") == pytest.approx(rtt, abs=0.01)
    assert f"{rtt:.1f} ms" in pg.inner_text("#rtt")
