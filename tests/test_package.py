"""The package front door: lazy re-export of leosim.api, and a light command-line start-up."""

from __future__ import annotations

import subprocess
import sys


def test_front_door_re_exports_the_api():
    import leosim
    import leosim.api

    assert sorted(leosim.__all__) == sorted(leosim.api.__all__)
    for name in leosim.__all__:
        assert getattr(leosim, name) is getattr(leosim.api, name)


def test_importing_the_package_does_not_load_the_engine():
    # `python -m leosim` and the console script import the package first; the heavy modules
    # load inside the entry point, where a Ctrl-C gets a message instead of a traceback.
    code = "import sys, leosim; print('numba' in sys.modules, 'pandas' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.split() == ["False", "False"], res.stderr


def test_the_command_line_starts_without_matplotlib():
    # `leosim --help`, `validate` and friends do not pay for the report's plotting stack.
    code = "import sys, leosim.cli; print('matplotlib' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.split() == ["False"], res.stderr
