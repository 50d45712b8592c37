"""Verifying the log as stored, in aligned ranges checked side by side.

The log is cut into ranges of ``2**level`` entries (``gateway.auditlog.range_checks``).
With more than one worker and more than one range, a pool of processes checks them,
each on its own connection, and the results are joined here in index order:

* the previous-leaf link into each range's first entry (the last leaf of the range
  before it),
* every checkpoint's root, folded from the perfect subtrees before the range (made
  from the earlier ranges' roots) and the range's own partial root,
* the time order across each boundary,
* the tree nodes above ``level``, which span several ranges,
* the first gap ends the log as the single-stream verifier ends it: nothing after a
  gap counts.

Sizes (the sequencer's and the highest stored index) are read in one statement and the
checkpoints before them, so entries appended while verification runs are neither read
nor counted against it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audit import CheckpointError, node_hash, open_checkpoint
from gateway.auditlog.derived_checks import CHANGED_NODE, MISSING_NODE, DerivedChecks
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.range_checks import RangeJob, RangeResult, check_range
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.time_order import TIME_REVERSED, TimeOrder
from gateway.auditlog.verify import (
    Problem,
    Report,
    StoredCheckpoint,
    WitnessPolicy,
    checkpoint_targets,
    close_report,
)
from gateway.auditlog.verify_repository import log_head, nodes_above
from gateway.store.engine import make_store_engine

RANGE_LEVEL = 16  # ranges of 65,536 entries: a second or two of work each
_CORE_CAP = 100  # the single-stream verifier stops after this many problems


def plan(size_limit: int, level: int) -> list[RangeJob]:
    """Ranges covering positions ``[0, size_limit)`` (at least one: the first range also
    reads entries at negative indexes, which a log may not have)."""
    length = 1 << level
    end = max(size_limit, 1)
    count = -(-end // length)
    return [
        RangeJob(
            start=i * length,
            stop=min((i + 1) * length, end),
            level=level,
            targets=(),
            first=i == 0,
        )
        for i in range(count)
    ]


def workers_for(setting: int) -> int:
    """The configured worker count; 0 means one per CPU."""
    return setting if setting > 0 else max(1, os.cpu_count() or 1)


def verify_stored(
    session: Session,
    macs: EntryMacs | None,
    keys: Sequence[str],
    origin: str,
    witnesses: WitnessPolicy,
    *,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    level: int = RANGE_LEVEL,
) -> tuple[Report, DerivedChecks]:
    """Everything ``verify`` and ``DerivedChecks`` check, over the store, range by range.

    Returns the report (core problems only, as ``verify`` leaves it) and the derived
    checks holding their problems, the runs of entries without a MAC and the missing
    nodes (what ``cdg audit repair`` restores); the caller runs ``finish`` on them.
    """
    conn = session.connection()
    head = log_head(conn)
    checkpoints = [StoredCheckpoint(size, root, note) for size, root, note in head.checkpoints]
    expected = head.sequencer or 0
    report = Report()
    # The ranges compute the root at every stored checkpoint's size and the saved one's;
    # which of them count (a genuine signature) is decided here while the ranges are
    # being checked, and only those are compared.
    sizes = {c.size for c in checkpoints} | _saved_size(since, keys, origin)
    jobs = [
        RangeJob(
            job.start,
            job.stop,
            job.level,
            tuple(sorted(s for s in sizes if job.start < s <= job.stop)),
            job.first,
            filled=head.highest is not None,
        )
        for job in plan(0 if head.highest is None else head.highest + 1, level)
    ]
    upper = nodes_above(conn, level)
    derived = DerivedChecks(AuditRepository(session), macs)
    # The checkpoints' signatures are verified in a thread while the workers start (the
    # first start waits for the fork server to import the gateway).
    with ThreadPoolExecutor(1, thread_name_prefix="cdg-verify-checkpoints") as checking:
        signed = checking.submit(
            checkpoint_targets, checkpoints, keys, origin, report, since, witnesses
        )
        with _results(session, jobs, macs, workers) as results:
            targets = signed.result()
            if not set(targets) <= sizes:
                raise RuntimeError("verification computed no root for a checkpoint it checks")
            join = _Join(report, derived, targets, upper, level)
            for result in results:
                if not join.add(result):
                    break
                if progress is not None:
                    progress(join.position)
    join.finish()
    close_report(report, join.position, targets, expected)
    derived.read_stray_rows(report.entries)
    return report, derived


def _saved_size(since: str | None, keys: Sequence[str], origin: str) -> set[int]:
    """The size of the auditor's saved checkpoint, when it opens (``checkpoint_targets``
    reports it when it does not)."""
    if since is None:
        return set()
    try:
        return {open_checkpoint(since, keys, origin=origin).size}
    except CheckpointError:
        return set()


@contextmanager
def _results(
    session: Session, jobs: list[RangeJob], macs: EntryMacs | None, workers: int
) -> Iterator[Iterator[RangeResult]]:
    """The ranges' results in index order. With workers, every range is handed to the
    pool before this returns, so the workers start (and check) while the caller goes on."""
    url = session.connection().engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if workers <= 1 or len(jobs) <= 1 or in_memory:
        conn = session.connection()
        yield (check_range(conn, job, macs) for job in jobs)
        return
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=_worker_context(),
        initializer=_start_worker,
        initargs=(url.render_as_string(hide_password=False), macs),
    ) as pool:
        futures = [pool.submit(_run_job, job) for job in jobs]
        try:
            yield (future.result() for future in futures)
        finally:
            for future in futures:
                future.cancel()  # the ranges after a gap are not needed


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server, not from this process: the parent may run
    threads (the audit writer, a server) whose locks a forked child would inherit held,
    while the fork server is a fresh single-threaded process. It imports the worker's
    modules once, so a worker starts in a fork, not in a new interpreter importing the
    gateway (seconds of CPU each under load). Where there is no fork, workers are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        [
            "__main__",
            "gateway.auditlog.range_checks",
            "gateway.store.engine",
            # What a worker's engine imports on its first connection (a missing one is skipped).
            "psycopg",
            "sqlalchemy.dialects.postgresql.psycopg",
        ]
    )
    return context


_WORKER: dict[str, object] = {}


def _start_worker(url: str, macs: EntryMacs | None) -> None:
    _WORKER["engine"] = make_store_engine(url, pool_size=1)
    _WORKER["macs"] = macs


def _run_job(job: RangeJob) -> RangeResult:
    engine = cast(Engine, _WORKER["engine"])
    with engine.connect() as conn:
        return check_range(conn, job, cast(EntryMacs | None, _WORKER["macs"]))


class _Join:
    """Joins range results in index order into one report."""

    def __init__(
        self,
        report: Report,
        derived: DerivedChecks,
        targets: dict[int, bytes],
        upper: dict[tuple[int, int], bytes],
        level: int,
    ) -> None:
        self.report = report
        self.derived = derived
        self.targets = targets
        self.upper = upper
        self.level = level
        self.position = 0
        self.prev = ""
        self.core: list[Problem] = []
        self.problems: list[Problem] = []
        self.missing: list[tuple[int, int, bytes]] = []
        self.unmacked: list[list[int]] = []
        self.tops: list[bytes] = []  # roots of the full ranges so far, from the entries
        self.stack: list[tuple[int, bytes]] = []  # nodes above ``level`` from stored leaves
        self.time = TimeOrder()

    def add(self, result: RangeResult) -> bool:
        """Take the next range's result; False once the log stopped (a gap)."""
        if result.start > self.position:
            # The ranges before ended short (their last entries, or a whole range, are
            # missing): the log stops at the first missing index, as the single stream says.
            self.core.append(
                Problem(
                    self.position,
                    "missing_entry",
                    f"entry {self.position}: expected next, the next stored entry is later",
                )
            )
            return False
        if result.chain is not None and result.start > 0:
            index, claimed = result.chain
            if claimed != self.prev:
                self.core.append(
                    Problem(
                        index,
                        "broken_chain",
                        f"entry {index}: the entry before it was changed, removed or inserted",
                    )
                )
        self.core.extend(result.core)
        prefix = self._prefix()
        for size, local in sorted(result.roots.items()):
            if size not in self.targets:
                continue  # a checkpoint whose signature does not verify: no root to match
            root = local
            for left in reversed(prefix):
                root = node_hash(left, root)
            if root != self.targets[size]:
                self.core.append(
                    Problem(
                        size - 1,
                        "checkpoint_mismatch",
                        f"entries 0..{size - 1} do not hash to the signed checkpoint "
                        f"at size {size}",
                    )
                )
        if result.first_time is not None:
            why = self.time.step(*result.first_time)
            if why is not None:
                self.problems.append(Problem(result.first_time[0], TIME_REVERSED, why))
        if result.last_time is not None:
            self.time = TimeOrder(result.last_time[1], result.last_time[0])
        self.problems.extend(result.derived)
        self.missing.extend(result.missing)
        for first, last in result.unmacked:
            if self.unmacked and self.unmacked[-1][1] == first - 1:
                self.unmacked[-1][1] = last
            else:
                self.unmacked.append([first, last])
        self.position = result.position
        self.prev = result.last_digest
        if result.gap is not None:
            self.core.append(result.gap)
            return False
        if result.top is not None and result.node_top is not None:
            self.tops.append(result.top)
            self._push(result.position - 1, result.node_top)
        return True

    def _prefix(self) -> list[bytes]:
        """The perfect subtrees (from the entries) of all full ranges so far, left first."""
        out: list[bytes] = []
        count, offset = len(self.tops), 0
        for height in range(count.bit_length() - 1, -1, -1):
            if count >> height & 1:
                out.append(_subtree(self.tops[offset : offset + (1 << height)]))
                offset += 1 << height
        return out

    def _push(self, last_leaf: int, value: bytes) -> None:
        """A full range's node (from the tree's leaves): check the nodes it completes."""
        level, stack = self.level, self.stack
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level += 1
            idx = (last_leaf + 1) // (1 << level) - 1
            have = self.upper.get((level, idx))
            if have is None:
                self.missing.append((level, idx, value))
            elif have != value:
                self.problems.append(
                    Problem(
                        last_leaf,
                        CHANGED_NODE,
                        f"tree node {level}/{idx} does not hash its entries",
                    )
                )
        stack.append((level, value))

    def finish(self) -> None:
        """Into the report and the derived checks, capped as the single stream caps them."""
        core = sorted(self.core, key=lambda p: p.index)
        room = _CORE_CAP + 1 - len(self.report.problems)
        if len(core) > room:
            # The single stream stops after the problem that makes 101: nothing later counts.
            core = core[: max(room, 0)]
            self.position = min(self.position, (core[-1].index + 1) if core else 0)
            self.problems = [p for p in self.problems if p.index < self.position]
        self.report.problems.extend(core)
        derived = self.derived
        if self.missing:
            level, idx, _ = self.missing[0]
            derived.problems.append(
                Problem(
                    ((idx + 1) << level) - 1,
                    MISSING_NODE,
                    f"tree node {level}/{idx} is missing (derived data: `cdg audit repair`)",
                )
            )
        derived.problems.extend(sorted(self.problems, key=lambda p: p.index)[: _CORE_CAP + 1])
        derived.missing = self.missing
        derived.unmacked = self.unmacked


def _subtree(roots: list[bytes]) -> bytes:
    """The root of a perfect run of range roots (a power of two of them)."""
    level = list(roots)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
