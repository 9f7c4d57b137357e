"""Seeded fuzzing of every input ``leosim validate`` reads: scenario TOML, TLE, OMM (JSON and CSV)
and ISL files, mutated (deleted/duplicated/renamed keys, wrong types, huge, NaN, inf and negative
numbers, deep nesting, flipped digits, truncated lines, huge fields, random bytes).

Each input runs through ``leosim.cli.main(["validate", FILE])`` in-process and must end with exit
code 0 or 2 -- never another exception, never exit 1, never "out of memory" -- within
``LIMIT_S`` seconds. CI runs ``N_CI`` inputs per kind (600 in all, about 20 s); a bigger campaign::

    LEOSIM_FUZZ_N=2000 LEOSIM_FUZZ_SEED=7 .venv/bin/pytest tests/test_fuzz_inputs.py -q -s
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import signal
import string
import time
from collections import Counter
from pathlib import Path

import pytest

from leosim.cli import main

DATA = Path(__file__).parent / "data"
TLE_TEXT = (DATA / "starlink_2023-07-29_subset.tle").read_text()
OMM_JSON_TEXT = (DATA / "starlink_2023-07-17_subset.omm.json").read_text()
OMM_CSV_TEXT = (DATA / "starlink_2023-07-17_subset.omm.csv").read_text()

N_CI = {"scenario": 300, "tle": 120, "omm": 120, "isl": 60}
N = int(os.environ.get("LEOSIM_FUZZ_N", "0"))  # inputs per kind for a campaign (0: N_CI)
SEED = int(os.environ.get("LEOSIM_FUZZ_SEED", "20261130"))
LIMIT_S = 15  # per input; a hang guard (a validate takes ~40 ms, the slowest seen ~2 s)

SHELLS = {"altitude_km": 550, "inclination_deg": 53.0, "planes": 6, "sats_per_plane": 6,
          "phasing": 1, "pattern": "delta", "raan0_deg": 0.0, "name": "s1"}
BASES: list[dict] = [
    {"scenario": {"duration_s": 2, "step_s": 1.0},
     "constellation": {"shells": [dict(SHELLS)]},
     "ground": {"cities": ["London", "Paris"]}},
    {"scenario": {"name": "full", "epoch": "2022-03-15T00:00:00Z", "duration_s": 4, "step_s": 2,
                  "seed": 3, "modes": ["laser", "bent_pipe"]},
     "constellation": {"shells": [dict(SHELLS), dict(SHELLS, name="s2", altitude_km=600,
                                                      planes=4, sats_per_plane=5)]},
     "links": {"gsl_rule": "distance", "max_gsl_range_km": 2000.0, "min_elevation_deg": 25,
               "terminal_policy": "best_elevation", "max_isl_km": 5014.0,
               "ground_relay": True, "fibre": "auto", "fibre_route_factor": 1.2},
     "ground": {"cities": ["London", "Paris", "Kyiv"],
                "sites": [{"name": "Lab", "lat_deg": 50.0, "lon_deg": 8.0, "kind": "terminal",
                           "alt_km": 0.2, "min_elevation_deg": 30},
                          {"city": "Warsaw", "kind": "gateway"},
                          {"name": "PoP_X", "lat_deg": 52.0, "lon_deg": 21.0, "kind": "pop"}],
                "gateways": "starlink", "gateway_region": {"lat_deg": 50.0, "lon_deg": 10.0,
                                                           "radius_km": 1500.0},
                "gateways_exclude_countries": ["RU"]},
     "routing": {"pairs": [["London", "Paris"], ["Kyiv", "Lab"]], "to_internet": ["Kyiv"],
                 "method": "numba"},
     "output": {"routes_every_s": 2.0},
     "threats": [{"type": "destroy", "kinds": ["gateway"], "start_s": 2, "end_s": 3,
                  "countries": ["PL"]},
                 {"type": "jam", "lat_deg": 48.0, "lon_deg": 37.0, "eirp_dbw": 40,
                  "band": "downlink", "bandwidth_mhz": 250.0, "start_s": 0},
                 {"type": "satellite_loss", "fraction": 0.1, "laser_fraction": 0.1,
                  "planes": [{"shell": "s1", "plane": 2}],
                  "region": {"lat_deg": 50, "lon_deg": 30, "radius_km": 1000}},
                 {"type": "destroy", "polygon": [[49, 29], [52, 29], [52, 33], [49, 33]]}],
     "montecarlo": {"threat": 2, "parameter": "fraction", "values": [0.0, 0.5], "draws": 2,
                    "confidence": 0.9}},
    {"scenario": {"duration_s": 2},
     "constellation": {"preset": "starlink-550"},
     "links": {"isl": "none"},
     "ground": {"top_cities": 4, "pops": "starlink"},
     "routing": {"pairs": "all", "to_internet": "terminals", "method": "scipy"}},
]

HOSTILE = [0, -1, 1, -(2**63), 2**63 - 1, 10**30, 1e308, -1e308, 5e-324, -0.0, 1e-9,
           math.inf, -math.inf, math.nan, True, False, "", "x", "inf", "nan", "1e999",
           "9" * 5000, "[bold]x", "\u202e\u0000\x7f", "London", "internet", "starlink",
           "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2022-02-30T00:00:00Z", [], [[]],
           {}, {"a": 1}, [1, 2], ["a", "a"], ["London", "London"], [math.nan], list(range(50))]


# -- a small TOML writer (nothing else in the test dependencies writes TOML) -----------------

def _key(k: str) -> str:
    bare = k and all(c in string.ascii_letters + string.digits + "_-" for c in k)
    return k if bare else json.dumps(k)


class _Raw(str):
    """TOML text written as is (deep nesting, built without recursion)."""


def _val(v) -> str:
    if isinstance(v, _Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if -(2**63) <= v < 2**63 else json.dumps(str(v))
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_val(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def to_toml(data: dict) -> str:
    head = [f"{_key(k)} = {_val(v)}" for k, v in data.items() if not isinstance(v, dict)]
    body = []
    for k, v in data.items():
        if isinstance(v, dict):
            body.append(f"[{_key(k)}]")
            body.extend(f"{_key(k2)} = {_val(v2)}" for k2, v2 in v.items())
    return "\n".join(head + body) + "\n"


# -- mutators --------------------------------------------------------------------------------

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, _Raw) or len(prefix) > 8:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _typo(key: str, rng: random.Random) -> str:
    if len(key) < 2:
        return key + "x"
    i = rng.randrange(len(key))
    op = rng.randrange(3)
    if op == 0:
        return key[:i] + key[i + 1:]
    if op == 1:
        return key[:i] + rng.choice(string.ascii_lowercase) + key[i:]
    return key[:i] + key[i + 1:i + 2] + key[i:i + 1] + key[i + 2:]


def _nested(depth: int, rng: random.Random) -> _Raw:
    opens = "".join(rng.choice(["[", "{k = "]) for _ in range(depth))
    closes = "".join("]" if c == "[" else "}" for c in reversed(opens.replace("{k = ", "{")))
    return _Raw(opens + rng.choice(["1", '"a"', "1.5"]) + closes)


def _nested_json(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def mutate_data(data: dict, rng: random.Random) -> dict:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        path = rng.choice(paths)
        parent, last = _get(data, path[:-1]), path[-1]
        op = rng.randrange(9)
        if op == 0:  # delete
            del parent[last]
        elif op == 1 and isinstance(parent, dict):  # misspell a key
            parent[_typo(str(last), rng)] = parent.pop(last)
        elif op == 2 and isinstance(parent, list):  # duplicate an element
            parent.insert(last, copy.deepcopy(parent[last]))
        elif op == 3:  # nest deeply
            parent[last] = _nested(rng.choice([3, 31, 33, 200, 3000]), rng)
        elif op == 4 and isinstance(parent, dict):  # an unknown key
            parent[rng.choice(["extra", "type", "name", "x" * 300])] = rng.choice(HOSTILE)
        elif op == 5 and isinstance(parent[last], int | float) and not isinstance(
                parent[last], bool):  # scale a number
            try:
                parent[last] = parent[last] * rng.choice([-1, 0, 1e-12, 1e6, 1e300, 10**20])
            except OverflowError:
                parent[last] = math.inf
        elif op == 6:  # multiply a list
            if isinstance(parent[last], list) and parent[last]:
                parent[last] = parent[last] * rng.choice([2, 50, 3000])
            else:
                parent[last] = [parent[last]] * rng.choice([1, 2, 500])
        else:  # a hostile value
            parent[last] = copy.deepcopy(rng.choice(HOSTILE))
    return data


def mutate_text(text: str, rng: random.Random) -> bytes:
    raw = bytearray(text.encode())
    op = rng.randrange(8)
    if op == 0 and raw:  # flip bytes
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif op == 1:  # truncate
        del raw[rng.randrange(len(raw) + 1):]
    elif op == 2:  # duplicate or drop a line
        lines = bytes(raw).split(b"\n")
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i]) if rng.random() < 0.5 else lines.pop(i)
        raw = bytearray(b"\n".join(lines))
    elif op == 3:  # insert junk
        i = rng.randrange(len(raw) + 1)
        raw[i:i] = rng.choice([b"[" * 5000, b"{a=" * 3000, b'"', b"'''", b"\x00",
                               b"\xff\xfe", b"\r", b"=" * 100, rng.randbytes(64)])
    elif op == 4:  # random bytes
        raw = bytearray(rng.randbytes(rng.randint(0, 4000)))
    elif op == 5:  # a huge number in place of a digit
        digits = [i for i, c in enumerate(raw) if chr(c).isdigit()]
        if digits:
            i = rng.choice(digits)
            raw[i:i + 1] = b"9" * rng.choice([30, 400, 5000, 200_000])
    elif op == 6:  # flip a digit
        digits = [i for i, c in enumerate(raw) if chr(c).isdigit()]
        if digits:
            raw[rng.choice(digits)] = ord(rng.choice(string.digits))
    else:  # CRLF / BOM / blank lines
        raw = bytearray(rng.choice([b"\xef\xbb\xbf", b"", b"\n\n"])
                        + bytes(raw).replace(b"\n", rng.choice([b"\r\n", b"\n", b"\n\n"])))
    return bytes(raw)


def _tle_with_checksums(lines: list[str]) -> list[str]:
    from leosim.orbits.tle import tle_checksum

    return [ln[:68] + str(tle_checksum(ln)) if len(ln) == 69 and ln[:2] in ("1 ", "2 ") else ln
            for ln in lines]


def mutate_tle(rng: random.Random) -> bytes:
    lines = TLE_TEXT.splitlines()[: 3 * rng.randint(1, 8)]
    op = rng.randrange(7)
    if op == 0:  # change a field's digit and fix the checksum (a valid but odd element set)
        i = rng.randrange(len(lines))
        ln = lines[i]
        digits = [k for k, c in enumerate(ln[:68]) if c.isdigit()]
        if digits:
            k = rng.choice(digits)
            lines[i] = ln[:k] + rng.choice(string.digits) + ln[k + 1:]
        lines = _tle_with_checksums(lines) if rng.random() < 0.7 else lines
    elif op == 1:  # epoch year
        i = rng.choice([k for k, ln in enumerate(lines) if ln.startswith("1 ")])
        ln = lines[i]
        lines[i] = ln[:18] + rng.choice(["56", "57", "00", "99", "23", "  "]) + ln[20:]
        lines = _tle_with_checksums(lines)
    elif op == 2:  # duplicate an element set
        k = 3 * rng.randrange(len(lines) // 3)
        lines += lines[k:k + 3]
    elif op == 3:  # huge field
        i = rng.randrange(len(lines))
        k = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:k] + "7" * rng.choice([100, 20_000, 2_000_000]) + lines[i][k:]
    elif op == 4:  # a Hypatia header
        lines.insert(0, rng.choice(["72 22", "9" * 5000 + " 1", "0 0", "-1 3"]))
    elif op == 5:  # drop or truncate lines
        i = rng.randrange(len(lines))
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    else:
        return mutate_text("\n".join(lines) + "\n", rng)
    return ("\n".join(lines) + "\n").encode()


OMM_FIELDS = ["EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
              "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR", "MEAN_MOTION_DOT",
              "MEAN_MOTION_DDOT", "OBJECT_NAME", "EPHEMERIS_TYPE", "ELEMENT_SET_NO",
              "REV_AT_EPOCH", "CLASSIFICATION_TYPE", "OBJECT_ID"]


def mutate_omm(rng: random.Random) -> tuple[bytes, str]:
    records = json.loads(OMM_JSON_TEXT)[: rng.randint(1, 10)]
    op = rng.randrange(5)
    if op <= 2:
        for _ in range(rng.randint(1, 3)):
            rec = rng.choice(records)
            field = rng.choice(OMM_FIELDS)
            if rng.random() < 0.2:
                rec.pop(field, None)
            else:
                rec[field] = copy.deepcopy(rng.choice(HOSTILE + [-15.0, 0.5, 2.0, 360.0, 1e6]))
    elif op == 3:
        records.append(copy.deepcopy(rng.choice(records)))
    else:
        return _nested_json(rng.choice([2, 40, 3000])).encode(), "json"
    if rng.random() < 0.5:  # as CSV
        header = OMM_CSV_TEXT.splitlines()[0].split(",")
        rows = [",".join(json.dumps(r.get(h, "")) if isinstance(r.get(h), list | dict)
                         else str(r.get(h, "")).replace(",", ";") for h in header)
                for r in records]
        text = "\n".join([",".join(header), *rows]) + "\n"
        return (mutate_text(text, rng) if rng.random() < 0.3 else text.encode()), "csv"
    text = json.dumps(records)
    return (mutate_text(text, rng) if rng.random() < 0.3 else text.encode()), "json"


def mutate_isl(rng: random.Random) -> bytes:
    n = 36
    lines = [f"{i} {(i + 1) % n}" for i in range(0, n, 2)]
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        lines[i] = rng.choice([f"{rng.randrange(-5, 50)} {rng.randrange(-5, 50)}", "1 1",
                               "0 1 2", "a b", "9" * 5000 + " 1", "1e3 2", "0x1 2", "# c",
                               "0,1", "", "  3\t4  ", "0 1", "1 0", "-0 1"])
    text = "\n".join(lines) + "\n"
    return mutate_text(text, rng) if rng.random() < 0.3 else text.encode()


# -- the harness ----------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def make_input(kind: str, rng: random.Random, folder: Path) -> Path:
    scenario = folder / "s.toml"
    if kind == "scenario":
        base = rng.choice(BASES)
        text = to_toml(mutate_data(base, rng) if rng.random() < 0.75 else base)
        raw = mutate_text(text, rng) if rng.random() < 0.3 else text.encode()
        scenario.write_bytes(raw)
        return scenario
    data = copy.deepcopy(BASES[0])
    if kind == "tle":
        (folder / "sats.tle").write_bytes(mutate_tle(rng))
        data["constellation"] = {"tle_file": "sats.tle"}
        data["links"] = {"isl": "none"}
        if rng.random() < 0.3:
            data["scenario"]["epoch"] = "2023-07-29T12:00:00Z"
    elif kind == "omm":
        raw, fmt = mutate_omm(rng)
        (folder / f"sats.{fmt}").write_bytes(raw)
        data["constellation"] = {"omm_file": f"sats.{fmt}"}
        data["links"] = {"isl": "none"}
    else:
        (folder / "isl.txt").write_bytes(mutate_isl(rng))
        data["links"] = {"isl": "file", "isl_file": "isl.txt"}
    scenario.write_text(to_toml(data))
    return scenario


def _small_enough_to_run(path: Path) -> bool:
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import load_scenario_file

    scn = build_scenario(load_scenario_file(path), base_dir=path.parent, source=str(path))
    return scn.times.n_steps * len(scn.pairs) * len(scn.modes) <= 400


def fuzz(kind: str, n: int, seed: int, folder: Path, capsys, *, run: bool = False) -> dict:
    """Run ``n`` mutated inputs of ``kind``; return counts, failures and the slowest time.

    With ``run``, inputs that validate (and are small) are also run with ``leosim run``: the
    class of input that passed ``validate`` and crashed later (``step_s = inf``)."""
    rng = random.Random(f"{seed}-{kind}")
    codes: Counter = Counter()
    failures: list[str] = []
    slowest, slowest_case = 0.0, b""
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i in range(n):
            case = folder / f"{kind}-{i}"
            case.mkdir()
            path = make_input(kind, rng, case)
            t0 = time.perf_counter()
            outcome: object
            signal.alarm(LIMIT_S * (6 if run else 1))
            try:
                try:
                    main(["validate", str(path)])
                    outcome = 0
                except SystemExit as exc:
                    outcome = 0 if exc.code is None else exc.code
                if run and outcome == 0 and _small_enough_to_run(path):
                    codes["run"] += 1
                    main(["run", str(path), "-o", str(case / "out"), "-q", "-j", "1"])
            except SystemExit as exc:
                outcome = 0 if exc.code is None else exc.code
            except _Hang:
                outcome = f"hang > {LIMIT_S * (6 if run else 1)} s"
            except BaseException as exc:  # noqa: BLE001 - anything else is a finding
                outcome = f"{type(exc).__name__}: {str(exc)[:300]}"
            finally:
                signal.alarm(0)
            dt = time.perf_counter() - t0
            if dt > slowest:
                slowest, slowest_case = dt, path.read_bytes()[:400]
            cap = capsys.readouterr()
            if outcome == 2 and ("out of memory" in cap.err or "Traceback" in cap.err):
                outcome = "exit 2 after " + cap.err.strip()[:200]
            codes[outcome if outcome in (0, 2) else "failure"] += 1
            if outcome not in (0, 2):
                failures.append(f"{case}: {outcome}")
            else:
                shutil.rmtree(case)  # keep only failing inputs on disk
    finally:
        signal.signal(signal.SIGALRM, old)
    return {"codes": dict(codes), "failures": failures, "slowest_s": slowest,
            "slowest_case": slowest_case}


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory):
    """Import, load the city tables and compile the kernels once (every base scenario), so
    that the per-input time limit measures validation."""
    folder = tmp_path_factory.mktemp("warm")
    for i, base in enumerate(BASES):
        path = folder / f"base{i}.toml"
        path.write_text(to_toml(base))
        with pytest.raises(SystemExit) as info:
            main(["validate", str(path)])
        assert info.value.code in (0, None)


@pytest.mark.parametrize("kind", ["scenario", "tle", "omm", "isl"])
def test_fuzz_validate_exits_0_or_2(kind, tmp_path, capsys):
    n = N or N_CI[kind]
    result = fuzz(kind, n, SEED, tmp_path, capsys)
    with capsys.disabled():
        print(f"\nfuzz {kind}: {n} inputs, exit codes {result['codes']}, "
              f"slowest {result['slowest_s']:.2f} s, failures {len(result['failures'])}")
    if os.environ.get("LEOSIM_FUZZ_VERBOSE"):
        print(f"slowest input: {result['slowest_case']!r}")
    assert not result["failures"], "\n".join(result["failures"][:20])
    # The fuzzer reaches both outcomes: it is not only feeding garbage or only valid input.
    assert result["codes"].get(2, 0) > n // 4
    if kind != "isl":
        assert result["codes"].get(0, 0) > 0


@pytest.mark.skipif(not os.environ.get("LEOSIM_FUZZ_RUN"), reason="set LEOSIM_FUZZ_RUN=1")
@pytest.mark.parametrize("kind", ["scenario", "tle", "omm", "isl"])
def test_fuzz_run_exits_0_or_2(kind, tmp_path, capsys):
    """Offline: fuzzed inputs that validate also run (exit 0 or 2) -- LEOSIM_FUZZ_RUN=1."""
    n = N or N_CI[kind]
    result = fuzz(kind, n, SEED + 1, tmp_path, capsys, run=True)
    with capsys.disabled():
        print(f"\nfuzz run {kind}: {n} inputs, {result['codes'].get('run', 0)} runs, exit codes "
              f"{result['codes']}, slowest {result['slowest_s']:.2f} s, "
              f"failures {len(result['failures'])}")
    assert not result["failures"], "\n".join(result["failures"][:20])
