"""Bad and oversized input through the real command line: exit 2 with the file, key or line and
a fix, never a traceback, a hang or an unbounded allocation (issue 12)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from leosim.cli import main
from leosim.engine.stats import PairStats
from leosim.errors import InputError
from leosim.ground.sites import GroundSegment, Site
from leosim.scenario import limits
from leosim.scenario.build import build_scenario
from leosim.scenario.model import ScenarioModel
from leosim.timebase import TimeGrid

GOOD = """\
[scenario]
duration_s = 2
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris"]
"""
TLE = resources.files("leosim") / "data" / "starlink_2021-05-11.tle"


@contextlib.contextmanager
def _within(seconds: int):
    """Fail (instead of hanging) when the block takes longer than ``seconds``."""
    def _timeout(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _cli(capsys, *args) -> tuple[int, str]:
    with _within(60), pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else code), cap.out + cap.err


def _fails(capsys, tmp_path: Path, text: str, *needles: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    code, out = _cli(capsys, "validate", path)
    assert code == 2, out
    assert "Traceback" not in out and "error:" in out
    for needle in needles:
        assert needle in out, f"{needle!r} not in {out!r}"
    return out


# -- scenario values ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize(("table", "key", "path"), [
    ("[scenario]", "step_s", "scenario.step_s"),
    ("[links]", "max_gsl_range_km", "links.max_gsl_range_km"),
    ("[output]", "routes_every_s", "output.routes_every_s"),
])
def test_non_finite_numbers_rejected(capsys, tmp_path, value, table, key, path):
    # inf passed `validate` and crashed writing plan.json; every float must be finite.
    text = GOOD + f"{table}\n{key} = {value}\n"
    if table == "[scenario]":
        text = GOOD.replace("duration_s = 2", f"duration_s = 2\n{key} = {value}")
    _fails(capsys, tmp_path, text, path, "finite")


def test_non_finite_raan_rejected(capsys, tmp_path):
    text = ("[constellation]\n[[constellation.shells]]\naltitude_km = 550\ninclination_deg = 53\n"
            "planes = 4\nsats_per_plane = 4\nraan0_deg = inf\n"
            '[ground]\ncities = ["London", "Paris"]\n')
    _fails(capsys, tmp_path, text, "constellation.shells[0].raan0_deg", "finite")


@pytest.mark.parametrize(("line", "path"), [
    ("duration_s = true", "scenario.duration_s"),
    ("seed = true", "scenario.seed"),
    ('step_s = "1"', "scenario.step_s"),
])
def test_booleans_and_strings_are_not_numbers(capsys, tmp_path, line, path):
    _fails(capsys, tmp_path, GOOD.replace("duration_s = 2", line), path, "valid")


def test_negative_seed(capsys, tmp_path):
    _fails(capsys, tmp_path, GOOD.replace("duration_s = 2", "duration_s = 2\nseed = -1"),
           "scenario.seed", "greater than or equal to 0")


def test_tiny_step_is_bounded(capsys, tmp_path):
    # 1e-9 s steps: 2e9 steps, a MemoryError before; now refused naming the keys and the limit.
    out = _fails(capsys, tmp_path, GOOD.replace("duration_s = 2", "duration_s = 2\nstep_s = 1e-9"),
                 "s.toml, scenario:", "step_s", f"{limits.MAX_STEPS:,}")
    assert "2e+09 steps" in out
    with pytest.raises(InputError, match="2e\\+09 steps; leosim's limit is 50,000,000"):
        TimeGrid.from_values("2022-03-15T00:00:00Z", 2.0, 1e-9)  # the API is bounded too


@pytest.mark.parametrize("epoch", ["9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"])
def test_epoch_out_of_range(capsys, tmp_path, epoch):
    text = GOOD.replace("duration_s = 2", f'duration_s = 2\nepoch = "{epoch}"')
    _fails(capsys, tmp_path, text, "scenario.epoch", "1957-2200")


def test_pair_listed_twice(capsys, tmp_path):
    text = GOOD + '[routing]\npairs = [["London", "Paris"], ["Paris", "London"]]\n'
    _fails(capsys, tmp_path, text, "routing.pairs[1]", "routing.pairs[0]", "listed twice")


def test_million_duplicate_pairs_refused_quickly(capsys, tmp_path):
    # 10^6 copies of one pair (a 14.9 GiB allocation before): the file is over the size limit.
    text = GOOD + "[routing]\npairs = [" + '["London", "Paris"],' * 1_000_000 + "]\n"
    _fails(capsys, tmp_path, text, "s.toml", "larger than leosim's limit of 4 MiB")


def test_internet_listed_twice(capsys, tmp_path):
    text = (GOOD + 'pops = ["Berlin"]\n[routing]\npairs = "none"\n'
            'to_internet = ["Paris", "Paris"]\n')
    _fails(capsys, tmp_path, text, "routing.to_internet[1]", "listed twice")


def test_pair_from_site_to_itself(capsys, tmp_path):
    text = GOOD + '[routing]\npairs = [["London", "London"]]\n'
    _fails(capsys, tmp_path, text, "routing.pairs[0]", "to itself")


@pytest.mark.parametrize("name", ["internet", "Internet"])
def test_site_named_internet_is_reserved(capsys, tmp_path, name):
    text = GOOD + f'[[ground.sites]]\nname = "{name}"\nlat_deg = 1.0\nlon_deg = 2.0\n'
    _fails(capsys, tmp_path, text, "ground.sites[0].name", "reserved", name)
    with pytest.raises(InputError, match="reserved"):  # the API refuses it too
        GroundSegment([Site("A", 0, 0), Site(name, 1, 2)])


@pytest.mark.parametrize("text", [
    "a = " + "[" * 5000 + "]" * 5000 + "\n",
    "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n",
])
def test_deep_nesting_refused_with_line(capsys, tmp_path, text):
    # 5,000-deep arrays or inline tables: a RecursionError traceback before.
    _fails(capsys, tmp_path, GOOD + text, "line 7", "nested deeper", "32")


def test_deep_dotted_keys_refused(capsys, tmp_path):
    _fails(capsys, tmp_path, GOOD + ".".join(["k"] * 5000) + " = 1\n", "nested deeper")


def test_nesting_scan_ignores_strings_and_comments(capsys, tmp_path):
    text = GOOD.replace("[scenario]", '[scenario]\nname = "' + "[" * 100 + '"  # ' + "{" * 100)
    path = tmp_path / "ok.toml"
    path.write_text(text)
    code, out = _cli(capsys, "validate", path)
    assert code == 0, out


@pytest.mark.parametrize(("text", "where", "guess"), [
    (GOOD + "[links]\nmin_elevaton_deg = 30\n", "links.min_elevaton_deg", "min_elevation_deg"),
    (GOOD.replace("duration_s", "duraton_s"), "scenario.duraton_s", "duration_s"),
    (GOOD + '[[threats]]\ntype = "jam"\nlat_deg = 1\nlon_deg = 2\neirp_dbm = 30\n',
     "threats[0].eirp_dbm", "eirp_dbw"),
    ("[constellation]\n[[constellation.shells]]\naltitude = 550\ninclination_deg = 53\n"
     "planes = 4\nsats_per_plane = 4\n", "constellation.shells[0].altitude", "altitude_km"),
    (GOOD + '[[ground.sites]]\nname = "X"\nlat_deg = 1\nlong_deg = 2\n',
     "ground.sites[0].long_deg", "lon_deg"),
])
def test_unknown_key_did_you_mean(capsys, tmp_path, text, where, guess):
    out = _fails(capsys, tmp_path, text, where, "unknown key")
    assert f"did you mean `{guess}`?" in out


def test_unknown_key_without_close_match_lists_allowed(capsys, tmp_path):
    out = _fails(capsys, tmp_path, GOOD + "[output]\nzzz = 1\n", "output.zzz")
    assert "did you mean" not in out and "output allows: routes_every_s" in out


# -- files ----------------------------------------------------------------------------------

def _with_file(key: str, value: str) -> str:
    if key == "isl_file":
        return GOOD + f'[links]\nisl = "file"\nisl_file = "{value}"\n'
    return GOOD.replace('preset = "starlink-550"', f'{key} = "{value}"')


@pytest.mark.parametrize("key", ["tle_file", "omm_file", "isl_file"])
def test_missing_input_file_names_key(capsys, tmp_path, key):
    section = "links" if key == "isl_file" else "constellation"
    _fails(capsys, tmp_path, _with_file(key, "nowhere.txt"), f"{section}.{key}", "not found",
           "nowhere.txt")


@pytest.mark.parametrize("key", ["tle_file", "omm_file", "isl_file"])
def test_directory_as_input_file(capsys, tmp_path, key):
    (tmp_path / "adir").mkdir()
    _fails(capsys, tmp_path, _with_file(key, str(tmp_path / "adir")), key, "a directory",
           "not a regular file")


@pytest.mark.parametrize("key", ["tle_file", "omm_file", "isl_file"])
def test_dev_zero_as_input_file(capsys, tmp_path, key):
    # /dev/zero: unbounded memory before.
    _fails(capsys, tmp_path, _with_file(key, "/dev/zero"), key, "character device")


@pytest.mark.parametrize("key", ["tle_file", "omm_file", "isl_file"])
def test_fifo_as_input_file_does_not_hang(capsys, tmp_path, key):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # no writer: open() blocked forever before
    _fails(capsys, tmp_path, _with_file(key, str(fifo)), key, "FIFO")


def test_scenario_file_not_regular(capsys, tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    for path, words in ((fifo, "FIFO"), (Path("/dev/zero"), "character device"),
                        (tmp_path, "a directory")):
        code, out = _cli(capsys, "validate", path)
        assert code == 2 and str(path) in out and words in out, out
        assert "Traceback" not in out


def test_scenario_file_too_large(capsys, tmp_path):
    text = GOOD + ("#" * 99 + "\n") * (limits.MAX_SCENARIO_BYTES // 100 + 1)
    _fails(capsys, tmp_path, text, "s.toml", "4 MiB", "Limits")


def test_element_file_too_large_refused_before_reading(capsys, tmp_path):
    big = tmp_path / "big.tle"
    with open(big, "wb") as fh:  # sparse: the size is refused from fstat, nothing is read
        fh.truncate(limits.MAX_ELEMENT_FILE_BYTES + 1)
    _fails(capsys, tmp_path, _with_file("tle_file", "big.tle"), "constellation.tle_file",
           "big.tle", "256 MiB", f"{limits.MAX_ELEMENT_FILE_BYTES + 1:,} bytes")


def test_scenario_not_utf8_names_line(capsys, tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(GOOD.encode() + b'name2 = "\xff"\n')
    code, out = _cli(capsys, "validate", path)
    assert code == 2 and "UTF-8" in out and "line 7" in out


# -- run size -------------------------------------------------------------------------------

def test_memory_estimate_counts_pair_statistics():
    # Independent count: the arrays PairStats really allocates, per route, against the estimate.
    m = ScenarioModel.model_validate({"constellation": {"preset": "starlink-550"},
                                      "scenario": {"modes": ["laser", "bent_pipe"]},
                                      "ground": {"top_cities": 30}})
    scn = build_scenario(m)
    # A Starlink preset models the access delay: a second histogram (modelled RTT) per route.
    assert scn.network.access_delay is not None
    stats = PairStats(scn.pairs, scn.network.ground.names, scn.modes, modelled=True)
    real = sum(v.nbytes for v in vars(stats).values() if isinstance(v, np.ndarray)
               and v.shape[:2] == (2, len(scn.pairs)))
    routes = 2 * len(scn.pairs)
    assert len(scn.pairs) == 435
    assert abs(real / routes - 2 * limits._STATS_PER_ROUTE) < 0.04 * limits._STATS_PER_ROUTE
    # each extra route adds the measured ~47 KB (see limits) + ~16 KB for the modelled RTT
    base = limits.estimate_memory(routes, scn.times.n_steps, 1584, 30, modelled=True)
    assert limits.estimate_run_memory(scn) == base
    per_route = limits.estimate_memory(routes + 1, scn.times.n_steps, 1584, 30,
                                       modelled=True) - base
    assert 56_000 < per_route < 71_000
    plain = limits.estimate_memory(routes + 1, scn.times.n_steps, 1584, 30) - \
        limits.estimate_memory(routes, scn.times.n_steps, 1584, 30)
    assert 40_000 < plain < 55_000


def test_memory_budget_refuses_with_options(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LEOSIM_MEMORY_BUDGET", "1GiB")
    text = GOOD.replace('cities = ["London", "Paris"]', "top_cities = 200")
    out = _fails(capsys, tmp_path, text, "memory", "1 GiB", "19,900 routes",
                 "LEOSIM_MEMORY_BUDGET", "routing.pairs", "step_s")
    assert "1.3" in out  # about 1.35 GiB needed (1,405 MiB measured)
    monkeypatch.setenv("LEOSIM_MEMORY_BUDGET", "2GiB")
    path = tmp_path / "s.toml"
    code, out = _cli(capsys, "validate", path)
    assert code == 0, out


def test_bad_memory_budget_variable(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LEOSIM_MEMORY_BUDGET", "lots")
    _fails(capsys, tmp_path, GOOD, "LEOSIM_MEMORY_BUDGET", "lots")


def test_all_pairs_of_5000_cities_refused_before_building_them(capsys, tmp_path):
    # 12.5 million pairs (4,997 distinct names): refused from the count, before they are built.
    text = GOOD.replace('cities = ["London", "Paris"]', "top_cities = 5000")
    out = _fails(capsys, tmp_path, text, "12,482,506 routes", "memory", "GiB")
    assert "satellites" not in out  # the check on counts, before pairs and statistics exist


def test_route_computations_bounded(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROUTE_STEPS", 1000)
    text = GOOD.replace("duration_s = 2", "duration_s = 600") + "[routing]\n"
    text = text.replace('cities = ["London", "Paris"]', "top_cities = 3")
    _fails(capsys, tmp_path, text, "600 steps x 3 routes x 1 mode(s)", "route computations",
           "1e+03")


# -- Numba cache ----------------------------------------------------------------------------

_KERNEL_CHECK = textwrap.dedent("""
    import sys, tempfile
    if sys.argv[1] == "no-temp":
        tempfile.tempdir = sys.argv[2]           # a temporary folder that cannot be created
    import numpy as np
    import leosim
    from leosim.engine.stats import path_hashes
    print(leosim._numba_cache._done)
    print(int(path_hashes(np.array([0, 2]), np.array([1, 2]))[0]))
""")


def _blocked_copy(tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the leosim package where no ``__pycache__`` can be made and HOME cannot be
    created (it lies under a regular file): Numba's own cache locations all fail, even as root."""
    import shutil

    import leosim

    pkg = tmp_path / "pkg"
    shutil.copytree(Path(leosim.__file__).parent, pkg / "leosim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for root, _dirs, files in os.walk(pkg):
        if any(f.endswith(".py") for f in files):
            (Path(root) / "__pycache__").write_text("")
    (tmp_path / "file").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA", "XDG", "PYTHON"))}
    env.update(HOME=str(tmp_path / "file" / "home"), PYTHONPATH=str(pkg),
               PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return pkg, env


def _expected_hash() -> int:
    from leosim.engine.stats import _HASH_MULT

    with np.errstate(over="ignore"):
        return int(np.uint64(2) * _HASH_MULT[0] + np.uint64(3) * _HASH_MULT[1])


@pytest.mark.parametrize("case", ["temp", "no-temp"])
def test_numba_cache_falls_back_when_nothing_is_writable(tmp_path, case):
    _pkg, env = _blocked_copy(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _KERNEL_CHECK, case,
                           str(tmp_path / "file" / "t")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.split()
    assert int(lines[1]) == _expected_hash()  # the kernel runs and computes the right value
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("leosim: note:")]
    assert len(notes) == 1, proc.stderr
    if case == "temp":
        assert lines[0] == f"temp:{tmp_path / 'tmp' / f'leosim-numba-cache-{os.getuid()}'}"
        assert "caching compiled kernels in" in notes[0]
        assert any((tmp_path / "tmp").rglob("*.nbi"))  # the cache index really was written
    else:
        assert lines[0] == "disabled" and "not cached" in notes[0]


def test_numba_cache_dir_given_and_writable_is_used_silently(tmp_path):
    _pkg, env = _blocked_copy(tmp_path)
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    proc = subprocess.run([sys.executable, "-c", _KERNEL_CHECK, "temp", ""], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "numba" and "note" not in proc.stderr
    assert any((tmp_path / "mine").rglob("*.nbi"))


def test_walker_satellites_bounded(capsys, tmp_path):
    # 10,000 x 10,000 passed the per-key bounds: 10^8 satellites allocated before a message.
    text = ("[constellation]\n[[constellation.shells]]\naltitude_km = 550\ninclination_deg = 53\n"
            "planes = 10000\nsats_per_plane = 10000\n" + '[ground]\ncities = ["London", "Paris"]\n')
    _fails(capsys, tmp_path, text, "constellation", "100,000,000 satellites", "200,000")


def test_number_with_thousands_of_digits(capsys, tmp_path):
    # tomllib raised a bare ValueError (int() digit limit): found by the fuzzer.
    _fails(capsys, tmp_path, GOOD.replace("duration_s = 2", "duration_s = " + "9" * 5000),
           "line 2", "thousands of digits")


def test_empty_shell_list(capsys, tmp_path):
    # Found by the fuzzer: shells = [] raised a ValueError traceback from the Walker builder.
    text = '[constellation]\nshells = []\n[ground]\ncities = ["London", "Paris"]\n'
    _fails(capsys, tmp_path, text, "constellation.shells", "at least 1 item")


@pytest.mark.parametrize(("line", "words"), [
    ("bandwidth_mhz = 1e32", "threats[0].bandwidth_mhz"),  # ValueError traceback (fuzzer)
    ('name = "   "', "ok"),                                # a blank name gets the default
])
def test_jammer_values(capsys, tmp_path, line, words):
    text = GOOD + f'[[threats]]\ntype = "jam"\nlat_deg = 48\nlon_deg = 37\neirp_dbw = 40\n{line}\n'
    path = tmp_path / "s.toml"
    path.write_text(text)
    code, out = _cli(capsys, "validate", path)
    assert code == (0 if words == "ok" else 2), out
    assert words in out and "Traceback" not in out
