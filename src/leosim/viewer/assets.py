"""Where the CesiumJS build used by the viewer lives, and how it gets there.

The viewer needs CesiumJS (Apache-2.0), which is not shipped with leosim: ``make viewer-assets``
(or ``python -m leosim.viewer.assets install``) runs ``npm install cesium@<pinned>`` in a
temporary folder and keeps only ``node_modules/cesium/Build/Cesium`` (about 23 MB: the library,
its web workers, widgets and the bundled Natural Earth II imagery) under
``<assets>/cesium/``. Nothing is fetched at run time.

``<assets>`` is, in order of precedence:

1. the ``LEOSIM_ASSETS`` environment variable;
2. ``.leosim-assets/`` at the root of a source checkout (the folder holding ``pyproject.toml``
   next to ``src/leosim``);
3. ``$XDG_CACHE_HOME/leosim/assets`` (``~/.cache/leosim/assets``) for an installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from leosim.errors import InputError
from leosim.io.atomic import partial_path

CESIUM_VERSION = "1.145.0"
"""The ``cesium`` npm package version the viewer is written and tested against."""

ENV_VAR = "LEOSIM_ASSETS"
STAMP = "leosim-cesium.json"  # written last by install(): its presence marks a complete copy
INSTALL_HINT = "run `make viewer-assets` (or `python -m leosim.viewer.assets install`)"


def assets_dir() -> Path:
    """The folder that holds (or will hold) the viewer's third-party assets."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file() and (repo / "src" / "leosim").is_dir():
        return repo / ".leosim-assets"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser().resolve() / "leosim" / "assets"


def cesium_dir(*, required: bool = True) -> Path:
    """The Cesium build folder (``Cesium.js``, ``Workers/``, ``Assets/``, ``Widgets/``...).

    Parameters
    ----------
    required : bool, optional
        Raise if the build is missing or incomplete (default); with False, return the path anyway.

    Raises
    ------
    InputError
        When ``required`` and the build has not been installed.
    """
    path = assets_dir() / "cesium"
    if required and not is_installed(path):
        raise InputError(f"the CesiumJS build for the 3D viewer is not installed (looked in "
                         f"{path})", hint=f"{INSTALL_HINT}; it needs npm and network access "
                                          f"once, or set {ENV_VAR} to a folder holding cesium/")
    return path


def is_installed(path: Path | None = None) -> bool:
    """True when a complete Cesium build is at ``path`` (default: :func:`cesium_dir`)."""
    path = cesium_dir(required=False) if path is None else path
    return (path / STAMP).is_file() and (path / "Cesium.js").is_file()


def installed_version(path: Path | None = None) -> str | None:
    """The Cesium version recorded by :func:`install`, or None."""
    path = cesium_dir(required=False) if path is None else path
    try:
        return json.loads((path / STAMP).read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def install(version: str = CESIUM_VERSION, *, force: bool = False,
            npm: str | None = None) -> Path:
    """Fetch ``cesium@version`` with npm and copy its ``Build/Cesium`` into :func:`cesium_dir`.

    The copy is made next to the destination and renamed into place, so an interrupted install
    never leaves a half-written build that looks complete.

    Parameters
    ----------
    version : str, optional
        npm version of ``cesium`` (default :data:`CESIUM_VERSION`).
    force : bool, optional
        Reinstall even if that version is already there.
    npm : str, optional
        The npm executable (default: ``npm`` on ``PATH``).

    Returns
    -------
    Path
        The installed build folder.
    """
    dest = cesium_dir(required=False)
    if not force and is_installed(dest) and installed_version(dest) == version:
        return dest
    npm = npm or shutil.which("npm")
    if npm is None:
        raise InputError("npm is needed once to fetch CesiumJS for the viewer, and it is not on "
                         "PATH", hint="install Node.js and npm (Debian: apt-get install npm), "
                                      f"then {INSTALL_HINT}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leosim-npm-") as tmp:
        cmd = [npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--ignore-scripts",
               "--no-save", "--loglevel=error", f"cesium@{version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        build = Path(tmp) / "node_modules" / "cesium" / "Build" / "Cesium"
        if proc.returncode != 0 or not (build / "Cesium.js").is_file():
            raise InputError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): "
                             f"{(proc.stderr or proc.stdout).strip()[-800:]}",
                             hint="check network access to the npm registry")
        staging = partial_path(dest)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(build, staging)
        pkg = build.parents[1]
        for name in ("LICENSE.md", "ThirdParty.json"):
            if (pkg / name).is_file():
                shutil.copy2(pkg / name, staging / name)
        (staging / STAMP).write_text(json.dumps({"package": "cesium", "version": version}) + "\n",
                                     encoding="utf-8")
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    return dest


def _main(argv: list[str]) -> int:
    usage = ("usage: python -m leosim.viewer.assets {install [--force] [VERSION] | path | "
             "check}")
    if not argv or argv[0] not in ("install", "path", "check"):
        print(usage, file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "install":
            force = "--force" in rest
            versions = [a for a in rest if a != "--force"]
            path = install(versions[0] if versions else CESIUM_VERSION, force=force)
            print(f"CesiumJS {installed_version(path)} in {path}")
        elif cmd == "path":
            print(cesium_dir(required=False))
        else:
            path = cesium_dir()
            print(f"CesiumJS {installed_version(path)} in {path}")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
