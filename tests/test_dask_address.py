"""Dask scheduler addresses: bad ones exit 2 at once, unreachable ones within the timeout.

The wall-time bounds below are correctness bounds (the old code took ~35 s for a refused port
and hung for minutes on a silent server), with a generous margin for a loaded machine.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time

import pytest

from leosim.cli import main
from leosim.engine.dask_client import check_address, connect
from leosim.errors import InputError

SCENARIO = """
[scenario]
name = "address test"
epoch = "2022-03-15T12:00:00Z"
duration_s = 120
step_s = 120
[constellation]
preset = "starlink-550"
[ground]
cities = ["London"]
gateways = "starlink"
pops = "starlink"
[routing]
to_internet = "terminals"
[[threats]]
type = "satellite_loss"
fraction = 0.0
[montecarlo]
values = [0.0]
draws = 1
"""

BAD = [
    ("garbage", "no scheme"),
    ("http://127.0.0.1:8786", "unsupported scheme 'http://'"),
    ("tcp://127.0.0.1", "no port"),
    ("tcp://127.0.0.1:70000", "from 1 to 65535"),
    ("tcp://127.0.0.1:0", "out of range"),
    ("tcp://127.0.0.1:port", "from 1 to 65535"),
    ("tcp://:8786", "the host is empty"),
    ("tcp://a host:8786", "not a host name"),
    ("tcp://127.0.0.1:8786/path", "no path"),
    ("", "empty"),
]


@pytest.mark.parametrize(("address", "why"), BAD)
def test_check_address_refuses_malformed_addresses(address, why):
    with pytest.raises(InputError) as info:
        check_address(address)
    assert info.value.where == "--scheduler"
    assert why in info.value.message
    assert "tcp://HOST:PORT" in info.value.hint


@pytest.mark.parametrize(("address", "normal"), [
    ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
    (" TCP://Scheduler.Example.org:8786/ ", "tcp://scheduler.example.org:8786"),
    ("tls://10.0.0.1:1", "tls://10.0.0.1:1"),
    ("tcp://[::1]:65535", "tcp://[::1]:65535"),
])
def test_check_address_accepts_and_normalises(address, normal):
    assert check_address(address) == normal


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    return path


@pytest.mark.parametrize("command", ["montecarlo", "sweep"])
@pytest.mark.parametrize(("address", "why"), BAD[:4])
def test_bad_address_on_the_command_line_exits_2(scenario, tmp_path, capsys, command,
                                                 address, why):
    args = [command, str(scenario), "-o", str(tmp_path / "o"), "--scheduler", address, "-q"]
    if command == "sweep":
        args += ["-p", "links.min_elevation_deg=30"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "--scheduler" in err and why in err and "tcp://127.0.0.1:8786" in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _on_a_thread(fn, limit_s: float = 90.0) -> tuple[dict, float]:
    """Run ``fn()`` on a helper thread so that a hang fails the test (after ``limit_s``)
    instead of blocking the suite; ``({"value": ...} or {"error": exc}, wall seconds)``."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # SystemExit included
            box["error"] = exc

    t0 = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"{fn} still runs after {limit_s:g} s"
    return box, time.monotonic() - t0


def _cli(scenario, tmp_path, address: str, capsys) -> tuple[int, str, float]:
    """``leosim montecarlo --scheduler ADDRESS`` in this process: exit code, stderr, wall."""
    box, wall = _on_a_thread(lambda: main(["montecarlo", str(scenario), "-o",
                                           str(tmp_path / "o"), "-q", "--scheduler", address]))
    assert isinstance(box.get("error"), SystemExit), box  # not a traceback
    return box["error"].code, capsys.readouterr().err, wall


def test_refused_port_fails_fast_with_a_message(scenario, tmp_path, capsys):
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    code, err, wall = _cli(scenario, tmp_path, address, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert f"cannot reach a Dask scheduler at {address}" in err
    assert "refused" in err.lower()
    assert wall < 15, wall  # old code: ~35 s and a traceback
    assert not (tmp_path / "o").exists()


def test_silent_server_times_out_within_the_default_timeout(scenario, tmp_path, capsys):
    with socket.socket() as server:  # accepts TCP connections, never says a word
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        code, err, wall = _cli(scenario, tmp_path, address, capsys)  # default timeout: 10 s
    assert code == 2, err
    assert "Traceback" not in err
    assert address in err and "did not answer" in err
    assert "--scheduler-timeout (now 10 s)" in err
    assert 9 < wall < 15, wall  # the 10 s default; old code: > 150 s
    assert not (tmp_path / "o").exists()


def test_scheduler_timeout_option_sets_the_deadline(scenario, tmp_path):
    """Through a real process: the option parses and bounds the wait (2 s here)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        res = subprocess.run([sys.executable, "-m", "leosim", "montecarlo", str(scenario),
                              "-o", str(tmp_path / "o"), "-q", "--scheduler", address,
                              "--scheduler-timeout", "2"],
                             capture_output=True, text=True, timeout=90)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "within 2 s" in res.stderr and "(now 2 s)" in res.stderr


def test_http_server_and_a_shorter_timeout(scenario, tmp_path):
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{httpd.server_port}"
        box, wall = _on_a_thread(lambda: connect(address, timeout_s=2))
    finally:
        httpd.shutdown()
    exc = box.get("error")
    assert isinstance(exc, InputError), box
    assert exc.where == "--scheduler"
    assert address in exc.message
    assert wall < 10, wall  # the 2 s timeout, not Dask's default 30 s or a hang


def test_connect_reaches_a_real_scheduler_and_refuses_a_worker():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        with connect(address, timeout_s=5) as client:
            assert client.submit(sum, [1, 2, 39]).result() == 42
        worker = next(iter(cluster.workers.values())).address
        with pytest.raises(InputError, match="'Worker', not a Dask scheduler"):
            connect(worker, timeout_s=5)


def _sigint_ignored() -> bool:
    import signal

    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_embedded_cluster_workers_leave_ctrl_c_to_the_client():
    """A terminal's Ctrl-C reaches every process of the group: the embedded cluster's worker
    processes ignore it (no KeyboardInterrupt traceback from each), this process does not."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    with connect(None, n_workers=1) as client:
        assert signal.getsignal(signal.SIGINT) is before  # restored here
        ignored = client.run(_sigint_ignored)
    assert list(ignored.values()) == [True]
