"""``cdg serve --workers 2`` as real processes: connections opened together spread over
the workers (each listens on its own SO_REUSEPORT socket), a worker that dies is replaced
on its socket, and an address already taken stops the server with an error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from gateway.cli.serve_workers import foreign_listeners, spreads_connections
from tests.gateway.cli.test_serve_addresses import CDG, ROOT, _free_port

pytestmark = pytest.mark.skipif(
    not spreads_connections(), reason="SO_REUSEPORT spreads connections on Linux only"
)
BURST = 32  # P(one worker gets them all | even spread) = 2**-31


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.add(int(entry))
    return found


def _socket_owners(pids: set[int]) -> dict[int, int]:
    """Socket inode -> the process holding it."""
    owners: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[8:-1])] = pid
    return owners


def _server_sides(port: int) -> dict[int, int]:
    """Client port -> inode of the server's end of each established connection to ``port``."""
    sides: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == port and fields[3] == "01":  # ESTABLISHED
            sides[remote_port] = int(fields[9])
    return sides


def _burst(port: int, server: int) -> list[int]:
    """Open BURST connections at once, make a request on each, and return which worker
    process serves each one."""
    with ExitStack() as stack:
        conns = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
            for _ in range(BURST)
        ]
        for conn in conns:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for conn in conns:
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        sides = _server_sides(port)
        owners = _socket_owners(_children(server))
        return [owners[sides[conn.getsockname()[1]]] for conn in conns]


def _home(tmp_path: Path) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDG_")},
        "CDG_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([*CDG, "init"], env=env, check=True, capture_output=True, timeout=120)
    return env


@contextmanager
def _two_workers(tmp_path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = _home(tmp_path)
    server = subprocess.Popen(
        [*CDG, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_workers(server, port, 2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait_for_workers(server: subprocess.Popen[bytes], port: int, count: int) -> None:
    """Until ``count`` worker processes each answer on the port."""
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, "the server stopped"
        try:
            if len(set(_burst(port, server.pid))) >= count:
                return
        except (OSError, KeyError, AssertionError):
            pass  # not listening yet, or a worker still starting
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.3)


def test_connections_opened_together_spread_over_the_workers(tmp_path: Path) -> None:
    port = _free_port()
    with _two_workers(tmp_path, port) as server:
        for _ in range(3):
            served = _burst(port, server.pid)
            counts = sorted(served.count(pid) for pid in set(served))
            # Spread by the kernel over two sockets: each worker takes some of the burst.
            assert len(counts) == 2 and counts[0] >= 4, counts


def test_a_dead_worker_is_replaced_on_its_own_socket(tmp_path: Path) -> None:
    port = _free_port()
    with _two_workers(tmp_path, port) as server:
        victim = max(set(_burst(port, server.pid)))
        os.kill(victim, signal.SIGKILL)
        _wait_for_workers(server, port, 2)
        served = set(_burst(port, server.pid))
        assert len(served) == 2 and victim not in served


@pytest.mark.parametrize("shared", [False, True], ids=["plain", "reuseport"])
def test_an_address_in_use_stops_the_server(tmp_path: Path, shared: bool) -> None:
    """Also when the listener there would share it (another server's worker): a second
    server on the port must not take a share of the first one's connections."""
    env = _home(tmp_path)
    with socket.socket() as taken:
        if shared:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CDG, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "in use" in done.stderr + done.stdout


def _listener(address: str, port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((address, port))
    sock.listen()
    return sock


def test_foreign_listeners_are_those_that_would_take_the_connections() -> None:
    with _listener("127.0.0.1") as ours:
        port = ours.getsockname()[1]
        mine = {os.fstat(ours.fileno()).st_ino}
        assert foreign_listeners("127.0.0.1", port, mine) == []
        with _listener("127.0.0.2", port):  # another address: takes none of ours
            assert foreign_listeners("127.0.0.1", port, mine) == []
            assert foreign_listeners("0.0.0.0", port, mine) == [f"127.0.0.2:{port}"]
        with _listener("127.0.0.1", port):  # same address: shares our connections
            assert foreign_listeners("127.0.0.1", port, mine) == [f"127.0.0.1:{port}"]
        with _listener("0.0.0.0", port):  # the wildcard: takes connections for ours
            assert foreign_listeners("127.0.0.1", port, mine) == [f"0.0.0.0:{port}"]


def test_two_servers_started_together_do_not_both_serve(tmp_path: Path) -> None:
    """Both can pass their probes before either listens; a server that looks once both
    listen sees the other's sockets and stops, so at most one keeps serving."""
    port = _free_port()
    servers = []
    for name in ("a", "b"):
        env = _home(tmp_path / name)
        servers.append(
            subprocess.Popen(
                [*CDG, "serve", "--workers", "2", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and all(s.poll() is None for s in servers):
            time.sleep(0.5)
        time.sleep(5)  # a server still starting has had its checks by now
        assert not all(s.poll() is None for s in servers), "both serve one port"
    finally:
        for server in servers:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=60)


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no time to stop its workers: they stop by themselves
    (left running, they would hold the port with nobody to replace or stop them)."""
    port = _free_port()
    with _two_workers(tmp_path, port) as server:
        workers = set(_burst(port, server.pid))
        assert len(workers) == 2
        server.kill()
        server.wait(timeout=60)
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.2)
        with socket.socket() as again:  # nothing listens on the port any more
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # closed ones may linger
            again.bind(("127.0.0.1", port))
            again.listen()
