"""Bad input through the real command line: a clear message, exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from leosim.cli import main

GOOD = """\
[scenario]
duration_s = 2
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris"]
"""


def _cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``leosim ARGS`` in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else code), cap.out, cap.err


def _expect_error(capsys, tmp_path, text: str, *needles: str, name: str = "scenario.toml",
                  command: str = "run") -> str:
    """Write ``text`` to a scenario file, run it, and check the failure; return stderr."""
    path = tmp_path / name
    path.write_text(text)
    out_dir = tmp_path / "out"
    args = [command, path] + (["-o", out_dir, "-q"] if command == "run" else [])
    code, out, err = _cli(capsys, *args)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert "error:" in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    assert not out_dir.exists()  # nothing written for a scenario that cannot run
    return err


def test_good_scenario_validates(capsys, tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD)
    code, out, err = _cli(capsys, "validate", path)
    assert code == 0, err
    assert "ok (1584 satellites, 2 sites, 1 routes, 2 steps)" in out


def test_malformed_toml(capsys, tmp_path):
    err = _expect_error(capsys, tmp_path, '[scenario]\nname = "unterminated\n',
                        name="broken.toml")
    assert "broken.toml" in err and "line 2" in err and "TOML" in err


def test_malformed_toml_subprocess(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[constellation]\npreset = 'starlink-550'\n[ground\ncities = []\n")
    proc = subprocess.run([sys.executable, "-m", "leosim", "validate", str(path)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "broken.toml" in proc.stderr and "line 3" in proc.stderr


def test_unknown_key_names_key_path(capsys, tmp_path):
    err = _expect_error(capsys, tmp_path, GOOD + "[links]\nmin_elevaton_deg = 30\n",
                        "links.min_elevaton_deg", "unknown key", "scenario.toml")
    assert "min_elevaton_deg" in err


def test_unknown_top_level_table(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + "[routes]\npairs = 'all'\n", "unknown key 'routes'")


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("altitude_km", "-550", "constellation.shells[0].altitude_km"),
        ("inclination_deg", "200", "constellation.shells[0].inclination_deg"),
        ("planes", "0", "constellation.shells[0].planes"),
    ],
)
def test_out_of_range_shell_values(capsys, tmp_path, field, value, path):
    shell = {"altitude_km": "550", "inclination_deg": "53", "planes": "4",
             "sats_per_plane": "4"}
    shell[field] = value
    text = "[constellation]\n[[constellation.shells]]\n" + "".join(
        f"{k} = {v}\n" for k, v in shell.items()) + '[ground]\ncities = ["London", "Paris"]\n'
    _expect_error(capsys, tmp_path, text, path, value)


def test_phasing_out_of_range(capsys, tmp_path):
    text = ("[constellation]\n[[constellation.shells]]\naltitude_km = 550\n"
            "inclination_deg = 53\nplanes = 4\nsats_per_plane = 4\nphasing = 9\n"
            '[ground]\ncities = ["London", "Paris"]\n')
    _expect_error(capsys, tmp_path, text, "constellation.shells[0]", "phasing")


def test_bad_value_type(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD.replace("duration_s = 2", 'duration_s = "long"'),
                  "scenario.duration_s", "long")


def test_unknown_city_suggests_coordinates(capsys, tmp_path):
    err = _expect_error(capsys, tmp_path, GOOD.replace('"Paris"', '"Atlantisville"'),
                        "Atlantisville", "lat_deg/lon_deg", "ground.cities[1]")
    assert "unknown place" in err


def test_unknown_city_in_site_table(capsys, tmp_path):
    text = GOOD + '[[ground.sites]]\ncity = "Qwertzuiopville"\nkind = "gateway"\n'
    _expect_error(capsys, tmp_path, text, "Qwertzuiopville", "lat_deg/lon_deg",
                  "ground.sites[0]")


def test_message_text_is_not_markup(capsys, tmp_path):
    # The CLI prints with rich; a name that looks like markup must appear verbatim.
    _expect_error(capsys, tmp_path, GOOD.replace('"Paris"', '"[bold]Nowhere"'),
                  "[bold]Nowhere")


def test_bad_tle_checksum_names_file_and_line(capsys, tmp_path):
    src = resources.files("leosim") / "data" / "starlink_2021-05-11.tle"
    lines = src.read_text().splitlines()[:9]  # three three-line element sets
    bad = lines[5][:68] + str((int(lines[5][68]) + 1) % 10)  # wrong checksum, file line 6
    lines[5] = bad
    (tmp_path / "sats.tle").write_text("\n".join(lines) + "\n")
    text = ('[scenario]\nepoch = "2021-05-12T00:00:00Z"\n[constellation]\n'
            'tle_file = "sats.tle"\n[links]\nisl = "none"\n'
            '[ground]\ncities = ["London", "Paris"]\n')
    _expect_error(capsys, tmp_path, text, "sats.tle", "line 6", "checksum")


def test_missing_tle_file(capsys, tmp_path):
    text = GOOD.replace('preset = "starlink-550"', 'tle_file = "nowhere.tle"')
    _expect_error(capsys, tmp_path, text, "nowhere.tle", "not found", "constellation.tle_file")


def test_missing_scenario_file(capsys, tmp_path):
    code, _, err = _cli(capsys, "run", tmp_path / "absent.toml", "-o", tmp_path / "out")
    assert code == 2
    assert "absent.toml" in err and "cannot read" in err and "Traceback" not in err


def test_missing_scenario_file_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "leosim", "run", str(tmp_path / "absent.toml"), "-o",
         str(tmp_path / "out")], capture_output=True, text=True,
        env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 2
    assert "absent.toml" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_two_constellation_sources(capsys, tmp_path):
    text = GOOD.replace('preset = "starlink-550"',
                        'preset = "starlink-550"\ntle_file = "x.tle"')
    _expect_error(capsys, tmp_path, text, "exactly one of", "preset, tle_file", "constellation")


def test_no_constellation_source(capsys, tmp_path):
    text = GOOD.replace('preset = "starlink-550"', "")
    _expect_error(capsys, tmp_path, text, "exactly one of", "got none")


def test_unknown_preset(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD.replace("starlink-550", "starlink-9000"),
                  "starlink-9000", "starlink-gen1")


def test_isl_file_mode_without_file(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + '[links]\nisl = "file"\n', "isl_file", "links")


def test_isl_file_with_bad_line(capsys, tmp_path):
    (tmp_path / "isls.txt").write_text("0 1\n1 2\n2 two\n")
    _expect_error(capsys, tmp_path, GOOD + '[links]\nisl = "file"\nisl_file = "isls.txt"\n',
                  "isls.txt", "line 3")


def test_distance_rule_without_range(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + '[links]\ngsl_rule = "distance"\n',
                  "max_gsl_range_km")


def test_fibre_to_terminal(capsys, tmp_path):
    text = GOOD + '[links]\nfibre = [["London", "Paris"]]\n'
    _expect_error(capsys, tmp_path, text, "links.fibre[0]", "terminal")


def test_unknown_site_in_pairs(capsys, tmp_path):
    text = GOOD + '[routing]\npairs = [["London", "Pariss"]]\n'
    _expect_error(capsys, tmp_path, text, "routing.pairs[0]", "Pariss", "Paris")


def test_internet_routes_without_pops(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + '[routing]\nto_internet = "terminals"\n',
                  "point of presence")


def test_usage_error_exits_2(capsys):
    code, out, err = _cli(capsys, "run")
    assert code == 2
    assert "Traceback" not in err + out
    assert "scenario" in (err + out).lower()


def test_errors_use_source_path(capsys, tmp_path):
    sub = tmp_path / "deep" / "dir"
    sub.mkdir(parents=True)
    err = _expect_error(capsys, sub, GOOD + "[links]\nbogus = 1\n", name="my-scenario.toml",
                        command="validate")
    assert str(Path(sub) / "my-scenario.toml") in err


def test_routes_every_s_not_a_whole_number_of_steps(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + "[output]\nroutes_every_s = 2.5\n",
                  "output.routes_every_s", "2.5", "multiple of scenario.step_s")


def test_routes_every_s_not_positive(capsys, tmp_path):
    _expect_error(capsys, tmp_path, GOOD + "[output]\nroutes_every_s = 0\n",
                  "output.routes_every_s")
