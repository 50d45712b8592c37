"""The service's metrics, as prometheus_client families; rendered at ``/metrics``.

Defined here (a top-level module importing nothing of the gateway) so that every domain
can count what it does without importing the HTTP layer. Labels are small fixed sets:
route *templates* (never raw paths, which can hold ids), reason codes, outcomes, event
types. No label ever holds a dataset, app, resident or query id.

With ``PROMETHEUS_MULTIPROC_DIR`` set before the process starts, prometheus_client keeps
values in files in that directory and ``render`` sums every process's files, so the
workers of ``cdg serve --workers N`` report one set. The directory must be emptied
before the server starts (``cdg serve`` does it for the directory it is given).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client opens its value files as the families below are defined.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# The *_created series would double the output, and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Buckets for request, audit and delivery latencies: 1 ms to 30 s.
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "cdg_http_requests",
    "HTTP requests by route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "cdg_http_request_duration_seconds",
    "Time to answer, by route template.",
    ["method", "route"],
    buckets=SECONDS,
)
RUNS = Counter("cdg_runs", "Runs of approved queries by outcome (as logged).", ["outcome"])
DENIALS = Counter(
    "cdg_denials",
    "Refusals written to the access log, by event and reason code.",
    ["event", "reason"],
)
EPSILON_SPENT = Counter("cdg_budget_epsilon_spent", "Privacy budget charged (ε, all datasets).")
AUDIT_APPEND_SECONDS = Histogram(
    "cdg_audit_append_duration_seconds",
    "Time to write and commit one batch of access-log entries.",
    buckets=SECONDS,
)
AUDIT_BATCH_SIZE = Histogram(
    "cdg_audit_batch_entries",
    "Entries per committed access-log batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
SOURCE_ERRORS = Counter(
    "cdg_source_errors", "Failures reading a department's database, by kind.", ["kind"]
)
WEBHOOK_DELIVERIES = Counter(
    "cdg_webhook_deliveries",
    "Webhook delivery attempts by event type and outcome.",
    ["event", "outcome"],
)


def count_entry(event: str, outcome: object, decision: object) -> None:
    """Count what an access-log entry reports: runs by outcome, denials, source failures.

    Called as each entry is written, so runs, refusals and source errors are counted in
    one place for every route, with the registered (fixed) event, outcome and reason codes.
    """
    if event == "query.run" and isinstance(outcome, str):
        RUNS.labels(outcome).inc()
        if outcome in ("source_error", "timeout"):
            SOURCE_ERRORS.labels(outcome).inc()
    if isinstance(decision, dict) and decision.get("allowed") is False:
        DENIALS.labels(event, str(decision.get("reason_code"))).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def clear_multiprocess_dir() -> None:
    """Remove the previous server's value files: counters start again from zero.

    Called once by ``cdg serve`` before the workers start (never by a worker: the others
    are writing there).
    """
    directory = multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def render() -> bytes:
    """Every family in Prometheus text format: this process's, or all processes' summed."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
