"""DP aggregate benchmark: the gateway's DP release vs plain SQL vs OpenDP's Polars path.

One run, the same synthetic residents (``--rows``, default 1,000,000; one row per
resident) in an SQLite file and in a fresh PostgreSQL schema. The query, on both sides:
count + sum + mean of ``monthly_pension`` grouped by ``community`` (4 codes) x
``age_band`` (5 bands), with the filter ``monthly_pension <= :max_value``.

What it does (see bench/README.md for how to read the output):

1. **Data.** numpy with a fixed seed makes the residents; they go into SQLite
   (``executemany``) and PostgreSQL (``COPY``), each with a unique index on
   ``resident_id`` (the primary key on PostgreSQL) and an index on
   ``(community, age_band)``, then ``ANALYZE``. Exact answers come from numpy.
2. **Gateway.** ``cdg init`` and ``cdg principal add`` in a fresh temporary CDG_HOME
   (SQLite store), then ``uvicorn gateway.api.asgi:app_factory --factory`` in a
   subprocess. Through the HTTP API the department registers both tables as datasets
   with a ``dp`` purpose (declared keys for community and age_band, bounds for
   ``monthly_pension``, contribution limit 1, a budget no run exhausts) and approves the
   app's DP query.
3. **Checks, before any timing.** Plain SQL must match numpy exactly; the gateway's
   first answer must hold all 20 groups and a receipt, each noisy value within 20 noise
   scales of the exact clamped truth; the gateway's statement must count exactly;
   OpenDP's first release must hold all 20 groups with plausible counts. Every timed
   gateway answer must be a fresh release (``dp.cached`` false).
4. **Timing, per source.** Identical runs are answered from a stored release without
   touching the source, so every gateway run gets a new ``max_value`` (always larger
   than every value: the answer covers all rows). ``--warmup`` then ``--runs`` paired
   iterations of: gateway run through HTTP, and the plain SQL aggregate with SQLAlchemy
   in this process, and the gateway's statement without the ROW_NUMBER truncation. The
   first ``--sql-runs`` iterations also run the gateway's own statement
   (``gateway.queries.dp.plan_dp``, executed with ``gateway.catalog.engines.execute`` as
   the gateway does). The order rotates from one iteration to the next. The same query
   on a 1,000-row copy of the table gives the gateway's fixed cost per run besides SQL.
5. **OpenDP.** The same rows in a polars LazyFrame in this process (not timed), then
   ``dp.Context.compositor`` (privacy unit: 1 contribution, same epsilon) and
   ``query().filter().group_by().agg([dp.len, dp.sum, dp.mean]).with_keys(keys)``
   ``.release().collect()``: median of ``--opendp-runs`` releases after one warm-up. The
   context's construction is timed separately and left out of the ratio.
6. **Report.** Medians, ratios gateway / plain (target <= 1.3) and OpenDP / gateway
   (target >= 3), and whether the targets are met; ``--json`` for machine output.

Progress goes to stderr, results to stdout. Only 127.0.0.1 is contacted (and the
PostgreSQL server of ``--pg-url``, local by default). The server is
stopped, the PostgreSQL schema dropped and the temporary home removed on exit
(``--keep-home`` keeps the home). If polars (and pyarrow) are missing the OpenDP column
is skipped with a message.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from http_run import (
    BenchError,
    Server,
    clean_env,
    expect,
    http_call,
    start_uvicorn,
    wait_ready,
)
from sqlalchemy.engine import make_url

from gateway.catalog.engines import execute, make_source_engine
from gateway.queries.binding import ColumnInfo, DatasetView
from gateway.queries.dp import plan_dp
from gateway.queries.planner import table_of
from gateway.queries.spec import QuerySpec
from policies import Decision, PrincipalFacts, UsagePolicy, decide, policy_version

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED = 20_260_101
TABLE = "residents"
PROBE_TABLE = "residents_probe"  # the first PROBE_ROWS rows: the gateway's fixed cost per run
PROBE_ROWS = 1000
COMMUNITIES = ("heping", "guangming", "jianshe", "xinhua")
COMMUNITY_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
AGE_BANDS = ("60-69", "70-79", "80-89", "90-99", "100+")
AGE_WEIGHTS = (0.40, 0.30, 0.19, 0.09, 0.02)
LOWER, UPPER = 0, 10_000  # policy bounds of monthly_pension (about 1% of values lie above)
KEYS = ("community", "age_band")
PURPOSE = "public-service.statistics"
DEPARTMENT = ("civil-affairs", "department", "civil-affairs", "department")
APP = ("district-planner", "app", "district", "street-office")
FIRST_PARAM = 1_000_000_000  # every run's max_value is above every pension: all rows count
TARGET_PLAIN = 1.3  # gateway DP time <= 1.3 x plain SQL time
TARGET_OPENDP = 3.0  # OpenDP Polars release time >= 3 x gateway DP time
TOLERANCE_SCALES = 20.0  # |noisy - exact| <= 20 b fails with probability e^-20 per value
RUN_TIMEOUT = 600.0

SPEC: dict[str, Any] = {
    "aggregates": [
        {"fn": "count", "as": "n"},
        {"fn": "sum", "column": "monthly_pension", "as": "total_pension"},
        {"fn": "mean", "column": "monthly_pension", "as": "mean_pension"},
    ],
    "group_by": list(KEYS),
    "filters": [{"column": "monthly_pension", "op": "<=", "value": {"param": "max_value"}}],
    "params": {"max_value": {"type": "integer", "default": FIRST_PARAM}},
}

COLUMNS: list[dict[str, str]] = [
    {"name": "resident_id", "type": "string", "classification": "direct_identifier"},
    {"name": "community", "type": "string", "classification": "attribute"},
    {"name": "age_band", "type": "string", "classification": "quasi_identifier"},
    {"name": "monthly_pension", "type": "integer", "classification": "sensitive"},
]

PLAIN_SQL = (
    "SELECT community, age_band, COUNT(*) AS n, SUM(monthly_pension) AS total_pension, "
    "AVG(monthly_pension) AS mean_pension FROM residents "
    "WHERE monthly_pension <= :max_value GROUP BY community, age_band"
)


def policy(epsilon_per_run: float) -> dict[str, Any]:
    return {
        "purposes": [
            {
                "purpose": PURPOSE,
                "legal_basis": "性能基准 / benchmark: district statistics on pensions",
                "grantees": [{"role": APP[3]}],
                "access": "aggregate",
                "columns": {
                    "community": {"treatment": "keep"},
                    "age_band": {"treatment": "keep"},
                    "monthly_pension": {"treatment": "keep"},
                },
                "min_group_size": 10,
                "sensitive": True,  # monthly_pension is classified sensitive
                "dp": {
                    "epsilon_per_run": epsilon_per_run,
                    "epsilon_per_window": 100.0,
                    "window": "month",
                    # Every timed run is a fresh release on synthetic data: caps that
                    # leave room for all of them (real policies keep the low defaults).
                    "epsilon_lifetime": 1000.0,
                    "epsilon_dataset": 1000.0,
                    "contribution_limit": 1,
                    "bounds": {"monthly_pension": {"lower": LOWER, "upper": UPPER}},
                    "group_keys": {"community": list(COMMUNITIES), "age_band": list(AGE_BANDS)},
                },
            }
        ]
    }


def log(message: str) -> None:
    print(f"[dp-bench] {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- data


@dataclass
class Residents:
    ids: list[str]
    community: np.ndarray  # index into COMMUNITIES
    age_band: np.ndarray  # index into AGE_BANDS
    pension: np.ndarray  # int64

    @property
    def rows(self) -> int:
        return len(self.ids)

    def records(self) -> Any:
        c, a = self.community.tolist(), self.age_band.tolist()
        return zip(
            self.ids,
            (COMMUNITIES[i] for i in c),
            (AGE_BANDS[i] for i in a),
            self.pension.tolist(),
            strict=True,
        )


def generate(rows: int, seed: int) -> Residents:
    rng = np.random.default_rng(seed)
    order = rng.permutation(rows)  # ids in random order, as real ID numbers would be
    ids = [f"R{i:011d}" for i in order.tolist()]
    community = rng.choice(len(COMMUNITIES), size=rows, p=COMMUNITY_WEIGHTS)
    age_band = rng.choice(len(AGE_BANDS), size=rows, p=AGE_WEIGHTS)
    pension = np.clip(rng.normal(3800, 1400, rows), 300, None).astype(np.int64)
    above = rng.random(rows) < 0.01  # some pensions above the policy's upper bound
    pension[above] = rng.integers(UPPER + 1, UPPER + 6000, int(above.sum()))
    return Residents(ids, community, age_band, pension)


@dataclass(frozen=True)
class Truth:
    """Exact per-group answers, in declared key order (community-major)."""

    groups: list[tuple[str, str]]
    count: list[int]
    total: list[int]  # unclamped, as plain SQL computes it
    clamped_total: list[int]

    def clamped_mean(self, i: int) -> float:
        return self.clamped_total[i] / self.count[i] if self.count[i] else math.nan


def truth(data: Residents) -> Truth:
    index = data.community * len(AGE_BANDS) + data.age_band
    size = len(COMMUNITIES) * len(AGE_BANDS)
    count = np.bincount(index, minlength=size)
    total = np.zeros(size, dtype=np.int64)
    np.add.at(total, index, data.pension)
    clamped = np.zeros(size, dtype=np.int64)
    np.add.at(clamped, index, np.clip(data.pension, LOWER, UPPER))
    groups = list(itertools.product(COMMUNITIES, AGE_BANDS))
    return Truth(groups, count.tolist(), total.tolist(), clamped.tolist())


def write_sqlite(path: Path, data: Residents) -> float:
    started = time.perf_counter()
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute(
            "CREATE TABLE residents (resident_id TEXT NOT NULL, community TEXT NOT NULL, "
            "age_band TEXT NOT NULL, monthly_pension INTEGER NOT NULL)"
        )
        con.executemany("INSERT INTO residents VALUES (?, ?, ?, ?)", data.records())
        con.execute("CREATE UNIQUE INDEX residents_resident_id ON residents (resident_id)")
        con.execute("CREATE INDEX residents_community_age ON residents (community, age_band)")
        con.execute(
            f"CREATE TABLE {PROBE_TABLE} AS SELECT * FROM residents WHERE rowid <= {PROBE_ROWS}"
        )
        con.execute(f"CREATE UNIQUE INDEX {PROBE_TABLE}_id ON {PROBE_TABLE} (resident_id)")
        con.commit()
        con.execute("ANALYZE")
        con.commit()
    finally:
        con.close()
    return time.perf_counter() - started


class PostgresSchema:
    """A fresh schema on the server; dropped by ``drop``.

    Every connection made through ``url`` (the bench's and the gateway's) carries the
    schema's name as application_name, so ``drop`` can cancel statements still running
    there: PostgreSQL does not stop a query when its client goes away, and a leftover
    one would hold its lock and keep a core busy.
    """

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)
        self.admin = sa.create_engine(
            self.base, poolclass=sa.NullPool, connect_args={"connect_timeout": 5}
        )
        with self.admin.connect() as conn:
            self.version = str(conn.exec_driver_sql("SHOW server_version").scalar())
        self.schema = f"cdg_dp_bench_{secrets.token_hex(4)}"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
        self.url = self.base.update_query_dict(
            {"options": f"-csearch_path={self.schema}", "application_name": self.schema}
        ).render_as_string(hide_password=False)

    def load(self, data: Residents) -> float:
        started = time.perf_counter()
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE residents (resident_id text NOT NULL, community text NOT NULL,"
                    " age_band text NOT NULL, monthly_pension integer NOT NULL)"
                )
                raw: Any = conn.connection.driver_connection
                with (
                    raw.cursor() as cur,
                    cur.copy(
                        "COPY residents (resident_id, community, age_band, monthly_pension) "
                        "FROM STDIN"
                    ) as copy,
                ):
                    for record in data.records():
                        copy.write_row(record)
                conn.exec_driver_sql("ALTER TABLE residents ADD PRIMARY KEY (resident_id)")
                conn.exec_driver_sql(
                    "CREATE INDEX residents_community_age ON residents (community, age_band)"
                )
                conn.exec_driver_sql(
                    f"CREATE TABLE {PROBE_TABLE} AS SELECT * FROM residents LIMIT {PROBE_ROWS}"
                )
                conn.exec_driver_sql(f"ALTER TABLE {PROBE_TABLE} ADD PRIMARY KEY (resident_id)")
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE residents")
                conn.exec_driver_sql(f"VACUUM ANALYZE {PROBE_TABLE}")
        finally:
            engine.dispose()
        return time.perf_counter() - started

    def drop(self) -> None:
        try:
            with self.admin.begin() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid() "
                        "AND state <> 'idle'"
                    ),
                    {"name": self.schema},
                )
            with self.admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        except sa.exc.SQLAlchemyError as exc:
            log(f"could not drop schema {self.schema} ({type(exc).__name__}); drop it by hand")
        finally:
            self.admin.dispose()


# --------------------------------------------------------------------------- gateway set-up


def cdg(home: Path, env: dict[str, str], *args: str) -> Any:
    exe = Path(sys.executable).with_name("cdg")
    cmd = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from gateway.cli.app import main; main()"]
    )
    done = subprocess.run(
        [*cmd, *args, "--json"], env=env, cwd=home, capture_output=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"cdg {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")
    return json.loads(done.stdout)


def add_principal(home: Path, env: dict[str, str], who: tuple[str, str, str, str]) -> str:
    name, kind, domain, role = who
    out = cdg(
        home, env, "principal", "add", name, "--kind", kind, "--domain", domain, "--role", role
    )
    return str(out["api_key"])


@dataclass
class Registered:
    kind: str
    url: str
    dataset_id: str
    query_id: str


def register(
    gateway: Server,
    dept_key: str,
    app_key: str,
    kind: str,
    url: str,
    epsilon: float,
    table: str = TABLE,
) -> Registered:
    """The source (once per kind), a dataset on ``table`` and the app's approved DP query."""
    source = f"bench-{kind}"
    if table == TABLE:
        status, data = http_call(
            gateway.port, "POST", "/v1/sources", {"name": source, "url": url}, dept_key
        )
        expect(status, data, 201, f"registering the {kind} source")
    body = {
        "name": f"{table.replace('_', '-')}-{kind}",
        "source": source,
        "table": table,
        "description": "synthetic residents for the DP benchmark",
        "privacy_unit": "resident_id",
        "columns": COLUMNS,
        "policy": policy(epsilon),
    }
    status, data = http_call(gateway.port, "POST", "/v1/datasets", body, dept_key, timeout=120)
    dataset = expect(status, data, 201, f"registering the {kind} dataset")
    request = {
        "dataset": dataset["id"],
        "purpose": PURPOSE,
        "justification": "性能基准 / benchmark: pensions by community and age band",
        "spec": SPEC,
        "example_params": {"max_value": FIRST_PARAM},
    }
    status, filed = http_call(gateway.port, "POST", "/v1/query-requests", request, app_key)
    filed = expect(status, filed, 201, f"filing the {kind} query request")
    if filed["status"] == "pending":
        status, filed = http_call(
            gateway.port,
            "POST",
            f"/v1/query-requests/{filed['id']}/approve",
            {"note": "bench"},
            dept_key,
        )
        filed = expect(status, filed, 200, f"approving the {kind} query request")
    if filed["status"] != "approved":
        raise BenchError(f"the {kind} query request is {filed['status']}, not approved")
    return Registered(kind, url, str(dataset["id"]), str(filed["id"]))


# --------------------------------------------------------------------------- the statements


def gateway_statements(epsilon: float, table: str = TABLE) -> Callable[[int], tuple[Any, Any]]:
    """max_value -> (the gateway's DP statement, the same without ROW_NUMBER truncation).

    The first is built by the gateway's own planner from the same policy, spec and
    decision the gateway makes, so it is the statement the source runs for a release.
    """
    usage = UsagePolicy.model_validate(policy(epsilon))
    spec = QuerySpec.model_validate(SPEC)
    decision = decide(
        PrincipalFacts(name=APP[0], kind=APP[1], role=APP[3], domain=APP[2]),
        usage,
        policy_version(usage),
        PURPOSE,
        spec.shape(),
    )
    if not isinstance(decision, Decision):
        raise BenchError(f"the policy refuses the bench query in process: {decision}")
    view = DatasetView(
        id="bench",
        name="residents",
        owner=DEPARTMENT[0],
        table=table,
        privacy_unit="resident_id",
        columns={
            c["name"]: ColumnInfo(c["name"], c["type"], c["type"], c["classification"])
            for c in COLUMNS
        },
    )
    t = table_of(view)
    value = t.c.monthly_pension
    clamped = sa.case((value < LOWER, LOWER), (value > UPPER, UPPER), else_=value)
    centre = (LOWER + UPPER) // 2

    def build(max_value: int) -> tuple[Any, Any]:
        dp_plan = plan_dp(view, spec, decision, {"max_value": max_value})
        untruncated = (
            sa.select(
                t.c.community,
                t.c.age_band,
                sa.func.count(),
                sa.func.sum(clamped),
                sa.func.sum(clamped - centre),
            )
            .where(value <= sa.bindparam("max_value", max_value))
            .group_by(t.c.community, t.c.age_band)
        )
        return dp_plan.statement, untruncated

    return build


# --------------------------------------------------------------------------- checks


def check_plain(rows: Sequence[Sequence[Any]], exact: Truth, kind: str) -> None:
    got = {(str(r[0]), str(r[1])): r for r in rows}
    for i, g in enumerate(exact.groups):
        if exact.count[i] == 0:
            continue
        r = got.get(g)
        if r is None or int(r[2]) != exact.count[i] or int(r[3]) != exact.total[i]:
            raise BenchError(f"plain SQL on {kind} disagrees with the generated data in {g}")
        if abs(float(r[4]) - exact.total[i] / exact.count[i]) > 1e-6 * max(1.0, float(r[4])):
            raise BenchError(f"plain SQL mean on {kind} disagrees with the data in {g}")


def check_gateway(answer: dict[str, Any], exact: Truth, kind: str) -> None:
    want = [*KEYS, "n", "total_pension", "mean_pension"]
    if answer.get("columns") != want:
        raise BenchError(f"gateway columns on {kind}: {answer.get('columns')}, wanted {want}")
    dp_info = answer.get("dp") or {}
    if dp_info.get("cached") is not False:
        raise BenchError(f"gateway answer on {kind} was not a fresh release: {dp_info}")
    if not isinstance(answer.get("receipt", {}).get("entry_index"), int):
        raise BenchError(f"gateway answer on {kind} carries no access-log receipt")
    scales = dp_info.get("scales", {})
    b_n, b_sum, b_mean = (float(scales[k]) for k in ("n", "total_pension", "mean_pension"))
    got = {(r[0], r[1]): r for r in answer["rows"]}
    if set(got) != set(exact.groups):
        raise BenchError(f"gateway on {kind} released {len(got)} groups, wanted all 20")
    k = TOLERANCE_SCALES
    half = (UPPER - LOWER) / 2
    for i, g in enumerate(exact.groups):
        n, total, mean = got[g][2], got[g][3], got[g][4]
        c = exact.count[i]
        if abs(n - c) > k * b_n or abs(total - exact.clamped_total[i]) > k * b_sum + 1:
            raise BenchError(f"gateway on {kind}: noisy count or sum of {g} far from the truth")
        if c > 4 * k * b_n:
            slack = (k * b_mean + k * b_n * half) / (c - k * b_n)
            if abs(mean - exact.clamped_mean(i)) > slack + 1e-6:
                raise BenchError(f"gateway on {kind}: noisy mean of {g} far from the truth")


def check_opendp(frame: Any, exact: Truth) -> None:
    rows = {(r["community"], r["age_band"]): r for r in frame.to_dicts()}
    if set(rows) != set(exact.groups):
        raise BenchError(f"OpenDP released {len(rows)} groups, wanted all 20")
    for i, g in enumerate(exact.groups):
        c = exact.count[i]
        if abs(rows[g]["len"] - c) > max(100.0, 0.02 * c):
            raise BenchError(f"OpenDP's noisy count of {g} is far from the truth")


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    def summary(self) -> dict[str, Any]:
        if not self.seconds:
            return {"runs": 0}
        return {
            "runs": len(self.seconds),
            "median_s": round(self.median, 4),
            "min_s": round(min(self.seconds), 4),
            "max_s": round(max(self.seconds), 4),
            "seconds": [round(s, 4) for s in self.seconds],
        }


class SourceBench:
    """Everything timed on one source: gateway via HTTP, plain SQL, the gateway's SQL."""

    def __init__(
        self,
        reg: Registered,
        gateway: Server,
        app_key: str,
        exact: Truth,
        statements: Callable[[int], tuple[Any, Any]],
        params: itertools.count[int],
        probe: Registered,
        probe_statements: Callable[[int], tuple[Any, Any]],
    ) -> None:
        self.reg = reg
        self.probe = probe
        self.probe_statements = probe_statements
        self.gateway = gateway
        self.app_key = app_key
        self.exact = exact
        self.statements = statements
        self.params = params
        self.engine = make_source_engine(reg.url, 1)  # as the gateway makes source engines
        self.timings = {
            name: Timing(name)
            for name in (
                "gateway",
                "plain",
                "gateway_sql",
                "untruncated_sql",
                "probe_gateway",
                "probe_sql",
            )
        }

    def close(self) -> None:
        self.engine.dispose()

    def gateway_run(self, reg: Registered | None = None) -> tuple[float, dict[str, Any]]:
        path = f"/v1/queries/{(reg or self.reg).query_id}/run"
        body = {"params": {"max_value": next(self.params)}}
        started = time.perf_counter()
        status, answer = http_call(
            self.gateway.port, "POST", path, body, self.app_key, timeout=RUN_TIMEOUT
        )
        elapsed = time.perf_counter() - started
        expect(status, answer, 200, f"gateway DP run on {self.reg.kind}")
        if (answer.get("dp") or {}).get("cached") is not False:
            raise BenchError(f"a timed gateway run on {self.reg.kind} came from a stored release")
        return elapsed, answer

    def plain_run(self) -> tuple[float, list[Any]]:
        started = time.perf_counter()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(PLAIN_SQL), {"max_value": next(self.params)}).all()
        return time.perf_counter() - started, list(rows)

    def sql_run(self, which: int, probe: bool = False) -> tuple[float, list[Any]]:
        build = self.probe_statements if probe else self.statements
        statement = build(next(self.params))[which]
        started = time.perf_counter()
        result = execute(self.engine, statement, RUN_TIMEOUT, 100_000)
        return time.perf_counter() - started, result.rows

    def check(self) -> None:
        _, rows = self.plain_run()
        check_plain(rows, self.exact, self.reg.kind)
        _, answer = self.gateway_run()
        check_gateway(answer, self.exact, self.reg.kind)
        for which in (0, 1):
            _, rows = self.sql_run(which)
            got = {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
            for i, g in enumerate(self.exact.groups):
                if self.exact.count[i] and got.get(g) != self.exact.count[i]:
                    raise BenchError(f"the gateway's statement on {self.reg.kind} miscounts {g}")

    def run(self, warmup: int, runs: int, sql_runs: int) -> None:
        """Paired iterations of gateway, plain SQL and the statement without ROW_NUMBER; the
        first ``sql_runs`` also run the gateway's own statement alone (as slow as a run).

        Within an iteration the steps rotate, so slow drift on the machine reaches every
        side alike, and each statement-alone run is paired with a gateway run.
        """
        kind = self.reg.kind
        steps: dict[str, Callable[[], tuple[float, Any]]] = {
            "gateway": self.gateway_run,
            "plain": self.plain_run,
            "gateway_sql": lambda: self.sql_run(0),
            "untruncated_sql": lambda: self.sql_run(1),
        }
        for _ in range(warmup):
            steps["gateway"]()
            steps["plain"]()
        log(f"{kind}: warm-up done ({warmup} each)")
        for i in range(runs):
            names = list(steps) if i < sql_runs else ["gateway", "plain", "untruncated_sql"]
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                self.timings[name].seconds.append(steps[name]()[0])
            done = ", ".join(f"{n} {self.timings[n].seconds[-1]:.3f} s" for n in names)
            log(f"{kind}: run {i + 1}/{runs}: {done}")

    def run_probe(self, warmup: int, runs: int) -> None:
        """The same query on the PROBE_ROWS-row table: what a run costs besides its SQL."""
        for i in range(warmup + runs):
            pair = [
                ("probe_gateway", lambda: self.gateway_run(self.probe)[0]),
                ("probe_sql", lambda: self.sql_run(0, probe=True)[0]),
            ]
            for name, step in pair if i % 2 == 0 else pair[::-1]:
                seconds = step()
                if i >= warmup:
                    self.timings[name].seconds.append(seconds)
        t = self.timings
        log(
            f"{self.reg.kind}: {PROBE_ROWS}-row probe: gateway {t['probe_gateway'].median:.3f} s,"
            f" its SQL alone {t['probe_sql'].median:.3f} s"
        )

    def summary(self, target: float) -> dict[str, Any]:
        t = self.timings
        gateway, plain = t["gateway"].median, t["plain"].median
        pairs = [g / p for g, p in zip(t["gateway"].seconds, t["plain"].seconds, strict=True)]
        ratio = gateway / plain
        paired_sql = list(zip(t["gateway"].seconds, t["gateway_sql"].seconds, strict=False))
        fixed = t["probe_gateway"].median - t["probe_sql"].median
        projected = t["untruncated_sql"].median + max(fixed, 0.0)
        return {
            "dataset": self.reg.dataset_id,
            "query": self.reg.query_id,
            "timings": {name: tm.summary() for name, tm in t.items()},
            "ratio_gateway_plain": round(ratio, 3),
            "median_paired_ratio": round(statistics.median(pairs), 3) if pairs else None,
            "target": target,
            "target_met": ratio <= target,
            # From the iterations that ran both: the gateway's statement alone / the whole
            # gateway run, and the difference (planning, budget, noise, audit, HTTP).
            "sql_share_of_gateway": (
                round(statistics.median(q / g for g, q in paired_sql), 3) if paired_sql else None
            ),
            "overhead_paired_s": (
                round(statistics.median(g - q for g, q in paired_sql), 4) if paired_sql else None
            ),
            # The fixed cost of a run besides its SQL (planning, budget reservation, noise,
            # stored release, access-log entry, HTTP), on the small probe table where the
            # statement takes milliseconds, so machine noise does not swamp it.
            "fixed_cost_s": round(fixed, 4),
            # Not a measurement: what a run would take if the statement skipped ROW_NUMBER
            # (sound only where a constraint proves <= L rows per person; see the README).
            "projected_without_truncation_s": (
                round(projected, 4) if t["untruncated_sql"].seconds else None
            ),
            "projected_ratio_plain": (
                round(projected / plain, 3) if t["untruncated_sql"].seconds else None
            ),
        }


# --------------------------------------------------------------------------- OpenDP


def opendp_bench(
    data: Residents, exact: Truth, epsilon: float, runs: int, identifier: bool
) -> dict[str, Any]:
    """OpenDP's Polars path on the same rows; ``identifier`` adds a variant that, like the
    gateway, enforces one row per resident (``truncate_per_group(1)`` by resident_id)."""
    try:
        import polars as pl
        import pyarrow  # noqa: F401  (OpenDP needs it to hand results back to polars)
    except ImportError as exc:
        message = (
            f"{exc.name} is not installed: skipping the OpenDP-Polars column "
            "(pip install 'opendp[polars]', or just polars==1.36.1 and pyarrow)"
        )
        log(message)
        return {"available": False, "reason": message}
    import opendp.prelude as dp

    dp.enable_features("contrib")
    started = time.perf_counter()
    frame = pl.DataFrame(
        {
            "resident_id": data.ids,
            "community": np.asarray(COMMUNITIES)[data.community],
            "age_band": np.asarray(AGE_BANDS)[data.age_band],
            "monthly_pension": data.pension,
        }
    )
    keys = pl.DataFrame(
        {"community": [g[0] for g in exact.groups], "age_band": [g[1] for g in exact.groups]}
    )
    lazy = frame.lazy()
    loaded = time.perf_counter() - started
    params = itertools.count(FIRST_PARAM)
    context_t, release_t = Timing("opendp_context"), Timing("opendp_release")
    plan_t, collect_t = Timing("opendp_plan"), Timing("opendp_collect")

    def once(by_id: bool = False) -> tuple[float, float, float, Any]:
        """(context construction, query + release(), collect(), answer) in seconds."""
        t0 = time.perf_counter()
        unit = dp.unit_of(contributions=1, identifier="resident_id" if by_id else None)
        context = dp.Context.compositor(
            data=lazy,
            privacy_unit=unit,
            privacy_loss=dp.loss_of(epsilon=epsilon),
            split_evenly_over=1,
            margins=[dp.polars.Margin(by=list(KEYS), max_length=data.rows)],
        )
        t1 = time.perf_counter()
        pension = pl.col("monthly_pension")
        query = context.query().filter(pension <= next(params))
        if by_id:
            query = query.truncate_per_group(1)
        query = (
            query.group_by(list(KEYS))
            .agg(
                [
                    dp.len(signed=True),
                    pension.dp.sum((LOWER, UPPER)).alias("total_pension"),
                    pension.dp.mean((LOWER, UPPER)).alias("mean_pension"),
                ]
            )
            .with_keys(keys)
        )
        released = query.release()  # builds the measurement, calibrates the noise
        t2 = time.perf_counter()
        out = released.collect()  # runs the plan on the data
        return t1 - t0, t2 - t1, time.perf_counter() - t2, out

    *_, out = once()
    check_opendp(out, exact)
    log("OpenDP: warm-up release checked")
    for i in range(runs):
        ctx_s, plan_s, collect_s, _ = once()
        context_t.seconds.append(ctx_s)
        plan_t.seconds.append(plan_s)
        collect_t.seconds.append(collect_s)
        release_t.seconds.append(plan_s + collect_s)
        log(
            f"OpenDP: run {i + 1}/{runs}: context {ctx_s:.3f} s, release {plan_s + collect_s:.3f}"
            f" s (release() {plan_s:.3f} s + collect() {collect_s:.3f} s)"
        )
    variant: dict[str, Any] = {}
    if identifier:
        ident_t = Timing("opendp_identifier_release")
        *_, out = once(by_id=True)
        check_opendp(out, exact)
        for i in range(runs):
            _, plan_s, collect_s, _ = once(by_id=True)
            ident_t.seconds.append(plan_s + collect_s)
            log(f"OpenDP by resident_id: run {i + 1}/{runs}: release {plan_s + collect_s:.3f} s")
        variant = {"release_by_identifier": ident_t.summary()}
    import opendp

    version = getattr(opendp, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("opendp")
    return {
        "available": True,
        "opendp": version,
        "polars": pl.__version__,
        "frame_build_s": round(loaded, 3),
        "context": context_t.summary(),
        "release": release_t.summary(),
        "release_plan": plan_t.summary(),
        "release_collect": collect_t.summary(),
        **variant,
    }


# --------------------------------------------------------------------------- report


def _s(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.2f} s"


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    out = [
        "Community Data Gateway - DP aggregate benchmark (plain SQL vs gateway DP vs OpenDP)",
        f"data    : {cfg['rows']:,} synthetic residents, one row each (seed {cfg['seed']}); "
        "unique resident_id, index (community, age_band)",
        f"query   : count + sum + mean(monthly_pension) by community (4) x age_band (5), "
        f"monthly_pension <= :max_value; epsilon {cfg['epsilon']} per run, L = 1, "
        f"bounds [{LOWER}, {UPPER}]",
        f"timing  : median of {cfg['runs']} paired runs after {cfg['warmup']} warm-ups "
        f"(gateway through HTTP, a new max_value each run); its SQL alone: in the first "
        f"{cfg['sql_runs']} of them; OpenDP: {cfg['opendp_runs']} releases after 1 warm-up",
        f"machine : {cfg['cpus']} CPUs, load average {cfg['load_start']} at start, "
        f"{cfg['load_end']} at end",
        "",
        f"{'source':<11} {'plain SQL':>10} {'gateway DP':>11} {'ratio':>7} "
        f"{'<= ' + format(result['targets']['gateway_vs_plain'], 'g') + 'x':>8}  "
        f"{'its SQL alone':>13} {'no ROW_NUMBER':>13} {'fixed cost':>11}",
        f"{'':<11} {'':>10} {'via HTTP':>11} {'':>7} {'':>8}  {'':>13} {'':>13} {'per run':>11}",
    ]
    for kind, s in result["sources"].items():
        if s.get("skipped"):
            out.append(f"{kind:<11} skipped: {s['skipped']}")
            continue
        t = s["timings"]
        out.append(
            f"{kind:<11} {_s(t['plain'].get('median_s')):>10} "
            f"{_s(t['gateway'].get('median_s')):>11} {s['ratio_gateway_plain']:>6.2f}x "
            f"{'MET' if s['target_met'] else 'NOT MET':>8}  "
            f"{_s(t['gateway_sql'].get('median_s')):>13} "
            f"{_s(t['untruncated_sql'].get('median_s')):>13} {_s(s['fixed_cost_s']):>11}"
        )
    projected = {
        k: s for k, s in result["sources"].items() if s.get("projected_without_truncation_s")
    }
    if projected:
        out.append(
            "projection, not measured: 'no ROW_NUMBER' + fixed cost = a gateway run that skipped "
            "truncation:"
        )
        od = result["opendp"]
        for kind, s in projected.items():
            line = (
                f"  {kind:<11} {_s(s['projected_without_truncation_s'])} = "
                f"{s['projected_ratio_plain']:.2f}x plain"
            )
            if od.get("available"):
                ratio = od["release"]["median_s"] / s["projected_without_truncation_s"]
                line += f", OpenDP release / projection {ratio:.2f}x"
            out.append(line)
    out.append("")
    od = result["opendp"]
    if not od.get("available"):
        out.append(f"OpenDP Polars: skipped ({od.get('reason')})")
    else:
        out.append(
            f"OpenDP {od['opendp']} Polars {od['polars']} in process: release "
            f"{_s(od['release']['median_s'])} median = release() "
            f"{_s(od['release_plan']['median_s'])} + collect() "
            f"{_s(od['release_collect']['median_s'])}"
        )
        out.append(
            f"  context construction (takes in the frame) {_s(od['context']['median_s'])} more, "
            "not counted in the ratios"
        )
        if "release_by_identifier" in od:
            out.append(
                "  with resident_id as identifier and truncate_per_group(1) (enforces one row "
                f"per resident): release {_s(od['release_by_identifier']['median_s'])}"
            )
        target = result["targets"]["opendp_vs_gateway"]
        for kind, r in result["opendp_ratios"].items():
            verdict = "MET" if r["target_met"] else "NOT MET"
            out.append(
                f"  OpenDP release / gateway DP on {kind:<10}: {r['ratio']:>6.2f}x   "
                f"target >= {target:g}x: {verdict}   (with context construction: "
                f"{r['ratio_with_context']:.2f}x)"
            )
    out.append("")
    paired = ", ".join(
        f"{k} {s['median_paired_ratio']:.2f}x"
        for k, s in result["sources"].items()
        if not s.get("skipped")
    )
    out += [
        f"ratio: median gateway / median plain (median of per-run ratios: {paired}).",
        "its SQL alone: the gateway's planned statement (plan_dp), run here with SQLAlchemy;",
        "no ROW_NUMBER: the same statement without per-person truncation;",
        f"fixed cost: gateway run - its SQL alone, medians on a {PROBE_ROWS:,}-row copy of the "
        "table (planning,",
        "budget, noise, stored release, access log, HTTP).",
    ]
    out.append(f"all targets met: {'yes' if result['all_targets_met'] else 'NO'}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000, help="residents (default 1,000,000)")
    p.add_argument("--runs", type=int, default=10, help="timed runs per side (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument(
        "--sql-runs",
        type=int,
        default=3,
        help="how many of the --runs iterations also run the gateway's own statement alone "
        "(default 3; 0 skips it)",
    )
    p.add_argument(
        "--opendp-runs",
        type=int,
        default=5,
        help="timed OpenDP releases (default 5; 0 skips OpenDP)",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        default=1.0,
        help="epsilon of one release, gateway and OpenDP (default 1.0)",
    )
    p.add_argument(
        "--opendp-identifier",
        action="store_true",
        help="also time OpenDP with resident_id as identifier and truncate_per_group(1), "
        "which enforces one row per resident as the gateway does (slower)",
    )
    p.add_argument("--seed", type=int, default=SEED, help="data seed")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("CDG_TEST_POSTGRES_URL", PG_DEFAULT),
        help="PostgreSQL server (a fresh schema is created and dropped)",
    )
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--check", action="store_true", help="exit with status 3 if a target is missed")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument(
        "--keep-home",
        action="store_true",
        help="keep the temporary CDG_HOME (store, SQLite source, gateway.log)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for /healthz (default 60)",
    )
    args = p.parse_args(argv)
    if args.rows < 1000 or args.runs < 1 or args.warmup < 0 or args.sql_runs < 0:
        p.error("--rows >= 1000, --runs >= 1, --warmup and --sql-runs >= 0")
    if args.sql_runs > args.runs:
        p.error("--sql-runs cannot exceed --runs (they share iterations)")
    if args.opendp_runs < 0 or not 0 < args.epsilon <= 10:
        p.error("--opendp-runs >= 0 and 0 < --epsilon <= 10")
    if (1 + args.warmup + args.runs) * args.epsilon > 100:
        p.error("the runs would exhaust the window's budget of 100: lower --epsilon or --runs")
    return args


def _on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_start = loadavg()
    home = Path(tempfile.mkdtemp(prefix="cdg-dp-bench-")).resolve()
    pg: PostgresSchema | None = None
    server: Server | None = None
    benches: list[SourceBench] = []
    try:
        log(f"generating {args.rows:,} residents (seed {args.seed}) ...")
        data = generate(args.rows, args.seed)
        exact = truth(data)
        sources: dict[str, str] = {}
        loads: dict[str, float] = {}
        (home / "sources").mkdir()
        sqlite_path = home / "sources" / "residents.db"
        loads["sqlite"] = write_sqlite(sqlite_path, data)
        sources["sqlite"] = f"sqlite:///{sqlite_path}"
        log(f"SQLite source written in {loads['sqlite']:.1f} s")
        skipped: dict[str, str] = {}
        if args.no_postgres:
            skipped["postgresql"] = "--no-postgres"
        else:
            try:
                pg = PostgresSchema(args.pg_url)
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                reason = (
                    f"not reachable at {make_url(args.pg_url).render_as_string()} "
                    f"({type(exc).__name__}); pass --pg-url or --no-postgres"
                )
                log(f"PostgreSQL {reason}")
                skipped["postgresql"] = reason
            if pg is not None:
                loads["postgresql"] = pg.load(data)
                sources["postgresql"] = pg.url
                log(f"PostgreSQL schema {pg.schema} loaded in {loads['postgresql']:.1f} s")

        env = clean_env(home)
        env["CDG_STATEMENT_TIMEOUT_SECONDS"] = str(int(RUN_TIMEOUT))
        cdg(home, env, "init")
        dept_key = add_principal(home, env, DEPARTMENT)
        app_key = add_principal(home, env, APP)
        server = start_uvicorn("gateway", "gateway.api.asgi:app_factory", env, home)
        wait_ready(server, args.startup_timeout)
        log(f"gateway on :{server.port}")

        statements = gateway_statements(args.epsilon)
        params = itertools.count(FIRST_PARAM)
        probe_statements = gateway_statements(args.epsilon, PROBE_TABLE)
        for kind, url in sources.items():
            reg = register(server, dept_key, app_key, kind, url, args.epsilon)
            probe = register(server, dept_key, app_key, kind, url, args.epsilon, PROBE_TABLE)
            bench = SourceBench(
                reg, server, app_key, exact, statements, params, probe, probe_statements
            )
            benches.append(bench)
            bench.check()
            log(
                f"{kind}: answers checked (plain exact, gateway DP within {TOLERANCE_SCALES:g} "
                "noise scales, fresh release with receipt)"
            )
        for bench in benches:
            bench.run(args.warmup, args.runs, args.sql_runs)
            bench.run_probe(args.warmup, args.runs)
            if server.proc.poll() is not None:
                raise BenchError(f"the gateway died:\n{server.tail()}")

        opendp: dict[str, Any] = {"available": False, "reason": "--opendp-runs 0"}
        if args.opendp_runs:
            log("OpenDP: building the polars frame and releasing ...")
            opendp = opendp_bench(
                data, exact, args.epsilon, args.opendp_runs, args.opendp_identifier
            )

        summaries: dict[str, Any] = {b.reg.kind: b.summary(TARGET_PLAIN) for b in benches}
        for kind, reason in skipped.items():
            summaries[kind] = {"skipped": reason}
        opendp_ratios: dict[str, Any] = {}
        if opendp.get("available"):
            for b in benches:
                ratio = opendp["release"]["median_s"] / b.timings["gateway"].median
                opendp_ratios[b.reg.kind] = {
                    "ratio": round(ratio, 3),
                    "ratio_with_context": round(
                        (opendp["release"]["median_s"] + opendp["context"]["median_s"])
                        / b.timings["gateway"].median,
                        3,
                    ),
                    "target_met": ratio >= TARGET_OPENDP,
                }
        met = [s["target_met"] for s in summaries.values() if "target_met" in s]
        met += [r["target_met"] for r in opendp_ratios.values()]
        result: dict[str, Any] = {
            "config": {
                "rows": args.rows,
                "seed": args.seed,
                "runs": args.runs,
                "warmup": args.warmup,
                "sql_runs": args.sql_runs,
                "opendp_runs": args.opendp_runs,
                "epsilon": args.epsilon,
                "contribution_limit": 1,
                "bounds": [LOWER, UPPER],
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "postgresql": pg.version if pg else None,
                "sqlite": sqlite3.sqlite_version,
                "load_start": load_start,
                "load_end": loadavg(),
            },
            "load_seconds": {k: round(v, 2) for k, v in loads.items()},
            "spec": SPEC,
            "plain_sql": PLAIN_SQL,
            "sources": summaries,
            "opendp": opendp,
            "opendp_ratios": opendp_ratios,
            "targets": {"gateway_vs_plain": TARGET_PLAIN, "opendp_vs_gateway": TARGET_OPENDP},
            "all_targets_met": bool(met) and all(met),
            "total_seconds": round(time.perf_counter() - started, 1),
        }
        if args.keep_home:
            result["home"] = str(home)
        return result
    finally:
        for bench in benches:
            bench.close()
        if server is not None:
            server.stop()
        if pg is not None:
            pg.drop()
        if args.keep_home:
            log(f"kept {home} (gateway.log, sources/residents.db, gateway.db)")
        else:
            shutil.rmtree(home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = run(args)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(render(result))
    log(f"done in {result['total_seconds']:.0f} s")
    if args.check and not result["all_targets_met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
