"""A run loaded just before its query was revoked is refused as revoked, not as used up."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.service import authenticate
from gateway.decisions.facts import decide_for
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import GatewayError
from gateway.queries.spec import QuerySpec
from gateway.runs import pipeline
from gateway.runs.context import Loaded, RunContext
from gateway.runs.quota import take_quota
from gateway.runs.repository import RunRepository
from policies import Decision
from tests.conftest import Gateway

HOME_VISIT = "public-service.elderly-care.home-visit"


def test_a_run_racing_a_revocation_is_told_it_was_revoked(
    gateway: Gateway, small_community: Community, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    dataset = gateway.register_demo_dataset("residents", url)
    qid = gateway.approved_query("heping-committee", dataset, HOME_VISIT, {"select": ["age"]})
    # The run's first steps: loaded and decided while the query is still approved ...
    with gateway.ctx.store.transaction() as session:
        epoch, found = RunRepository(session).runnable(qid)
        assert found is not None
        query, data, source = found
        who = authenticate(session, gateway.keys["heping-committee"], gateway.ctx.principals, epoch)
        spec = QuerySpec.model_validate(query.spec, context={"stored": True})
        verdict = decide_for(
            session, gateway.ctx, who.facts(), data, query.purpose, spec, count_today=False
        )
    assert isinstance(verdict, Decision)
    # ... then the department revokes it before the run is counted.
    r = gateway.post("civil-affairs", f"/v1/query-requests/{qid}/revoke", {"reason": "停止"})
    assert r.status_code == 200, r.text
    with pytest.raises(GatewayError) as refused:
        take_quota(
            gateway.ctx, who, RunContext("race", None), Loaded(query, data, source, spec), verdict
        )
    assert refused.value.reason == "query_revoked"
    assert "停止" in refused.value.detail  # the department's reason, as for any revoked run


def test_a_run_counted_before_a_revocation_says_when_it_was_counted(
    gateway: Gateway,
    small_community: Community,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted, then revoked while the source is read, then appended: the revocation's entry
    comes first in the log, and the run's entry carries the earlier moment it was counted."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    dataset = gateway.register_demo_dataset("residents", url)
    qid = gateway.approved_query("heping-committee", dataset, HOME_VISIT, {"select": ["age"]})
    real_execute = pipeline.execute  # type: ignore[attr-defined]

    def revoked_while_reading(*args: Any, **kwargs: Any) -> Any:
        r = gateway.post("civil-affairs", f"/v1/query-requests/{qid}/revoke", {"reason": "停止"})
        assert r.status_code == 200, r.text
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(pipeline, "execute", revoked_while_reading)
    r = gateway.run("heping-committee", qid)
    assert r.status_code == 200, r.text
    monkeypatch.undo()

    entries = {
        e["index"]: e["entry"]
        for e in gateway.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
        if e["entry"].get("approved_query") == qid
    }
    at_revoked, revoked = next(
        (i, e) for i, e in entries.items() if e["event"] == "request.revoked"
    )
    at_ran, ran = next((i, e) for i, e in entries.items() if e["event"] == "query.run")
    assert at_revoked < at_ran  # "revoked, then granted" in log order ...
    counted = datetime.fromisoformat(ran["counted_at"])
    assert counted < datetime.fromisoformat(revoked["time"])  # ... yet counted before it
    assert counted <= datetime.fromisoformat(ran["time"])

    # A run refused as revoked was never counted, and says nothing of a count.
    r = gateway.run("heping-committee", qid)
    assert r.status_code == 403 and r.json()["reason"] == "query_revoked"
    runs = [
        (e["index"], e["entry"])
        for e in gateway.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
        if e["entry"].get("approved_query") == qid and e["entry"]["event"] == "query.run"
    ]
    refused = max(runs, key=lambda r: int(r[0]))[1]
    assert refused["decision"]["reason_code"] == "query_revoked"
    assert "counted_at" not in refused
