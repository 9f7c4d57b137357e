"""report.html and ``leosim plot``: every figure present, nothing fetched from the network, the
numbers shown equal those computed from the run's Parquet files, PNG/SVG output, bad input."""

from __future__ import annotations

import json
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leosim.cli import main
from leosim.errors import InputError
from leosim.report import FIGURES, write_report
from leosim.report.cli import plot, plot_app
from leosim.report.figures import snapshot, threat_shapes
from leosim.report.maps import LAND_FILE, auto_extent, circle_lonlat, land_rings
from leosim.scenario.build import build_scenario
from leosim.scenario.load import load_scenario_file

# A few cities, both modes, internet routes, a destroyed region with a repair time and a jammer.
SCENARIO = """\
[scenario]
name = "report test"
epoch = "2022-03-15T12:00:00Z"
duration_s = 40
step_s = 1
modes = ["laser", "bent_pipe"]

[constellation]
preset = "starlink-550"

[links]
terminal_policy = "best_elevation"

[ground]
cities = ["Paris", "Berlin", "Madrid"]
gateways = "starlink"
gateway_countries = ["FR", "DE", "ES", "GB", "IT"]
pops = "starlink"

[routing]
pairs = [["Paris", "Berlin"]]
to_internet = ["Madrid", "Paris"]

[[threats]]
type = "destroy"
name = "northern French gateways lost"
start_s = 10
end_s = 30
kinds = ["gateway"]
region = { lat_deg = 49.5, lon_deg = 1.0, radius_km = 450 }

[[threats]]
type = "jam"
name = "test jammer"
start_s = 20
lat_deg = 52.5
lon_deg = 13.4
eirp_dbw = 40
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Doc(HTMLParser):
    """Every start tag with its attributes, the summary table's cells and the h2 titles."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[dict[str, str]] = []
        self.h2: list[str] = []
        self._cell: str | None = None
        self._in_summary = False
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and a.get("class") == "summary":
            self._in_summary = True
        elif tag == "tr" and self._in_summary:
            self.rows.append({})
        elif tag == "td" and self._in_summary:
            self._cell = (a.get("class") or "").split()[0]
            self.rows[-1][self._cell] = ""
        elif tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_summary = False
        elif tag == "td":
            self._cell = None
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._cell is not None:
            self.rows[-1][self._cell] += data
        if self._in_h2:
            self.h2[-1] += data


def _parse(html: str) -> _Doc:
    doc = _Doc()
    doc.feed(html)
    doc.rows = [r for r in doc.rows if r]  # the header row has no <td>
    return doc


def _cli(*args) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return 0 if info.value.code is None else info.value.code


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scn") / "report.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def scenario(scenario_file):
    return build_scenario(load_scenario_file(scenario_file), base_dir=scenario_file.parent,
                          source=str(scenario_file))


@pytest.fixture(scope="module")
def run_dir(scenario_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert _cli("run", scenario_file, "-o", out, "-q") == 0
    return out


@pytest.fixture(scope="module")
def report_html(run_dir, scenario) -> str:
    path = write_report(run_dir, scenario=scenario)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def routes(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "routes.parquet")


# Figures every run has (the capacity figures need [[demand]]: tests/test_report_capacity.py).
ALWAYS = {n: s for n, s in FIGURES.items() if s.available is None}


def test_html_holds_every_figure(report_html):
    doc = _parse(report_html)
    svgs = [a for t, a in doc.tags if t == "svg" and "fig" in (a.get("class") or "")]
    assert len(svgs) == len(ALWAYS)
    for spec in ALWAYS.values():
        assert spec.title in doc.h2
        assert f'id="fig-{spec.name}"' in report_html
    assert report_html.count("<figure>") == len(ALWAYS)
    # Ids stay unique across the inline SVGs (each figure's ids are prefixed).
    ids = [a["id"] for _, a in doc.tags if "id" in a]
    assert len(ids) == len(set(ids))
    # Title, threats and run facts are there.
    assert "<h1>report test</h1>" in report_html
    assert "northern French gateways lost" in report_html
    assert "test jammer" in report_html
    assert "jammer at 52.50, 13.40" in report_html


def test_html_needs_no_network(report_html):
    doc = _parse(report_html)
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "xlink:href", "action", "data"):
            v = (attrs.get(name) or "").strip().lower()
            assert not v.startswith(("http://", "https://", "//")), (tag, name, v)
            assert v == "" or v.startswith(("#", "data:image/png;base64,")), (tag, name, v)
    assert not re.search(r"<script[^>]*\bsrc=", report_html, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", report_html, re.I)
    assert "@import" not in report_html
    # Stronger: no URL at all (inline SVGs carry no namespace URLs either).
    assert "http://" not in report_html and "https://" not in report_html


def test_html_numbers_match_parquet(report_html, routes):
    rows = _parse(report_html).rows
    ok = routes["rtt_ms"].notna()
    g = routes.assign(ok=ok).groupby(["mode", "src", "dst"], sort=False)
    expected = pd.DataFrame({
        "availability": g["ok"].mean(),
        "rtt_p50_ms": g["rtt_ms"].median(),
        "rtt_p95_ms": g["rtt_ms"].quantile(0.95),
    })
    assert len(rows) == len(expected) == 2 * 3
    shown = {(r["mode"].replace(" ", "_"), r["src"], r["dst"]): r for r in rows}
    for (mode, src, dst), e in expected.iterrows():
        r = shown[(mode, src, dst)]
        assert r["availability"] == f"{100 * e['availability']:.1f}%"
        for col in ("rtt_p50_ms", "rtt_p95_ms"):
            want = "–" if np.isnan(e[col]) else f"{e[col]:.1f}"
            assert r[col] == want, (mode, src, dst, col)
    # Some availability below 100% (the threats bite) so that the check is not trivial.
    assert (expected["availability"] < 1).any() and (expected["availability"] > 0).any()


def test_path_changes_and_threat_windows_from_summary(report_html, run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    shown = {(r["mode"].replace(" ", "_"), r["src"], r["dst"]): r["path_changes"]
             for r in _parse(report_html).rows}
    for p in summary["pairs"]:
        assert shown[(p["mode"], p["src"], p["dst"])] == str(p["path_changes"])
    assert [t["name"] for t in summary["threats"]] == ["northern French gateways lost",
                                                       "test jammer"]


def test_report_without_scenario_skips_coverage(run_dir, report_html, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    (out / "report.csv").unlink()  # the table is then computed from routes.parquet
    html = write_report(out).read_text(encoding="utf-8")
    doc = _parse(html)
    svgs = [a for t, a in doc.tags if t == "svg" and "fig" in (a.get("class") or "")]
    assert len(svgs) == len(ALWAYS) - 1
    assert "Skipped: this figure needs the scenario" in html
    assert "http://" not in html and "https://" not in html
    ref = {(r["mode"], r["src"], r["dst"]): r for r in _parse(report_html).rows}
    assert len(doc.rows) == len(ref)
    for r in doc.rows:  # same table from terminal_report as from report.csv
        assert r == ref[(r["mode"], r["src"], r["dst"])]
    assert not list(out.glob(".*.partial"))  # atomic write left no temporary file


def test_plot_png_and_svg(run_dir, scenario_file, tmp_path):
    runner = CliRunner()
    png = tmp_path / "rtt.png"
    res = runner.invoke(plot_app, [str(run_dir), "rtt", "-o", str(png), "--pair", "Paris",
                                   "Berlin", "--mode", "laser", "--dpi", "100"])
    assert res.exit_code == 0, res.output
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1000 and 250 < height < 1500  # 10 in at 100 dpi
    svg = tmp_path / "sub" / "map.svg"
    res = runner.invoke(plot_app, [str(run_dir), "map", "-o", str(svg), "--scenario",
                                   str(scenario_file)])
    assert res.exit_code == 0, res.output
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert not list(svg.parent.glob(".*"))
    cov = tmp_path / "cov.png"
    plot(run_dir, "coverage", cov, scenario=scenario_file, time=5.0)
    assert cov.read_bytes()[:8] == PNG_SIGNATURE
    for name in ("availability", "outages", "cdf", "hops"):
        plot(run_dir, name, tmp_path / f"{name}.svg", mode="bent_pipe")
        assert ET.parse(tmp_path / f"{name}.svg").getroot().tag.endswith("svg")


@pytest.mark.parametrize("kwargs, message", [
    ({"figure": "nope"}, "unknown figure 'nope'"),
    ({"output": "x.jpg"}, "must end in .png or .svg"),
    ({"figure": "coverage"}, "needs the run's scenario"),
    ({"pair": ("Paris", "Lyon")}, "is not in the run"),
    ({"mode": "radio"}, "mode 'radio' is not in the run"),
])
def test_plot_bad_input(run_dir, tmp_path, kwargs, message):
    args = {"directory": run_dir, "figure": "rtt", "output": tmp_path / "f.png"} | kwargs
    args["output"] = tmp_path / Path(args["output"]).name
    with pytest.raises(InputError, match=re.escape(message)):
        plot(**args)
    assert not (tmp_path / "f.png").exists()


def test_plot_folder_without_routes(tmp_path):
    with pytest.raises(InputError, match="has no routes.parquet"):
        plot(tmp_path, "rtt", tmp_path / "f.png")
    with pytest.raises(InputError, match="does not exist"):
        plot(tmp_path / "missing", "rtt", tmp_path / "f.png")
    with pytest.raises(InputError, match="has no routes.parquet"):
        write_report(tmp_path)


def test_scenario_must_match_folder(run_dir, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(SCENARIO.replace('"Berlin", "Madrid"]', '"Berlin", "Rome"]').replace(
        'to_internet = ["Madrid", "Paris"]', 'to_internet = ["Rome"]'))
    with pytest.raises(InputError, match="does not match the output folder"):
        plot(run_dir, "map", tmp_path / "m.png", scenario=other)


def test_leosim_plot_command_when_registered(run_dir, tmp_path):
    from leosim.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    if "plot" not in names:
        pytest.skip("`leosim plot` is not registered in leosim.cli yet")
    assert _cli("plot", run_dir, "hops", "-o", tmp_path / "h.png") == 0
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG_SIGNATURE
    assert _cli("plot", run_dir, "nope", "-o", tmp_path / "h.png") == 2


def test_snapshot_coverage(scenario):
    snap = snapshot(scenario, 12.0, on_route=[0, 5, 10**6])
    n = scenario.network.constellation.n_sats
    assert snap.sat_lat_deg.shape == (n,) and np.isfinite(snap.sat_lat_deg).all()
    assert snap.on_route.tolist() == [0, 5]  # ids beyond the satellites are dropped
    assert len(snap.tracks) == 2
    # 550 km shell, 25 deg minimum elevation: ~940 km (FCC geometry), PoPs have no antenna.
    kinds = scenario.network.ground.kinds
    assert np.allclose(snap.coverage_km[kinds == "terminal", 0], 941, atol=15)
    assert np.isnan(snap.coverage_km[kinds == "pop"]).all()
    assert abs(snap.altitude_km[0] - 550) < 30


def test_threat_shapes(scenario):
    shapes = threat_shapes(scenario.model.threats)
    assert [s.type for s in shapes] == ["destroy", "jam"]
    assert shapes[0].circle == (49.5, 1.0, 450.0)
    assert shapes[1].point == (52.5, 13.4)


def test_bundled_coastlines():
    size = (resources.files("leosim.data") / LAND_FILE).read_bytes()
    assert len(size) < 300_000
    rings = land_rings()
    assert len(rings) > 100
    pts = np.concatenate(rings)
    assert pts[:, 0].min() >= -180 and pts[:, 0].max() <= 180
    assert pts[:, 1].min() >= -90 and pts[:, 1].max() <= 90
    assert all(np.array_equal(r[0], r[-1]) for r in rings)  # closed rings
    # A coastline point near Mariupol's shore (Sea of Azov) exists within ~1 deg.
    d = np.hypot(pts[:, 0] - 37.5, pts[:, 1] - 47.0)
    assert d.min() < 1.5


def test_circle_and_extent_helpers():
    lon, lat = circle_lonlat(0.0, 179.5, 300.0, n=73)
    assert (np.abs(np.diff(lon)) > 180).any()  # crosses the antimeridian: drawn in copies
    assert np.isclose(lat.max(), 300.0 / 6371.0088 * 180 / np.pi, atol=1e-6)
    assert auto_extent(np.array([]), np.array([])) == (-180.0, 180.0, -90.0, 90.0)
