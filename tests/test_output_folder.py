"""Output folder rules (leosim.io.outdir): a lock, never someone else's files, never through a link,
clear messages for folders that cannot be written, and a viewer that serves only the run's own
regular files."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from leosim.cli import main
from leosim.errors import InputError
from leosim.io.outdir import INCOMPLETE, MARKER, OutputFolder, fresh_file, regular_file_inside

SCENARIO = """
[scenario]
name = "folder test"
epoch = "2022-03-20T12:00:00Z"
duration_s = 3
step_s = 1
modes = ["laser"]
[constellation]
preset = "starlink-550"
[ground]
cities = ["London", "Paris"]
[routing]
pairs = "all"
"""


@pytest.fixture
def scenario(tmp_path) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO)
    return p


def _cli(*args: str) -> tuple[int, str]:
    """Run the CLI in a subprocess: exit code and stderr."""
    res = subprocess.run([sys.executable, "-m", "leosim", *args], capture_output=True,
                         text=True, timeout=300)
    return res.returncode, res.stderr


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return exc.value.code, capsys.readouterr().err


def test_output_is_a_file(tmp_path, scenario, capsys):
    f = tmp_path / "a_file"
    f.write_text("keep me")
    code, err = _run(capsys, "run", str(scenario), "-o", str(f), "-q")
    assert code == 2 and "is a file, not a folder" in err and "-o/--output" in err
    assert f.read_text() == "keep me"


def test_output_folder_that_cannot_be_created(scenario, capsys):
    code, err = _run(capsys, "run", str(scenario), "-o", "/proc/leosim-cannot-be-here", "-q")
    assert code == 2 and "cannot create the output folder" in err


def test_file_size_limit_gives_a_message_not_a_traceback(tmp_path, scenario):
    # ulimit -f: writes beyond the limit fail with EFBIG (Python ignores SIGXFSZ).
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    res = subprocess.run([sys.executable, "-m", "leosim", "run", str(scenario), "-o",
                          str(tmp_path / "out"), "-q"], capture_output=True, text=True,
                         timeout=300, preexec_fn=limit)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "File too large" in res.stderr and "ulimit -f" in res.stderr
    assert (tmp_path / "out" / INCOMPLETE).exists()


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, scenario, capsys):
    out = tmp_path / "out"
    with OutputFolder.claim(out, command="run"):
        code, err = _run(capsys, "run", str(scenario), "-o", str(out), "-q")
    assert code == 2 and "another leosim command is writing into" in err
    assert _run(capsys, "run", str(scenario), "-o", str(out), "-q")[0] == 0  # lock released


def test_foreign_folder_refused_unless_forced(tmp_path, scenario, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    code, err = _run(capsys, "run", str(scenario), "-o", str(out), "-q")
    assert code == 2 and "thesis.tex" in err and "--force" in err
    assert not (out / "routes.parquet").exists()
    assert _run(capsys, "run", str(scenario), "-o", str(out), "-q", "--force")[0] == 0
    assert (out / "thesis.tex").read_text() == "years of work"
    assert (out / "routes.parquet").exists() and not (out / INCOMPLETE).exists()


def test_a_users_parts_folder_is_never_deleted(tmp_path, scenario, capsys):
    out = tmp_path / "mine"
    (out / ".parts").mkdir(parents=True)
    (out / ".parts" / "draft.txt").write_text("mine")
    code, err = _run(capsys, "run", str(scenario), "-o", str(out), "-q", "--force")
    assert code == 2 and "not leosim's" in err
    assert (out / ".parts" / "draft.txt").read_text() == "mine"


def test_previous_results_are_replaced_with_a_note(tmp_path, scenario, capsys):
    out = tmp_path / "out"
    assert _run(capsys, "run", str(scenario), "-o", str(out), "-q")[0] == 0
    before = json.loads((out / "summary.json").read_text())
    code, err = _run(capsys, "run", str(scenario), "-o", str(out))
    assert code == 0 and "replacing the results of a previous run" in err
    assert json.loads((out / MARKER).read_text())["state"] == "complete"
    assert not (out / ".leosim.lock").exists()  # released: only the marker stays
    assert json.loads((out / "summary.json").read_text())["pairs"] == before["pairs"]


def test_symlink_planted_at_a_partial_name_is_refused(tmp_path, scenario, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".routes.parquet.partial").symlink_to(victim)
    code, err = _run(capsys, "run", str(scenario), "-o", str(out), "-q")
    assert code == 2 and "symbolic link" in err
    assert victim.read_text() == "do not overwrite"


def test_fresh_file_replaces_a_link_instead_of_following_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    link = tmp_path / ".x.partial"
    link.symlink_to(victim)
    fresh_file(link).write_bytes(b"new")
    assert victim.read_text() == "do not overwrite"
    assert not link.is_symlink() and link.read_bytes() == b"new"
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        fresh_file(tmp_path / "d")


def test_chunk_partial_link_inside_parts_is_not_followed(tmp_path):
    # A link planted in .parts/ between a kill and a resume: the chunk writer replaces it.
    import tomllib

    from leosim.engine.chunked import PARTS, _prepare_parts, plan_chunks, run_chunked
    from leosim.scenario.build import build_scenario
    from leosim.scenario.load import validate

    scn = build_scenario(validate(tomllib.loads(SCENARIO)))
    parts = tmp_path / "out" / PARTS
    _prepare_parts(scn, parts, plan_chunks(3, 1), 1, False)
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    (parts / ".chunk-000001.routes.parquet.partial").symlink_to(victim)
    run_chunked(scn, tmp_path / "out", resume=True, chunk_steps=1)
    assert victim.read_text() == "do not overwrite"
    assert (tmp_path / "out" / "routes.parquet").exists()


def test_regular_file_inside(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "outside.txt").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("x")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    (root / "sub").mkdir()
    assert regular_file_inside(root, "a.txt") == (root / "a.txt").resolve()
    assert regular_file_inside(root, "link.txt") is None
    assert regular_file_inside(root, "../outside.txt") is None
    assert regular_file_inside(root, "sub") is None
    assert regular_file_inside(root, "missing") is None


def test_viewer_does_not_serve_a_symlinked_scene(tmp_path):
    from leosim.viewer.server import SiteMap

    secret = tmp_path / "secret.json"
    secret.write_text('{"password": 1}')
    out = tmp_path / "run"
    out.mkdir()
    (out / "scene.czml").symlink_to(secret)
    (out / "viewer.json").write_text("{}")
    static = tmp_path / "static"
    static.mkdir()
    site = SiteMap({"": static}, {"scene.czml": out / "scene.czml",
                                  "viewer.json": out / "viewer.json"})
    assert site.lookup("/scene.czml") is None
    assert site.lookup("/viewer.json") == out / "viewer.json"


def test_resume_into_a_folder_with_nothing_to_resume(tmp_path, scenario, capsys):
    out = tmp_path / "foreign"
    out.mkdir()
    (out / "x.txt").write_text("x")
    code, err = _run(capsys, "run", str(scenario), "-o", str(out), "-q", "--resume", "--force")
    assert code == 2 and "no interrupted `leosim run` to resume" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to make a read-only mount-free check")
def test_output_folder_not_writable_by_anyone(tmp_path, scenario, capsys):
    # /proc/self is a folder nobody (root included) can create files in.
    code, err = _run(capsys, "run", str(scenario), "-o", "/proc/self", "-q", "--force")
    assert code == 2 and "Traceback" not in err
