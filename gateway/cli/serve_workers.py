"""`cdg serve --workers N`: uvicorn's supervisor, with one listening socket per worker.

uvicorn's workers share one listening socket, and a worker's event loop accepts every
connection waiting when it wakes (up to the backlog). A client that opens its keep-alive
connections in a burst (a load balancer's pool, an app's HTTP client) lands them all on
whichever worker woke first, and the others idle: two workers measured no faster than
one. With ``SO_REUSEPORT`` each worker listens on a socket of its own, bound to the same
address, and the kernel spreads new connections over the sockets by their addresses.

Linux only: elsewhere ``SO_REUSEPORT`` does not spread connections (on macOS the last
socket bound takes them all), so there the workers share one socket as uvicorn does.
Linux lets only sockets of the same user share a port this way.

The supervisor (this process) keeps every socket open, so a worker that dies leaves its
socket's waiting connections to its replacement instead of refusing them.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("uvicorn.error")


def spreads_connections() -> bool:
    """Whether this platform's ``SO_REUSEPORT`` spreads connections over sockets."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on one address with ``SO_REUSEPORT`` (port 0: a free
    port). Exits as uvicorn does when the address cannot be bound or another process
    listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        # First without SO_REUSEPORT: it fails when anything listens there already, so a
        # second server started on the same port stops instead of quietly taking a share
        # of this one's connections.
        with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            # Listening at once, not when a worker has started: a socket that is only
            # bound would let another server's probe through while the workers start.
            sock.listen(backlog)
            sock.set_inheritable(True)
        # Two servers started together can both pass their probes: whichever looks after
        # both listen sees the other's sockets and stops.
        bound = sockets[0].getsockname()[0]
        if foreign_listeners(bound, port, {os.fstat(s.fileno()).st_ino for s in sockets}):
            raise OSError(f"another process listens on {host}:{port} as well")
    except OSError as exc:
        for sock in sockets:
            sock.close()
        log.error("%s", exc)
        sys.exit(STARTUP_FAILURE)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port)
    return sockets


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _overlap(a: _Address, b: _Address) -> bool:
    """Whether a socket at ``a`` takes connections for ``b`` (``::`` takes IPv4 ones too,
    unless IPv6-only: counted, to be safe)."""
    if a == b:
        return True
    if not a.is_unspecified:
        return False
    return a.version == b.version or a.version == 6


def foreign_listeners(address: str, port: int, ours: set[int]) -> list[str]:
    """Listening TCP sockets, other than ``ours`` (inodes), that would take connections
    for ``address``:``port``: on that port, at that address or at a wildcard one (or
    ``address`` is the wildcard). From /proc/net; empty where it cannot be read."""
    mine = ipaddress.ip_address(address)
    found: list[str] = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A" or inode in ours:  # 0A: LISTEN
                continue
            hex_address, hex_port = local.split(":")
            if int(hex_port, 16) != port or len(hex_address) != width:
                continue
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            raw = b"".join(bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, width, 8))
            theirs = ipaddress.ip_address(raw)
            if isinstance(theirs, ipaddress.IPv6Address) and theirs.ipv4_mapped is not None:
                theirs = theirs.ipv4_mapped
            if _overlap(mine, theirs) or _overlap(theirs, mine):
                found.append(f"{theirs}:{port}")
    return found


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Worker(Process):
    """A worker that stops when its supervisor dies, even by SIGKILL: left running, it
    would keep serving (and holding the port) with nobody to replace it or stop it."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.supervisor = os.getpid()
        super().__init__(config, sockets)

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != self.supervisor:  # it died before the line above
            return
        super().target(sockets)


class SpreadWorkers(Multiprocess):
    """uvicorn's supervisor (health checks, restarts, signals), each worker on its own
    socket: worker ``i`` and every replacement of it listen on ``sockets[i]``."""

    def _worker(self, slot: int) -> Process:
        process = _Worker(self.config, [self.sockets[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._worker(slot) for slot in range(len(self.sockets))]

    def restart_all(self) -> None:
        """SIGHUP: replace each worker, bringing its replacement into service on the same
        socket before retiring the old one (as uvicorn does)."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._worker(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error("a new worker was not ready in time; keeping the old one")
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: killed; dead: reaped
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving (the app, settings or store is broken): every
                # replacement would fail the same way.
                log.error("a worker failed to start; stopping")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("worker process [%s] died; starting another", process.pid)
            self.processes[slot] = self._worker(slot)


def serve_spread(config: Config) -> None:
    """Serve ``config.workers`` workers, each on its own socket; returns when stopped."""
    sockets = listening_sockets(config.host, config.port, config.workers, config.backlog)
    try:
        SpreadWorkers(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
