"""A small static HTTP server for the viewer, bound to 127.0.0.1 by default.

It serves one virtual root and nothing else::

    /                 -> index.html of leosim/viewer/static/ (with viewer.js, viewer.css)
    /cesium/...       -> the installed Cesium build (see :mod:`leosim.viewer.assets`)
    /scene.czml       -> the run's scene.czml
    /viewer.json      -> the run's viewer.json

Every request path is decoded once and refused (403) when it holds ``..`` or ``.``-prefixed
segments, backslashes, NUL bytes, an empty segment (``//``), a drive letter, or is not an
origin-form path (``/...``); the file found is resolved (symbolic links followed) and must still lie
inside its folder, so a link out of a folder is refused (404). Only GET and HEAD are allowed (405
otherwise); when bound to a loopback address, requests must name a loopback ``Host`` (guards
against DNS rebinding).
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import socket
import stat
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from leosim.errors import InputError
from leosim.viewer.assets import cesium_dir
from leosim.viewer.czml import PAIRS_JSON, SCENE

STATIC_DIR = Path(str(resources.files("leosim.viewer") / "static"))
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_UTF8 = "; charset=utf-8"
TYPES = {".czml": "application/json" + _UTF8, ".js": "text/javascript" + _UTF8,
         ".mjs": "text/javascript" + _UTF8, ".json": "application/json" + _UTF8,
         ".css": "text/css" + _UTF8, ".html": "text/html" + _UTF8,
         ".wasm": "application/wasm", ".glb": "model/gltf-binary", ".gltf": "model/gltf+json",
         ".ktx2": "image/ktx2", ".svg": "image/svg+xml", ".png": "image/png",
         ".jpg": "image/jpeg", ".xml": "application/xml", ".woff2": "font/woff2"}
# The page may only talk to this server (defence in depth: nothing leaves the machine).
# Cesium needs eval (knockout bindings), WebAssembly and blob: workers; connect-src and img-src
# keep every fetch on this origin.
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' blob: 'unsafe-eval' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
       "connect-src 'self' data: blob:; font-src 'self' data:; frame-src 'self' about:; "
       "object-src 'none'; base-uri 'none'; form-action 'none'")


class Forbidden(Exception):
    """A request path that is refused outright."""


class SiteMap:
    """The viewer's virtual root: folders mounted at prefixes, plus single files.

    Parameters
    ----------
    folders : dict of str to Path
        Prefix (``""`` for the top, else ``"cesium"``...) -> folder served under it.
    files : dict of str to Path
        Exact top-level name -> file served under that name.
    """

    def __init__(self, folders: dict[str, Path], files: dict[str, Path]) -> None:
        self.folders = {k.strip("/"): Path(v).resolve(strict=True) for k, v in folders.items()}
        self.files = dict(files)

    @staticmethod
    def clean(raw: str) -> list[str]:
        """The decoded path segments of a request target, or :class:`Forbidden`.

        Examples
        --------
        >>> SiteMap.clean("/cesium/Cesium.js?v=1")
        ['cesium', 'Cesium.js']
        >>> SiteMap.clean("/")
        []
        >>> for bad in ("/../etc/passwd", "/%2e%2e/x", "//etc/passwd", "/a%5c..", "x"):
        ...     try:
        ...         SiteMap.clean(bad)
        ...     except Forbidden:
        ...         print("refused", bad)
        refused /../etc/passwd
        refused /%2e%2e/x
        refused //etc/passwd
        refused /a%5c..
        refused x
        """
        if not raw.startswith("/") or raw.startswith("//"):
            raise Forbidden(raw)  # absolute-form (http://...), authority-form, "*", "//host"
        path = urlsplit(raw).path
        try:
            text = unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise Forbidden(raw) from None
        if "\\" in text or "\x00" in text or "%" in text:
            raise Forbidden(raw)  # backslashes, NUL, double encoding (%252e%252e)
        parts = text.split("/")[1:]
        if parts and parts[-1] == "":
            parts = parts[:-1]  # "/dir/" -> ["dir"]
        for seg in parts:
            if seg == "" or seg.startswith(".") or ":" in seg:
                raise Forbidden(raw)  # "//", "..", ".", hidden files, "C:", "a:b" streams
        return parts

    def lookup(self, raw: str) -> Path | None:
        """The file a request target names, or None (404); raises :class:`Forbidden`."""
        parts = self.clean(raw)
        if not parts:
            parts = ["index.html"]
        if len(parts) == 1 and parts[0] in self.files:
            f = self.files[parts[0]]  # a run's own file: regular, and not a symbolic link
            try:
                st = os.lstat(f)
            except OSError:
                return None
            return f if stat.S_ISREG(st.st_mode) else None
        if parts[0] in self.folders and parts[0] != "":
            root, rel = self.folders[parts[0]], parts[1:]
        elif "" in self.folders:
            root, rel = self.folders[""], parts
        else:
            return None
        if not rel:
            rel = ["index.html"]
        try:
            target = root.joinpath(*rel).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not target.is_relative_to(root) or not stat.S_ISREG(os.stat(target).st_mode):
            return None  # a symbolic link out of the folder, or a folder
        return target


class ViewerHandler(BaseHTTPRequestHandler):
    """GET/HEAD of the files of a :class:`SiteMap` (``self.server.site``)."""

    server_version = "leosim-viewer"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._send(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(body=False)

    def _refuse_method(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = (  # noqa: N815
        _refuse_method)

    def _host_ok(self) -> bool:
        if not getattr(self.server, "loopback_only", False):
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.lower() in LOOPBACK_HOSTS

    def _error(self, status: HTTPStatus, extra: dict[str, str] | None = None) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send(self, body: bool) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN)
            return
        try:
            path = self.server.site.lookup(self.path)
        except Forbidden:
            self._error(HTTPStatus.FORBIDDEN)
            return
        if path is None:
            self._error(HTTPStatus.NOT_FOUND)
            return
        ctype = TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        try:
            fh = path.open("rb")
        except OSError:
            self._error(HTTPStatus.NOT_FOUND)
            return
        with fh:
            size = path.stat().st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype or "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            if body:
                shutil.copyfileobj(fh, self.wfile)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (base class signature)
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)


class ViewerServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` holding a :class:`SiteMap`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: SiteMap, *, verbose: bool = False) -> None:
        self.site = site
        self.verbose = verbose
        self.loopback_only = address[0] in ("127.0.0.1", "localhost", "::1")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, ViewerHandler)


def site_for(out_dir: str | Path) -> SiteMap:
    """The :class:`SiteMap` of a run folder: static files, Cesium, scene.czml, viewer.json.

    Raises
    ------
    InputError
        If ``out_dir`` has no ``scene.czml`` or the Cesium build is not installed.
    """
    out = Path(out_dir)
    if not (out / SCENE).is_file():
        raise InputError(f"{out} has no {SCENE}",
                         hint="runs write it; or from Python: "
                              "leosim.viewer.czml.write_czml(scenario, out_dir)")
    return SiteMap({"": STATIC_DIR, "cesium": cesium_dir()},
                   {SCENE: out / SCENE, PAIRS_JSON: out / PAIRS_JSON})


def serve(out_dir: str | Path, port: int = 0, host: str = "127.0.0.1", *,
          verbose: bool = False) -> tuple[ViewerServer, str]:
    """Serve the viewer of a run folder from a background thread.

    Parameters
    ----------
    out_dir : str or Path
        Run folder holding ``scene.czml`` (and ``viewer.json``).
    port : int, optional
        TCP port; 0 (default) picks a free one.
    host : str, optional
        Address to bind (default 127.0.0.1: this machine only).
    verbose : bool, optional
        Log each request to stderr.

    Returns
    -------
    (ViewerServer, str)
        The running server (stop it with ``server.shutdown(); server.server_close()``) and the
        page's URL.

    Raises
    ------
    InputError
        If the folder has no scene, the Cesium build is missing, or the port is taken.
    """
    site = site_for(out_dir)
    try:
        server = ViewerServer((host, port), site, verbose=verbose)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port (0 picks a free one)") from None
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     name="leosim-viewer", daemon=True).start()
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return server, f"http://{shown}:{bound_port}/"
