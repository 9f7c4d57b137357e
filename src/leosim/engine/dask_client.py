"""Dask scheduler addresses: checked before any work starts, connected within a deadline.

``distributed.Client`` on its own turns a mistyped address into a ``ValueError`` traceback,
retries a refused port for its whole connect timeout (30 s by default) and waits forever on a
server that accepts the TCP connection but never speaks Dask's protocol (its handshake read has
no timeout). Here an address is checked for its form first (:func:`check_address`), then
:func:`connect` probes it with one plain TCP connection (a refused port fails at once) and one
Dask ``identity`` request bounded by ``timeout_s`` (a silent or non-Dask server fails after at
most that long), and only then opens the ``Client``. Every failure is an
:class:`~leosim.errors.InputError` naming the address, so the command line exits 2 with a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from leosim.errors import InputError

if TYPE_CHECKING:
    from distributed import Client

WHERE = "--scheduler"
HINT = "give tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786 (the address `dask scheduler` prints)"
SCHEMES = ("tcp", "tls")
DEFAULT_TIMEOUT_S = 10.0


def _bad(message: str, address: str, hint: str = HINT) -> InputError:
    return InputError(f"bad Dask scheduler address {address!r}: {message}", where=WHERE,
                      hint=hint)


def _split(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a checked address (see :func:`check_address`)."""
    if not isinstance(address, str) or not address.strip():
        raise _bad("the address is empty", str(address))
    text = address.strip()
    if "://" not in text:
        raise _bad("no scheme (expected tcp:// or tls://)", address)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise _bad(f"unsupported scheme {scheme + '://'!r} (leosim connects over "
                   f"{' or '.join(s + '://' for s in SCHEMES)})", address)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number or out of range, a bad IPv6 host
        raise _bad(f"the port is not a whole number from 1 to 65535 ({exc})", address) from None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise _bad("only tcp://HOST:PORT is understood (no path, query or user)", address)
    host = parts.hostname or ""
    if not host:
        raise _bad("the host is empty", address)
    if port is None:
        raise _bad("no port", address)
    if not 1 <= port <= 65535:
        raise _bad(f"port {port} is out of range (1 to 65535)", address)
    try:
        ipaddress.ip_address(host)
    except ValueError:  # a name: letters, digits, '-' and '.' only (RFC 1123)
        labels = host.rstrip(".").split(".")
        if not all(lab and len(lab) <= 63 and lab.replace("-", "").isalnum() and lab.isascii()
                   and not lab.startswith("-") and not lab.endswith("-") for lab in labels):
            raise _bad(f"{host!r} is not a host name or IP address", address) from None
    return scheme, host, port


def check_address(address: str) -> str:
    """Check the form of a Dask scheduler address and return it normalised.

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT``; HOST is a name, an IPv4 address or a
        bracketed IPv6 address (``tcp://[::1]:8786``), PORT a whole number from 1 to 65535.

    Returns
    -------
    str
        ``scheme://host:port`` (scheme lower-case, surrounding blanks and a trailing ``/``
        removed).

    Raises
    ------
    InputError
        With ``where="--scheduler"`` for an empty address, a missing or unsupported scheme
        (``http://``), an empty host, a missing, non-numeric or out-of-range port.
    """
    scheme, host, port = _split(address)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _unreachable(address: str, why: str, timeout_s: float) -> InputError:
    return InputError(
        f"cannot reach a Dask scheduler at {address}: {why}", where=WHERE,
        hint=f"start one with `dask scheduler` (and workers with `dask worker {address}`), "
             f"check the host and port, or raise --scheduler-timeout (now {timeout_s:g} s); "
             f"without --scheduler leosim runs on a cluster of its own")


def _tcp_probe(address: str, host: str, port: int, timeout_s: float) -> None:
    """One plain TCP connection: a refused port or unknown host fails here, at once."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except socket.gaierror as exc:
        raise _unreachable(address, f"unknown host {host!r} ({exc.strerror})",
                           timeout_s) from None
    except TimeoutError:
        raise _unreachable(address, f"no answer to a TCP connection within {timeout_s:g} s",
                           timeout_s) from None
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc), timeout_s) from None


async def _identity(address: str, timeout_s: float) -> dict:
    from distributed.comm import connect as dask_connect
    from distributed.security import Security

    args = Security().get_connection_args("client")  # TLS settings from the Dask config
    comm = await dask_connect(address, timeout=timeout_s, **args)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _dask_probe(address: str, timeout_s: float, shown_s: float) -> dict:
    """Dask's handshake and an ``identity`` request, the whole exchange within ``timeout_s``.

    It runs on an event loop of its own in a helper thread (the caller may already run one),
    and ``asyncio.wait_for`` cancels it at the deadline, so a server that accepts the
    connection and then stays silent cannot hold the caller. ``shown_s`` is the timeout the
    user gave (for the message).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["reply"] = asyncio.run(asyncio.wait_for(_identity(address, timeout_s),
                                                        timeout_s))
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="leosim-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 5.0)  # wait_for has ended it by then; the margin is for the loop
    if thread.is_alive() or isinstance(box.get("error"), TimeoutError | asyncio.TimeoutError):
        raise _unreachable(address, f"the server accepted the connection but did not answer "
                                    f"as a Dask scheduler within {shown_s:g} s", shown_s)
    if "error" in box:
        exc = box["error"]
        raise _unreachable(address, f"the server does not speak Dask's protocol "
                                    f"({type(exc).__name__}: {exc})", shown_s) from None
    reply = box.get("reply")
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise _unreachable(address, f"the server answered, but as {kind!r}, not a Dask "
                                    f"scheduler (a worker's address?)", shown_s)
    return reply


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start processes that ignore SIGINT (they inherit the ignored disposition).

    A Ctrl-C in a terminal reaches every process of its group: the embedded cluster's workers
    would each print a ``KeyboardInterrupt`` traceback. Ignoring it in them leaves the decision
    to this process, which cancels the tasks and closes the cluster. (Only the main thread may
    change signal handlers; elsewhere nothing changes.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def connect(address: str | None, *, timeout_s: float = DEFAULT_TIMEOUT_S, n_workers: int = 2,
            ) -> Client:
    """A Dask ``Client`` of the scheduler at ``address``, or of a cluster of its own.

    Use it as a context manager (``with connect(address) as client: ...``): closing the
    client also closes the embedded cluster.

    Parameters
    ----------
    address : str or None
        A scheduler address (``tcp://HOST:PORT``, checked by :func:`check_address`); ``None``
        starts an embedded ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1.
    timeout_s : float
        How long to try to reach the scheduler, in seconds (> 0). A refused port fails at
        once; a host that does not answer, or a server that is not a Dask scheduler, fails
        after at most about ``timeout_s``.
    n_workers : int
        Worker processes of the embedded cluster (one thread each); unused with ``address``.

    Returns
    -------
    distributed.Client

    Raises
    ------
    InputError
        A malformed address, a non-positive timeout, or a scheduler that cannot be reached
        (refused, unknown host, silent, not Dask) within the deadline; the message names the
        address and says how to fix it.
    """
    from distributed import Client

    if address is None:
        with _workers_ignore_ctrl_c():
            return Client(n_workers=n_workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None)
    if not (timeout_s > 0 and timeout_s < float("inf")):
        raise InputError(f"bad --scheduler-timeout {timeout_s!r}: expected seconds > 0",
                         where="--scheduler-timeout", hint="e.g. --scheduler-timeout 10")
    address = check_address(address)
    _, host, port = _split(address)
    deadline = time.monotonic() + timeout_s
    _tcp_probe(address, host, port, timeout_s)
    left = max(deadline - time.monotonic(), 0.5)
    _dask_probe(address, left, timeout_s)
    left = max(deadline - time.monotonic(), 1.0)
    try:
        return Client(address, timeout=left)
    except (OSError, TimeoutError) as exc:  # it went away between the probe and now
        raise _unreachable(address, str(exc), timeout_s) from None


__all__ = ["DEFAULT_TIMEOUT_S", "check_address", "connect"]
