"""A run loaded just before its query was revoked is refused as revoked, not as used up."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auth.service import authenticate
from gateway.decisions.facts import decide_for
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import GatewayError
from gateway.queries.spec import QuerySpec
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
