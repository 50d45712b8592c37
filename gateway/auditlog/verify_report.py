"""The verification of the stored log as auditors read it over HTTP and in the console.

The same check as ``cdg audit verify`` (``service.verify_store``): every entry, every
checkpoint signature and everything derived from the entries, read once. Only auditors
may ask: the answer speaks of the whole log (indexes of damaged entries), which no
department or app sees in full.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from gateway.access.permissions import require
from gateway.auditlog.derived_checks import unsigned_age
from gateway.auditlog.log_context import LogContext
from gateway.auditlog.schemas import VerifyOut
from gateway.auditlog.service import verify_store
from gateway.errors import Unavailable
from gateway.principal import AuthPrincipal

# One verification at a time per serving process (API and console alike): each reads the
# whole log and holds a worker thread and a connection for as long as that takes, and a
# run is not stopped when its client hangs up, so repeated clicks must not pile up runs.
_RUNNING = threading.Lock()
RETRY_AFTER = 30  # seconds: about what a verification of a large log takes


def verify_report(session: Session, ctx: LogContext, principal: AuthPrincipal) -> VerifyOut:
    require("log.verify", principal)
    if not _RUNNING.acquire(blocking=False):
        raise Unavailable(
            "a verification of the access log is already running; try again when it is done",
            reason="audit_verify_running",
            retry_after=RETRY_AFTER,
        )
    try:
        # In the serving process: no worker pool per web request (each would cost processes
        # and seconds of start-up for any auditor's click); `cdg audit verify` runs in parallel.
        report = verify_store(session, ctx, workers=1)
    finally:
        _RUNNING.release()
    first = report.first
    return VerifyOut(
        intact=report.intact,
        entries=report.entries,
        checkpoints=report.checkpoints,
        signed_size=report.signed_size,
        witnessed_size=report.witnessed_size,
        unsigned_entries=max(report.entries - report.signed_size, 0),
        oldest_unsigned_age_seconds=unsigned_age(report),
        first_bad_index=first.index if first else None,
        problem=first.kind if first else None,
        message=first.message if first else None,
    )
