"""What two gateway processes can reach on this machine at best, in one run.

http_run.py's scaling figure compares `cdg serve --workers 2` (two processes, one store)
with one worker. This script measures the ceiling of that figure: two gateways that share
nothing at all (each its own home, store and source, so no store lock, no log head and no
connection is shared) driven together, against one of them driven alone, at the same total
concurrency and the same query as http_run.py. Two workers on one store cannot beat two
gateways that share nothing; if this ratio is below the scaling target, the target is out
of reach on this machine whatever the gateway does.

It also prints how many of the machine's cores were busy in each phase (from /proc/stat):
one gateway is held to about one core by Python's interpreter lock (plus what SQLite and
the kernel do outside it), and two are held by the cores there are.

Linux only (CPU time from /proc); needs wrk (`apt-get install wrk`). Only 127.0.0.1 is
contacted; both gateways are stopped and their homes removed on exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import http_run as h


def _busy_cores() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # all, idle + iowait


def _cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    total, idle = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * (1 - idle / total) if total else 0.0


def _gateway(residents: int) -> tuple[h.Server, h.Target, Path]:
    home = Path(tempfile.mkdtemp(prefix="cdg-ceiling-")).resolve()
    env = h.clean_env(home)
    summary = h.seed(home, env, residents)
    server = h.start_uvicorn("gateway", "gateway.api.asgi:app_factory", env, home)
    h.wait_ready(server, 120)
    query_id, key, _ = h.file_and_approve(server, summary, h.QUOTA_FOR_BENCH)
    body = {"params": {"min_age": h.MIN_AGE}}
    path = f"/v1/queries/{query_id}/run"
    return server, h.Target("gateway", server.port, path, body, key, server.proc.pid), home


def _together(targets: Sequence[h.Target], concurrency: int, seconds: float) -> float:
    """Requests per second of all ``targets`` driven at once, each at ``concurrency``."""
    rates: list[float] = []
    errors: list[BaseException] = []

    def drive(target: h.Target) -> None:
        try:
            elapsed, latencies, _ = h._drive_wrk(target, concurrency, seconds)
            rates.append(len(latencies) / elapsed)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(rates)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", type=int, default=16, help="in all (default 16)")
    p.add_argument("--seconds", type=float, default=10, help="per timed run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="default 3")
    p.add_argument("--residents", type=int, default=10_000, help="size of each community")
    p.add_argument("--target", type=float, default=1.6, help="the scaling target (1.6)")
    args = p.parse_args(argv)
    if not h.wrk_available():
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    started: list[tuple[h.Server, h.Target, Path]] = []
    try:
        for _ in range(2):
            started.append(_gateway(args.residents))
        one, two = started[0][1], [s[1] for s in started]
        for target in two:
            h._drive_wrk(target, args.concurrency, 3)  # warm-up
        ratios: list[float] = []
        print("round   one gateway            two sharing nothing      ratio")
        for rnd in range(1, args.rounds + 1):
            before = _busy_cores()
            alone = _together([one], args.concurrency, args.seconds)
            busy_one = _cores(before, _busy_cores())
            before = _busy_cores()
            both = _together(two, args.concurrency // 2, args.seconds)
            busy_two = _cores(before, _busy_cores())
            ratios.append(both / alone)
            print(
                f"{rnd:5}   {alone:6.1f} req/s ({busy_one:.2f} cores)"
                f"   {both:6.1f} req/s ({busy_two:.2f} cores)   {both / alone:.2f}"
            )
        ceiling = statistics.median(ratios)
        verdict = "within reach" if ceiling >= args.target else "out of reach here"
        print(
            f"ceiling of two processes over one on this machine: {ceiling:.2f}x "
            f"(median of {len(ratios)} rounds); the {args.target}x target is {verdict}"
        )
        return 0
    finally:
        for server, _, home in started:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
