"""Access-log benchmark: appends with the Merkle tree vs plain INSERTs, proofs and full
verification at 1,000,000 entries, on SQLite and PostgreSQL, in one run.

What it does (see bench/README.md for how to read the output):

1. **Appends.** In a fresh store (an SQLite file in a temporary CDG_HOME, and a fresh
   schema on PostgreSQL) ``--threads`` threads call ``gateway.auditlog.service.record``
   ``--appends`` times with entries shaped like a query run's (approved query, dataset,
   purpose, legal basis, policy version, decision, columns, row count, result digest,
   request id, client). ``record`` returns only after the writer thread's transaction
   (sequencer lock, entries, tree nodes, checkpoint, receipts) has committed, so every
   counted append is durable (see the README for SQLite's ``synchronous`` setting).
2. **Baseline, same run, same store.** The same entries (canonical JSON, same columns as
   ``audit_entries``) go into a plain table with the same columns and indexes but no
   tree, no sequencer, no triggers: the same number of threads, each doing
   ``executemany`` in batches of the average size the writer achieved, one transaction
   per batch. The ratio tree/plain is the cost of the verifiable log.
3. **A 1,000,000-entry log, bulk-loaded.** Building it through the writer would take
   long, so the bench computes exactly the rows the Appender writes (entries with
   index and previous-leaf chain, leaf hashes, every perfect-subtree node from
   ``audit.MerkleTree`` over an in-memory store, a signed checkpoint every 256 entries,
   the sequencer size) and loads them with COPY (PostgreSQL) and ``executemany``
   (SQLite). ``verify_store`` must then call the loaded log intact, and one more entry
   appended through the real writer must continue it (its receipt and a consistency
   proof from the loaded size are checked).
4. **Proofs at 1M.** ``--proofs`` inclusion proofs (random index in a random tree size)
   and as many consistency proofs (random old and new sizes) through
   ``gateway.auditlog.service.inclusion_proof`` / ``consistency_proof``, one session
   per proof as the HTTP route does; p50 / p99 in ms. Every proof is checked with the
   independent verifier against roots from the in-memory tree.
5. **Full verification at 1M.** ``verify_store`` (streams every entry, checks the chain,
   the stored tree leaves and every signed checkpoint), wall time in seconds.
6. **Appends at 1M.** The same appenders as in step 1 on the loaded log, for at most
   ``--burst-seconds``: the append rate once the log is big.

Slow phases are bounded in time (``--append-budget``, ``--proof-budget``,
``--burst-seconds``) so one run stays near ten minutes on two cores; the output says
how many operations were timed. Progress goes to stderr, the table (or ``--json``) to
stdout. The PostgreSQL schemas and the temporary home are removed at the end
(``--keep-home`` keeps the home).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import multiprocessing.forkserver
import os
import platform
import random
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from audit import (
    Checkpoint,
    CheckpointSigner,
    MemoryNodeStore,
    MerkleTree,
    canonical_json,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from gateway.auditlog import service
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.models import AuditCheckpoint, AuditEntryRow, AuditSubject

# The two private helpers give the bench the exact entry dict ``record`` builds and the
# exact row the Appender inserts, so the baseline and the bulk loader cannot drift from
# the writer without the verification step noticing.
from gateway.auditlog.service import _pending
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.writer import AuditUnavailable, _row_fields, build_entry
from gateway.context import GatewayContext
from gateway.keys import ensure_keys, load_keyring
from gateway.principal import AuthPrincipal
from gateway.settings import Settings, load_settings
from gateway.store.base import utcnow
from gateway.store.engine import Store
from gateway.store.migrate import upgrade

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHECKPOINT_EVERY = 256  # the default checkpoint_every_entries: one checkpoint per loaded batch

TARGET_PG_APPENDS = 5000.0
TARGET_PG_RATIO = 0.50
TARGET_PROOF_P99_MS = 2.0
TARGET_VERIFY_S = 10.0
TARGET_ENTRIES = 1_000_000  # the size the proof and verification targets are stated for


def log(message: str) -> None:
    print(f"[audit-bench] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """The bench could not run, or a result was wrong; the message says what."""


# -- entries shaped like a query run's ---------------------------------------------------

APPS = [
    AuthPrincipal(
        id="pr_bench_heping",
        name="heping-committee",
        kind="app",
        role="neighbourhood-committee",
        domain="heping",
    ),
    AuthPrincipal(
        id="pr_bench_guangming",
        name="guangming-eldercare",
        kind="app",
        role="elder-care",
        domain="guangming",
    ),
    AuthPrincipal(
        id="pr_bench_jianshe",
        name="jianshe-property",
        kind="app",
        role="property",
        domain="jianshe",
    ),
]

# (dataset, purpose, legal basis, kind, [(column, treatment)]), as in the demo catalog.
RUNS: list[tuple[str, str, str, str, list[tuple[str, str]]]] = [
    (
        "ds_3f9a0c1e5b7d4a2e8c61",
        "public-service.elderly-care.home-visit",
        "《个人信息保护法》第十三条第(三)(五)项: 履行法定职责, 独居老人探访",
        "rows",
        [
            ("resident_id", "pseudonymise"),
            ("name", "mask"),
            ("mobile", "mask"),
            ("age", "keep"),
            ("building", "keep"),
            ("unit", "keep"),
            ("room", "keep"),
        ],
    ),
    (
        "ds_3f9a0c1e5b7d4a2e8c61",
        "public-service.community-planning",
        "社区公共服务规划 (统计结果, 不含个人信息)",
        "aggregate",
        [("building", "keep"), ("age", "generalise"), ("count", "laplace")],
    ),
    (
        "ds_81c2d7e04f3b9a6d2e15",
        "public-service.elderly-care.health-follow-up",
        "《基本医疗卫生与健康促进法》老年人健康管理; 仅统计结果",
        "aggregate",
        [("building", "keep"), ("blood_pressure_high", "keep"), ("count", "gaussian")],
    ),
    (
        "ds_c5e4a9b1073d2f8e6a40",
        "property.complaint-handling",
        "物业服务合同履行 (《民法典》第九百四十二条)",
        "rows",
        [
            ("complaint_id", "pseudonymise"),
            ("category", "keep"),
            ("building", "keep"),
            ("summary", "redact_pii"),
            ("status", "keep"),
        ],
    ),
]
POLICY_VERSIONS = {
    dataset: hashlib.sha256(f"policy-{dataset}".encode()).hexdigest() for dataset, *_ in RUNS
}


def query_run(i: int, subjects: int) -> tuple[AuthPrincipal, dict[str, Any], list[str] | None]:
    """(principal, fields, subject refs) of the i-th simulated query run; one in ten refused."""
    app = APPS[i % len(APPS)]
    dataset, purpose, basis, kind, columns = RUNS[i % len(RUNS)]
    common: dict[str, Any] = {
        "approved_query": f"qr_{hashlib.sha256(b'%d' % (i % 211)).hexdigest()[:20]}",
        "dataset": dataset,
        "purpose": purpose,
        "policy_version": POLICY_VERSIONS[dataset],
        "request_id": os.urandom(16).hex(),  # like uuid4().hex
        "client": f"10.20.{i % 7}.{i % 251}",
    }
    if i % 10 == 9:  # a logged denial, as gateway.queries.service._deny writes it
        common["decision"] = {"allowed": False, "reason_code": "run_quota_used"}
        return app, {**common, "outcome": "refused"}, None
    rows = 20 if kind == "rows" else 12
    fields = {
        **common,
        "legal_basis": basis,
        "decision": {"allowed": True, "reason_code": "granted"},
        "kind": kind,
        "outcome": "ok",
        "columns": [{"name": n, "treatment": t} for n, t in columns],
        "row_count": rows,
        "suppressed_groups": 0 if kind == "rows" else i % 3,
        "result_digest": hashlib.sha256(b"release-%d" % i).hexdigest(),
    }
    refs = None
    if kind == "rows":
        refs = sorted(
            "s_"
            + base64.b32encode(hashlib.sha256(b"%d-%d" % (i, j)).digest()[:16])
            .decode("ascii")
            .rstrip("=")
            .lower()
            for j in range(subjects)
        )
    return app, fields, refs


# -- stores --------------------------------------------------------------------------------


@dataclass
class Target:
    """One store under test: its settings and, for PostgreSQL, its schema."""

    kind: str  # "sqlite" | "postgresql"
    settings: Settings
    schema: str | None = None

    @property
    def url(self) -> str:
        return self.settings.store_url


def settings_for(home: Path, url: str) -> Settings:
    return load_settings(environ={}, home=home, database_url=url)


def prepare(home: Path, url: str, kind: str, schema: str | None = None) -> Target:
    settings = settings_for(home, url)
    upgrade(settings.store_url)
    return Target(kind, settings, schema)


class PostgresSchemas:
    """Fresh schemas on the server, each reached through a search_path URL; dropped on close."""

    def __init__(self, base: URL) -> None:
        self.base = base
        self.admin = sa.create_engine(base, poolclass=sa.NullPool)
        self.created: list[str] = []
        with self.admin.connect() as conn:
            self.server_version = str(conn.execute(sa.text("SHOW server_version")).scalar())
            self.synchronous_commit = str(conn.execute(sa.text("SHOW synchronous_commit")).scalar())
            self.fsync = str(conn.execute(sa.text("SHOW fsync")).scalar())

    def create(self, label: str) -> tuple[str, str]:
        schema = f"cdg_bench_{label}_{secrets.token_hex(4)}"
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        self.created.append(schema)
        url = self.base.update_query_dict({"options": f"-csearch_path={schema}"})
        return schema, url.render_as_string(hide_password=False)

    def close(self) -> None:
        for schema in self.created:
            try:
                with self.admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            except sa.exc.SQLAlchemyError as exc:
                log(f"could not drop schema {schema}: {type(exc).__name__}")
        self.admin.dispose()


def force_sqlite_synchronous(store: Store, mode: str | None) -> None:
    """Override the gateway's PRAGMA synchronous on every new connection (after its own)."""
    if mode is None or store.engine.dialect.name != "sqlite":
        return

    def _set(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={mode}")
        cursor.close()

    sa.event.listen(store.engine, "connect", _set)
    store.engine.dispose()  # connections opened before the listener keep the old mode


# -- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms_summary(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
        "mean_ms": round(sum(seconds) / len(seconds) * 1000, 3),
    }


# -- 1. appends through the writer ---------------------------------------------------------


def run_appends(
    ctx: GatewayContext, first: int, count: int, threads: int, budget: float, subjects: int
) -> dict[str, Any]:
    """Up to ``count`` record() calls by ``threads`` threads; no new one after ``budget`` s.

    Returns what a run of appends needs: how many committed, the wall time, the batches
    the writer made (receipts of one batch share its tree size), latencies and failures.
    """
    lock = threading.Lock()
    state = {"next": first}
    deadline = time.perf_counter() + budget

    def work() -> tuple[list[tuple[int, float]], list[str]]:
        done: list[tuple[int, float]] = []
        failed: list[str] = []
        while time.perf_counter() < deadline:
            with lock:
                i = state["next"]
                if i >= first + count:
                    break
                state["next"] = i + 1
            who, fields, refs = query_run(i, subjects)
            started = time.perf_counter()
            try:
                receipt = service.record(ctx, "query.run", who, subjects=refs, **fields)
            except AuditUnavailable as exc:
                failed.append(f"{exc} ({exc.__cause__!r})")
                continue
            done.append((receipt.tree_size, time.perf_counter() - started))
        return done, failed

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(work) for _ in range(threads)]
        results = [f.result() for f in futures]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = [x for d, _ in results for x in d]
    failed = [x for _, f in results for x in f]
    batches = len({size for size, _ in done})
    return {
        "appends": len(done),
        "threads": threads,
        "seconds": round(wall, 3),
        "per_second": round(len(done) / wall, 1),
        # CPU of this whole process (callers and writer) per append: steadier than the
        # rate when other programs compete for the CPUs; database server time not included.
        "cpu_us_per_append": round(cpu / len(done) * 1e6) if done else None,
        "batches": batches,
        "avg_batch": round(len(done) / batches, 2) if batches else None,
        "latency": ms_summary([s for _, s in done]) if done else None,
        "failed": len(failed),
        "failures": sorted(set(failed))[:3],
        "stopped_by_budget": len(done) + len(failed) < count,
    }


def bench_appends(target: Target, args: argparse.Namespace, sync: str | None) -> dict[str, Any]:
    ctx = GatewayContext.open(target.settings)
    force_sqlite_synchronous(ctx.store, sync)
    try:
        if args.warmup:
            run_appends(ctx, 0, args.warmup, args.threads, math.inf, args.subjects)
        out = run_appends(
            ctx, args.warmup, args.appends, args.threads, args.append_budget, args.subjects
        )
        with ctx.store.sessions() as session:
            stored = session.execute(
                sa.select(sa.func.count()).select_from(AuditEntryRow)
            ).scalar_one()
    finally:
        ctx.close()
    if out["failed"] or stored != args.warmup + out["appends"]:
        raise BenchError(
            f"{target.kind}: {args.warmup + out['appends']} appends committed, {stored} "
            f"entries stored, {out['failed']} appends failed {out['failures']}"
        )
    return out


# -- 2. baseline: plain INSERTs, no tree ---------------------------------------------------


def plain_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Copies of audit_entries and audit_subjects: same columns and indexes, no triggers."""

    def copy(source: sa.Table, name: str) -> sa.Table:
        columns = [
            sa.Column(
                c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, autoincrement=False
            )
            for c in source.columns
        ]
        indexes = [
            sa.Index(f"ix_{name}_{n}", *[c.name for c in index.columns], unique=index.unique)
            for n, index in enumerate(sorted(source.indexes, key=lambda i: str(i.name)))
        ]
        return sa.Table(name, metadata, *columns, *indexes)

    return (
        copy(cast(sa.Table, AuditEntryRow.__table__), "bench_plain_entries"),
        copy(cast(sa.Table, AuditSubject.__table__), "bench_plain_subjects"),
    )


def plain_row(i: int, subjects: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The row the Appender would write for entry i (no chain: prev is empty)."""
    who, fields, refs = query_run(i, subjects)
    pending = _pending("query.run", who, refs, fields)
    now = utcnow()
    entry = build_entry(pending, i, "", now)
    data = canonical_json(entry)
    row = _row_fields(entry, data, leaf_hash(data))
    return row, [{"subject_ref": ref, "entry_index": i} for ref in pending.subjects]


def bench_plain(
    target: Target, count: int, threads: int, batch: int, subjects: int, sync: str | None
) -> dict[str, Any]:
    store = Store.from_url(target.url)
    force_sqlite_synchronous(store, sync)
    metadata = sa.MetaData()
    entries, subject_table = plain_tables(metadata)
    metadata.create_all(store.engine)

    def insert(indexes: Sequence[int]) -> None:
        rows, refs = [], []
        for i in indexes:
            row, subject_rows = plain_row(i, subjects)
            rows.append(row)
            refs.extend(subject_rows)
        with store.engine.begin() as conn:
            conn.execute(sa.insert(entries), rows)
            if refs:
                conn.execute(sa.insert(subject_table), refs)

    def work(t: int) -> None:
        lo, hi = t * count // threads, (t + 1) * count // threads
        for start in range(lo, hi, batch):
            insert(range(start, min(start + batch, hi)))

    try:
        insert(range(count, count + batch))  # warm-up: connection, statement cache
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(work, range(threads)))
            wall = time.perf_counter() - started
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one()
    finally:
        store.dispose()
    if stored != count + batch:
        raise BenchError(f"{target.kind}: {count} plain inserts but {stored - batch} rows")
    return {
        "inserts": count,
        "threads": threads,
        "batch": batch,
        "seconds": round(wall, 3),
        "per_second": round(count / wall, 1),
    }


# -- 3. a bulk-loaded log ------------------------------------------------------------------


class CapturingNodeStore(MemoryNodeStore):
    """An in-memory node store that also hands out the nodes added since the last take()."""

    def __init__(self) -> None:
        super().__init__()
        self.fresh: list[tuple[int, int, bytes]] = []

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        super().put_many(nodes)
        self.fresh.extend(nodes)

    def take(self) -> list[tuple[int, int, bytes]]:
        out, self.fresh = self.fresh, []
        return out


@dataclass
class Chunk:
    entries: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)
    checkpoints: list[tuple[int, bytes, str, Any]] = field(default_factory=list)
    subjects: list[tuple[str, int]] = field(default_factory=list)


_CANONICAL: dict[str, Any] = {
    "sort_keys": True,
    "ensure_ascii": False,
    "separators": (",", ":"),
    "allow_nan": False,
}


class LogBuilder:
    """Computes exactly what Appender.append would write, one 256-entry batch at a time."""

    def __init__(
        self, signer: CheckpointSigner, origin: str, subjects: int, macs: EntryMacs
    ) -> None:
        self.signer = signer
        self.origin = origin
        self.subjects = subjects
        self.macs = macs
        self.nodes = CapturingNodeStore()
        self.tree = MerkleTree(self.nodes)
        self.prev = ""

    @property
    def size(self) -> int:
        return self.tree.size()

    def batch(self, n: int, chunk: Chunk) -> None:
        start = self.size
        now = utcnow()
        leaves = []
        for i in range(start, start + n):
            who, fields, refs = query_run(i, self.subjects)
            pending = _pending("query.run", who, refs, fields)
            entry = build_entry(pending, i, self.prev, now)
            # canonical_json is json.dumps of a validated copy with these options; the
            # copy is skipped for speed and the equality is asserted on every batch.
            data = json.dumps(entry, **_CANONICAL).encode("utf-8")
            if i == start and canonical_json(entry) != data:
                raise BenchError("the bulk loader's entry bytes differ from canonical_json")
            digest = leaf_hash(data)
            chunk.entries.append(_row_fields(entry, data, digest, self.macs.make(i, digest)))
            chunk.subjects.extend((ref, i) for ref in pending.subjects)
            leaves.append(digest)
            self.prev = digest.hex()
        end = self.tree.append_many(leaves)
        chunk.nodes.extend(self.nodes.take())
        root = self.tree.root(end)
        note = self.signer.sign(Checkpoint(self.origin, end, root))
        chunk.checkpoints.append((end, root, note, now))


ENTRY_COLUMNS = [c.name for c in AuditEntryRow.__table__.columns]
_QUOTED_ENTRY_COLUMNS = ", ".join(f'"{c}"' for c in ENTRY_COLUMNS)


class Loader:
    kind = ""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.seconds = 0.0
        dialect = sa.create_engine(target.url).dialect
        # Same conversion as the ORM's UTCDateTime column (naive UTC, dialect's text form).
        self.timestamp = AuditEntryRow.__table__.c.recorded_at.type.bind_processor(dialect)
        self.stamp_checkpoint = AuditCheckpoint.__table__.c.signed_at.type.bind_processor(dialect)

    def entry_tuples(self, chunk: Chunk) -> list[tuple[Any, ...]]:
        convert = self.timestamp
        at = ENTRY_COLUMNS.index("recorded_at")
        rows = []
        for row in chunk.entries:
            values = [row[c] for c in ENTRY_COLUMNS]
            if convert:
                values[at] = convert(values[at])
            rows.append(tuple(values))
        return rows

    def checkpoint_tuples(self, chunk: Chunk) -> list[tuple[Any, ...]]:
        convert = self.stamp_checkpoint
        return [
            (size, root, note, convert(at) if convert else at)
            for size, root, note, at in chunk.checkpoints
        ]

    def write(self, chunk: Chunk) -> None:
        started = time.perf_counter()
        self._write(chunk)
        self.seconds += time.perf_counter() - started

    def finish(self, size: int) -> None:
        started = time.perf_counter()
        self._finish(size)
        self.seconds += time.perf_counter() - started

    def _write(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def _finish(self, size: int) -> None:
        raise NotImplementedError


class SqliteLoader(Loader):
    kind = "sqlite"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        path = make_url(target.url).database
        if not path:
            raise BenchError("the SQLite store URL has no file")
        # Created here, used by the loader's own thread (one at a time).
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA synchronous=OFF")  # a loader, not the thing measured
        self.conn.execute("PRAGMA cache_size=-262144")
        self.conn.execute("BEGIN")

    def _write(self, chunk: Chunk) -> None:
        # Claimed before the entries are written, as the appender does (the guard checks it).
        self.conn.execute(
            "UPDATE audit_sequencer SET size = size + ? WHERE id = 1", (len(chunk.entries),)
        )
        marks = ", ".join("?" * len(ENTRY_COLUMNS))
        self.conn.executemany(
            f"INSERT INTO audit_entries ({_QUOTED_ENTRY_COLUMNS}) VALUES ({marks})",
            self.entry_tuples(chunk),
        )
        self.conn.executemany(
            "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)", chunk.nodes
        )
        self.conn.executemany(
            "INSERT INTO audit_checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)",
            self.checkpoint_tuples(chunk),
        )
        if chunk.subjects:
            self.conn.executemany(
                "INSERT INTO audit_subjects (subject_ref, entry_index) VALUES (?, ?)",
                chunk.subjects,
            )

    def _finish(self, size: int) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresLoader(Loader):
    kind = "postgresql"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        url = make_url(target.url).set(drivername="postgresql")
        self.conn = psycopg.connect(url.render_as_string(hide_password=False))

    def _write(self, chunk: Chunk) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE audit_sequencer SET size = size + %s WHERE id = 1", (len(chunk.entries),)
            )
            with cur.copy(f"COPY audit_entries ({_QUOTED_ENTRY_COLUMNS}) FROM STDIN") as copy:
                for row in self.entry_tuples(chunk):
                    copy.write_row(row)
            with cur.copy("COPY audit_nodes (level, idx, hash) FROM STDIN") as copy:
                for node in chunk.nodes:
                    copy.write_row(node)
            cur.executemany(
                "INSERT INTO audit_checkpoints (size, root, note, signed_at) "
                "VALUES (%s, %s, %s, %s)",
                self.checkpoint_tuples(chunk),
            )
            if chunk.subjects:
                with cur.copy("COPY audit_subjects (subject_ref, entry_index) FROM STDIN") as c:
                    for ref in chunk.subjects:
                        c.write_row(ref)

    def _finish(self, size: int) -> None:
        self.conn.commit()
        # What autovacuum does soon after a load this size: statistics for the planner
        # and a visibility map for index-only scans (the max(idx) size query uses one).
        self.conn.autocommit = True
        for table in ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_subjects"):
            self.conn.execute(f"VACUUM ANALYZE {table}")
        self.conn.close()


def bulk_load(
    targets: Sequence[Target],
    entries: int,
    signer: CheckpointSigner,
    origin: str,
    macs: EntryMacs,
) -> tuple[LogBuilder, dict[str, Any]]:
    """Build one log of ``entries`` entries and load it into every target's store.

    Each store is written by its own thread while the next chunk is being built, so
    the databases' work overlaps the hashing and serialising.
    """
    loaders: list[Loader] = [
        SqliteLoader(t) if t.kind == "sqlite" else PostgresLoader(t) for t in targets
    ]
    pools = [ThreadPoolExecutor(1, thread_name_prefix=f"load-{x.kind}") for x in loaders]
    pending: list[Future[None] | None] = [None] * len(loaders)
    builder = LogBuilder(signer, origin, 0, macs)
    building = 0.0
    flush_every = 64 * CHECKPOINT_EVERY
    chunk = Chunk()
    last_report = time.monotonic()
    started_all = time.perf_counter()
    try:
        while builder.size < entries:
            started = time.perf_counter()
            builder.batch(min(CHECKPOINT_EVERY, entries - builder.size), chunk)
            building += time.perf_counter() - started
            if len(chunk.entries) >= flush_every or builder.size == entries:
                for n, loader in enumerate(loaders):
                    previous = pending[n]
                    if previous is not None:
                        previous.result()  # at most one chunk queued per store
                    pending[n] = pools[n].submit(loader.write, chunk)
                chunk = Chunk()
                if time.monotonic() - last_report > 15:
                    log(f"  bulk load: {builder.size:,} / {entries:,} entries")
                    last_report = time.monotonic()
        finishing = []
        for n, loader in enumerate(loaders):
            previous = pending[n]
            if previous is not None:
                previous.result()
            finishing.append(pools[n].submit(loader.finish, builder.size))
        for future in finishing:
            future.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
    return builder, {
        "entries": builder.size,
        "nodes": len(builder.nodes),
        "checkpoints": math.ceil(entries / CHECKPOINT_EVERY),
        "seconds": round(time.perf_counter() - started_all, 2),
        "build_seconds": round(building, 2),
        "load_seconds": {loader.kind: round(loader.seconds, 2) for loader in loaders},
    }


# -- 4 and 5. proofs and verification at size N --------------------------------------------


def timed_sessions(
    ctx: GatewayContext,
    cases: Sequence[tuple[int, int]],
    call: Callable[..., Any],
    budget: float = math.inf,
) -> tuple[list[float], list[Any]]:
    """Run call(session, a, b) per case in its own session (as the HTTP route does).

    Stops early, after at least 20 cases, once ``budget`` seconds have passed.
    """
    seconds, answers = [], []
    deadline = time.perf_counter() + budget
    for a, b in cases:
        started = time.perf_counter()
        with ctx.store.sessions() as session:
            answer = call(session, a, b)
            session.commit()
        seconds.append(time.perf_counter() - started)
        answers.append(answer)
        if len(answers) >= 20 and time.perf_counter() > deadline:
            break
    return seconds, answers


def bench_log(target: Target, builder: LogBuilder, args: argparse.Namespace) -> dict[str, Any]:
    n = builder.size
    tree = builder.tree
    rng = random.Random(args.seed)
    inclusion_cases = []
    for _ in range(args.proofs):
        size = rng.randint(1, n)
        inclusion_cases.append((rng.randrange(size), size))
    consistency_cases = []
    for _ in range(args.proofs):
        old = rng.randint(1, n)
        consistency_cases.append((old, rng.randint(old, n)))

    ctx = GatewayContext.open(target.settings)
    try:
        budget = args.proof_budget
        warm = [(rng.randrange(n), n) for _ in range(20)]
        timed_sessions(ctx, warm, service.inclusion_proof, budget / 10)
        timed_sessions(ctx, [(n // 3, n)] * 20, service.consistency_proof, budget / 10)
        inc_seconds, inc_answers = timed_sessions(
            ctx, inclusion_cases, service.inclusion_proof, budget
        )
        con_seconds, con_answers = timed_sessions(
            ctx, consistency_cases, service.consistency_proof, budget
        )
        for (index, size), out in zip(inclusion_cases, inc_answers, strict=False):
            leaf = bytes.fromhex(out.leaf_hash)
            path = [base64.b64decode(h) for h in out.proof]
            if leaf != builder.nodes.get(0, index) or not verify_inclusion(
                leaf, index, size, path, tree.root(size)
            ):
                raise BenchError(f"{target.kind}: bad inclusion proof for {index} in {size}")
        for (old, new), out in zip(consistency_cases, con_answers, strict=False):
            path = [base64.b64decode(h) for h in out.proof]
            if not verify_consistency(old, new, tree.root(old), tree.root(new), path):
                raise BenchError(f"{target.kind}: bad consistency proof {old} -> {new}")

        log(f"{target.kind}: full verification of {n:,} entries")
        started, cpu = time.perf_counter(), _cpu_with_children()
        with ctx.store.sessions() as session:
            report = service.verify_store(session, ctx, workers=args.verify_workers)
        verify_seconds = time.perf_counter() - started
        verify_cpu = _cpu_with_children() - cpu  # the worker processes' CPU too
        if not report.intact or report.entries != n or report.signed_size != n:
            first = report.first
            raise BenchError(
                f"{target.kind}: the bulk-loaded log does not verify "
                f"(entries {report.entries}, signed {report.signed_size}, first problem: "
                f"{first.kind + ': ' + first.message if first else 'none'})"
            )

        # The real writer must continue the loaded log: its receipt proves entry n at
        # size n + 1 under a signed checkpoint that is consistent with the loaded root.
        who, fields, refs = query_run(n, args.subjects)
        started = time.perf_counter()
        receipt = service.record(ctx, "query.run", who, subjects=refs, **fields)
        first_append = time.perf_counter() - started
        keys = verifier_keys(ctx.keyring, ctx.settings.log_origin)
        cp = open_checkpoint(receipt.checkpoint, keys, origin=ctx.settings.log_origin)
        path = [base64.b64decode(h) for h in receipt.inclusion_proof]
        with ctx.store.sessions() as session:
            extension = service.consistency_proof(session, n, cp.size)
        continued = (
            receipt.entry_index == n
            and cp.size == n + 1
            and verify_inclusion(leaf_hash(receipt.entry.encode()), n, cp.size, path, cp.root)
            and verify_consistency(
                n,
                cp.size,
                tree.root(n),
                cp.root,
                [base64.b64decode(h) for h in extension.proof],
            )
        )
        if not continued:
            raise BenchError(f"{target.kind}: the writer did not continue the loaded log")
        burst = None
        if args.burst_seconds > 0:
            log(f"{target.kind}: appends on the {n:,}-entry log (up to {args.burst_seconds:g} s)")
            burst = run_appends(
                ctx, n + 1, args.appends, args.threads, args.burst_seconds, args.subjects
            )
    finally:
        ctx.close()
    return {
        "entries": n,
        "inclusion": ms_summary(inc_seconds),
        "consistency": ms_summary(con_seconds),
        "verify_seconds": round(verify_seconds, 2),
        "verify_cpu_seconds": round(verify_cpu, 2),  # with the worker processes' CPU
        "verify_entries_per_second": round(n / verify_seconds),
        "intact": report.intact,
        "checkpoints_verified": report.checkpoints,
        "writer_continues_log": continued,
        "first_append_ms": round(first_append * 1000, 2),
        "appends_at_size": burst,
    }


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished children (verification workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + _forkserver_cpu()


def _forkserver_cpu() -> float:
    """CPU seconds of multiprocessing's fork server and of its finished children: the
    verification workers are forked from it, so they are its children, not this process's
    (Linux /proc; 0 elsewhere or before the server runs)."""
    pid = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After "pid (comm)": state, ...; utime, stime, cutime, cstime are fields 14-17.
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


# -- the run -------------------------------------------------------------------------------


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages (a busy machine makes every number worse)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [0.0, 0.0, 0.0]


def sqlite_mode(args: argparse.Namespace) -> str:
    return args.sqlite_synchronous.upper() if args.sqlite_synchronous else "NORMAL (gateway)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = loadavg()
    home = Path(tempfile.mkdtemp(prefix="cdg-audit-bench-"))
    pg: PostgresSchemas | None = None
    sync = args.sqlite_synchronous.upper() if args.sqlite_synchronous else None
    try:
        ensure_keys(settings_for(home, f"sqlite:///{home / 'unused.db'}"))
        kinds = ([] if args.no_sqlite else ["sqlite"]) + (
            [] if args.no_postgres else ["postgresql"]
        )
        append_targets: list[Target] = []
        log_targets: list[Target] = []
        if "postgresql" in kinds:
            try:
                pg = PostgresSchemas(make_url(args.pg_url))
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                raise BenchError(
                    f"PostgreSQL not reachable at {make_url(args.pg_url).render_as_string()} "
                    f"({type(exc).__name__}); pass --pg-url or --no-postgres"
                ) from exc
        for kind in kinds:
            if kind == "sqlite":
                append_targets.append(prepare(home, f"sqlite:///{home / 'appends.db'}", kind))
                log_targets.append(prepare(home, f"sqlite:///{home / 'log.db'}", kind))
            else:
                assert pg is not None
                schema, url = pg.create("appends")
                append_targets.append(prepare(home, url, kind, schema))
                schema, url = pg.create("log")
                log_targets.append(prepare(home, url, kind, schema))

        appends: dict[str, Any] = {}
        for target in append_targets:
            log(
                f"{target.kind}: {args.appends:,} appends through record(), "
                f"{args.threads} threads (at most {args.append_budget:g} s)"
            )
            tree = bench_appends(target, args, sync)
            batch = max(1, round(tree["avg_batch"]))
            log(
                f"{target.kind}: {tree['appends']:,} appends, {tree['per_second']:,.0f}/s "
                f"(avg batch {tree['avg_batch']}); baseline: as many plain INSERTs in "
                f"batches of {batch}"
            )
            plain = bench_plain(target, tree["appends"], args.threads, batch, args.subjects, sync)
            appends[target.kind] = {
                "tree": tree,
                "plain": plain,
                "ratio": round(tree["per_second"] / plain["per_second"], 4),
            }

        log(
            f"building a {args.entries:,}-entry log and bulk-loading it into "
            f"{', '.join(t.kind for t in log_targets)}"
        )
        keyring = load_keyring(log_targets[0].settings)
        origin = log_targets[0].settings.log_origin
        builder, load = bulk_load(
            log_targets,
            args.entries,
            CheckpointSigner(origin, keyring.signer),
            origin,
            EntryMacs(keyring),
        )
        log(
            f"bulk load took {load['seconds']} s (building {load['build_seconds']} s; "
            "writing " + ", ".join(f"{k} {v} s" for k, v in load["load_seconds"].items()) + ")"
        )
        logs: dict[str, Any] = {}
        for target in log_targets:
            log(f"{target.kind}: {args.proofs} inclusion and {args.proofs} consistency proofs")
            logs[target.kind] = bench_log(target, builder, args)

        result: dict[str, Any] = {
            "config": {
                "appends": args.appends,
                "threads": args.threads,
                "warmup": args.warmup,
                "subjects_per_rows_entry": args.subjects,
                "entries": args.entries,
                "proofs": args.proofs,
                "seed": args.seed,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
                "sqlite_synchronous": sqlite_mode(args),
                "postgresql": pg.server_version if pg else None,
                "postgresql_synchronous_commit": pg.synchronous_commit if pg else None,
                "postgresql_fsync": pg.fsync if pg else None,
                "checkpoint_every_entries": CHECKPOINT_EVERY,
                "loadavg_start": load_start,
                "loadavg_end": loadavg(),
            },
            "appends": appends,
            "bulk_load": load,
            "log": logs,
        }
        result["targets"] = judge(result)
        result["all_targets_met"] = all(t["met"] for t in result["targets"])
        if args.keep_home:
            result["home"] = str(home)
        return result
    finally:
        if pg is not None:
            pg.close()
        if args.keep_home:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def judge(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, store: str, value: float, target: float, higher: bool) -> None:
        met = value >= target if higher else value <= target
        out.append(
            {
                "name": name,
                "store": store,
                "value": value,
                "target": target,
                "higher_is_better": higher,
                "met": met,
            }
        )

    pg = result["appends"].get("postgresql")
    if pg is not None:
        add("appends/s with tree", "postgresql", pg["tree"]["per_second"], TARGET_PG_APPENDS, True)
        add("tree / plain INSERT rate", "postgresql", pg["ratio"], TARGET_PG_RATIO, True)
    for kind, entry in result["log"].items():
        add(
            "inclusion proof p99 ms", kind, entry["inclusion"]["p99_ms"], TARGET_PROOF_P99_MS, False
        )
        add(
            "consistency proof p99 ms",
            kind,
            entry["consistency"]["p99_ms"],
            TARGET_PROOF_P99_MS,
            False,
        )
        add("full verification s", kind, entry["verify_seconds"], TARGET_VERIFY_S, False)
    return out


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    postgres = ""
    if cfg["postgresql"]:
        postgres = (
            f", PostgreSQL {cfg['postgresql'].split()[0]} (synchronous_commit="
            f"{cfg['postgresql_synchronous_commit']}, fsync={cfg['postgresql_fsync']})"
        )
    lines = [
        f"access-log benchmark: {cfg['cpus']} CPUs, Python {cfg['python']}, "
        f"SQLite {cfg['sqlite']} (WAL, synchronous={cfg['sqlite_synchronous']}){postgres}",
        "",
        f"machine load average {cfg['loadavg_start']} at the start, {cfg['loadavg_end']} "
        f"at the end"
        + (
            " -- BUSY: other processes competed for the CPUs, numbers are pessimistic"
            if max(cfg["loadavg_start"] + cfg["loadavg_end"]) > (cfg["cpus"] or 1)
            else ""
        ),
        "",
        f"appends: record() through the batching writer, {cfg['threads']} threads, up to "
        f"{cfg['appends']:,} timed appends per store; each returns after its commit",
        f"{'store':<11} {'appends':>8} {'appends/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'batches':>8} {'avg batch':>9} {'CPU us/app':>10} {'plain ins/s':>11} "
        f"{'tree/plain':>10}",
    ]
    for kind, a in result["appends"].items():
        t, p = a["tree"], a["plain"]
        lines.append(
            f"{kind:<11} {t['appends']:>8,} {t['per_second']:>10,.0f} "
            f"{t['latency']['p50_ms']:>8.2f} "
            f"{t['latency']['p99_ms']:>8.2f} {t['batches']:>8} {t['avg_batch']:>9.1f} "
            f"{t['cpu_us_per_append']:>10,} "
            f"{p['per_second']:>11,.0f} {a['ratio']:>10.1%}"
        )
    load = result["bulk_load"]
    lines += [
        "",
        f"log of {load['entries']:,} entries, BULK-LOADED (rows computed as the Appender "
        f"writes them: {load['nodes']:,} tree nodes, {load['checkpoints']:,} signed "
        f"checkpoints; {load['seconds']} s in all: building {load['build_seconds']} s, "
        "writing (in parallel) "
        + ", ".join(f"{k} {v} s" for k, v in load["load_seconds"].items())
        + ")",
        f"{'store':<11} {'proofs':>7} {'incl p50':>9} {'incl p99':>9} {'cons p50':>9} "
        f"{'cons p99':>9} {'verify s':>9} {'(CPU s)':>8} {'entries/s':>10} {'intact':>7}",
    ]
    for kind, g in result["log"].items():
        lines.append(
            f"{kind:<11} {g['inclusion']['n']:>3}+{g['consistency']['n']:<3} "
            f"{g['inclusion']['p50_ms']:>9.3f} {g['inclusion']['p99_ms']:>9.3f} "
            f"{g['consistency']['p50_ms']:>9.3f} {g['consistency']['p99_ms']:>9.3f} "
            f"{g['verify_seconds']:>9.2f} {g['verify_cpu_seconds']:>8.2f} "
            f"{g['verify_entries_per_second']:>10,} "
            f"{g['intact']!s:>7}"
        )
    lines.append(
        "(proofs: inclusion+consistency timed, one session each as the HTTP route "
        "does; times in ms)"
    )
    lines.append("")
    lines.append(
        f"appends on the {load['entries']:,}-entry log through the writer "
        f"({cfg['threads']} threads, the first one alone):"
    )
    for kind, g in result["log"].items():
        burst = g["appends_at_size"]
        text = (
            f"  {kind:<11} first {g['first_append_ms']:,.1f} ms, continues the log: "
            f"{g['writer_continues_log']}"
        )
        if burst and burst["latency"]:
            text += (
                f"; {burst['appends']:,} appends in {burst['seconds']} s = "
                f"{burst['per_second']:,.1f}/s, p50 {burst['latency']['p50_ms']:,.1f} ms"
                + (" (stopped by --burst-seconds)" if burst["stopped_by_budget"] else "")
            )
        if burst and burst["failed"]:
            text += f"; {burst['failed']} FAILED: {'; '.join(burst['failures'])}"
        lines.append(text)
    lines += ["", "targets"]
    scaled = load["entries"] != TARGET_ENTRIES
    for t in result["targets"]:
        sign = ">=" if t["higher_is_better"] else "<="
        value = t["value"]
        shown = f"{value:.1%}" if "plain" in t["name"] else f"{value:,.3f}".rstrip("0").rstrip(".")
        goal = f"{t['target']:.0%}" if "plain" in t["name"] else f"{t['target']:,g}"
        lines.append(
            f"  [{'PASS' if t['met'] else 'FAIL'}] {t['store']:<11} {t['name']:<26} "
            f"{shown:>10}  (target {sign} {goal})"
        )
    if scaled:
        lines.append(
            f"  note: the proof and verification targets are stated for "
            f"{TARGET_ENTRIES:,} entries; this run used {load['entries']:,}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--appends",
        type=int,
        default=20_000,
        help="timed appends per store, and as many plain inserts (default 20000)",
    )
    p.add_argument(
        "--append-budget",
        type=float,
        default=120.0,
        help="seconds at most for the timed appends per store; the baseline then "
        "inserts as many rows as were appended (default 120)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=32,
        help="appender threads, and plain-insert threads (default 32)",
    )
    p.add_argument("--warmup", type=int, default=500, help="untimed appends first (default 500)")
    p.add_argument(
        "--subjects",
        type=int,
        default=0,
        help="SubjectRefs per row-query entry in the append phase (default 0)",
    )
    p.add_argument(
        "--entries",
        type=int,
        default=TARGET_ENTRIES,
        help="size of the bulk-loaded log (default 1000000)",
    )
    p.add_argument(
        "--proofs",
        type=int,
        default=1000,
        help="inclusion proofs, and consistency proofs, timed (default 1000)",
    )
    p.add_argument(
        "--proof-budget",
        type=float,
        default=30.0,
        help="seconds at most per proof kind and store; fewer proofs are timed "
        "when they are slow (default 30)",
    )
    p.add_argument(
        "--burst-seconds",
        type=float,
        default=10.0,
        help="seconds of appends on the bulk-loaded log, 0 to skip; appends in "
        "flight are waited for (default 10)",
    )
    p.add_argument(
        "--verify-workers",
        type=int,
        default=0,
        help="processes for the full verification (CDG_AUDIT_VERIFY_WORKERS; default 0: "
        "one per CPU)",
    )
    p.add_argument("--seed", type=int, default=6962, help="seed for the proof positions")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("CDG_TEST_POSTGRES_URL", PG_DEFAULT),
        help="PostgreSQL server; fresh schemas are created and dropped "
        "(default $CDG_TEST_POSTGRES_URL or the local server)",
    )
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument(
        "--no-sqlite",
        action="store_true",
        help="PostgreSQL only (the store the targets are stated for; a shorter run)",
    )
    p.add_argument(
        "--sqlite-synchronous",
        choices=("normal", "full", "extra"),
        help="override the gateway's PRAGMA synchronous=NORMAL in the append phase",
    )
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    p.add_argument("--keep-home", action="store_true", help="keep the temporary CDG_HOME")
    args = p.parse_args(argv)
    for name in ("appends", "threads", "entries", "proofs"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.no_sqlite and args.no_postgres:
        p.error("--no-sqlite and --no-postgres leave no store to measure")
    if args.warmup < 0 or args.subjects < 0:
        p.error("--warmup and --subjects cannot be negative")
    return args


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # unwinds through run()'s clean-up: schemas dropped, home removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    try:
        result = run(args)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 2
    result["seconds"] = round(time.monotonic() - started, 1)
    log(f"done in {result['seconds']} s")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(render(result))
    if args.check and not result["all_targets_met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
