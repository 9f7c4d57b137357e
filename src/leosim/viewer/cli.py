"""``leosim view DIR``: serve a run's 3D viewer on this machine and open it in a browser.

Registered on the main app with ``app.command("view")(view)``; importing this module is cheap
(numpy, pyarrow and the server load when the command runs).
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from leosim.errors import InputError


def _can_open_browser() -> bool:
    """A graphical browser is likely: a display on Linux/BSD; always on macOS and Windows.

    Without a display, :mod:`webbrowser` would start a text browser (lynx, w3m) in this terminal,
    which cannot show WebGL anyway.
    """
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(url: str) -> bool:
    if not _can_open_browser():
        return False
    try:
        return webbrowser.get().open(url, new=2)
    except (webbrowser.Error, OSError):
        return False


def _block() -> None:
    """Sleep until interrupted (Ctrl-C raises KeyboardInterrupt)."""
    while True:
        time.sleep(3600)


def view(
    out_dir: Annotated[Path, typer.Argument(help="Run output folder (holding scene.czml).")],
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535,
                                      help="Port to listen on (0: any free port).")] = 8765,
    no_browser: Annotated[bool, typer.Option("--no-browser",
                                             help="Print the URL; do not open a browser.")] = False,
    host: Annotated[str, typer.Option(
        "--host", help="Address to bind; the default serves this machine only.")] = "127.0.0.1",
) -> None:
    """Show a run on an interactive 3D globe (satellites, sites, paths, threats) in a browser."""
    from leosim.viewer.czml import SCENE
    from leosim.viewer.server import serve

    if not (out_dir / SCENE).is_file():
        what = "is not a folder" if not out_dir.is_dir() else f"has no {SCENE}"
        raise InputError(
            f"{out_dir} {what}",
            hint=(f"run a scenario into it first (`leosim run SCENARIO -o {out_dir}`), or write "
                  "the scene of an existing run from Python: `from leosim.viewer.czml import "
                  f"write_czml; write_czml(scenario, {str(out_dir)!r})`"))
    server, url = serve(out_dir, port=port, host=host)
    try:
        opened = not no_browser and _open(url)
        typer.echo(f"leosim viewer of {out_dir} at {url}"
                   + (" (opened in your browser)" if opened else "")
                   + "\npress Ctrl-C to stop")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: listening on {host}: other machines may reach this viewer",
                       err=True)
        _block()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.shutdown()
        server.server_close()
