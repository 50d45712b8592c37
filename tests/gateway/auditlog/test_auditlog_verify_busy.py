"""One verification of the stored log at a time per serving process: a second request while
one runs (API or console) is answered 503 with Retry-After, in the documented error shape,
and the next request after it finishes runs.

The running verification is stood for by holding the process's verification lock, as a
running one holds it (a log slow enough to overlap two real runs takes minutes to build).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.auditlog import verify_report
from tests.console.helpers import sign_in
from tests.gateway.auditlog.test_auditlog_derived import Log, log

__all__ = ["log"]


def test_a_second_verification_while_one_runs_is_503_with_retry_after(log: Log) -> None:
    console = TestClient(log.gw.client.app)
    sign_in(console, log.gw.keys["district-auditor"])
    assert verify_report._RUNNING.acquire(blocking=False)
    try:
        busy = log.gw.get("district-auditor", "/v1/audit/verify")
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == str(verify_report.RETRY_AFTER)
        body = busy.json()
        assert body["error"] == "Unavailable" and body["reason"] == "audit_verify_running"
        page = console.get("/console/audit/verify", headers={"HX-Request": "true"})
        assert page.status_code == 503, page.text
        # Refusals come before the lock: a caller who may not verify still gets 403.
        assert log.gw.get("civil-affairs", "/v1/audit/verify").status_code == 403
    finally:
        verify_report._RUNNING.release()
    done = log.gw.get("district-auditor", "/v1/audit/verify")
    assert done.status_code == 200 and done.json()["intact"], done.text
    assert console.get("/console/audit/verify").status_code == 200
