"""GatewayClient against a live gateway (SQLite and PostgreSQL stores): the three jobs."""

from __future__ import annotations

import copy
import json
import secrets
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.auth.service import add_principal
from gateway.cli.app import cli
from gateway.client import GatewayAPIError, GatewayClient, RetryPolicy
from gateway.client.errors import CONNECTION_FAILED
from gateway.client.models import DatasetOut, QueryRequestOut, RunResult
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import write_sources
from tests.gateway.client.live import LiveGateway

HOME_VISIT = {
    "select": ["resident_id", "name", "mobile", "age", "community"],
    "filters": [
        {"column": "lives_alone", "op": "=", "value": 1},
        {"column": "age", "op": ">=", "value": {"param": "min_age"}},
    ],
    "params": {"min_age": {"type": "integer", "default": 80}},
}
HOME_VISIT_PURPOSE = "public-service.elderly-care.home-visit"


def residents_source(community: Community) -> str:
    """A civil-affairs database holding the residents table (its directory is the temp dir)."""
    directory = Path(tempfile.mkdtemp(dir=tempfile.gettempdir()))
    url = f"sqlite:///{directory / 'residents.db'}"
    write_sources(community, {"civil_affairs": url})
    return url


def register_residents(dept: GatewayClient, community: Community) -> DatasetOut:
    source = dept.add_source("residents-db", residents_source(community))
    assert source.name == "residents-db" and source.owner == "civil-affairs"
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    spec["source"] = source.name
    return dept.register_dataset(spec)


def test_department_app_and_auditor_jobs(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    dept = GatewayClient(live.url, live.keys["civil-affairs"])
    app = GatewayClient(live.url, live.keys["heping-committee"])
    auditor = GatewayClient(live.url, live.keys["district-auditor"])
    with dept, app, auditor:
        assert dept.me().name == "civil-affairs"
        dataset = register_residents(dept, small_community)
        assert [s.name for s in dept.sources()] == ["residents-db"]
        assert dataset.policy is not None  # the owner sees its document

        filed = app.file_request(dataset.id, HOME_VISIT_PURPOSE, "monthly visits", HOME_VISIT)
        assert isinstance(filed, QueryRequestOut) and filed.status == "pending"
        pending = dept.requests(status="pending")
        assert [r.id for r in pending] == [filed.id]
        approved = dept.approve(filed.id, max_runs=3, note="ok")
        assert approved.status == "approved" and approved.max_runs == 3
        assert dept.request(filed.id).decided_by == "civil-affairs"

        result = app.run(filed.id, {"min_age": 85})
        assert isinstance(result, RunResult) and result.row_count == len(result.rows) > 0
        assert all(row[3] >= 85 and row[4] == "heping" for row in result.rows)
        assert app.request(filed.id).runs_used == 1

        # Paging: every entry once, in order, whatever the page size.
        everything = auditor.entries(limit=1000)
        paged = list(auditor.iter_entries(page_size=2))
        assert (
            [e.index for e in paged]
            == [e.index for e in everything]
            == list(range(len(everything)))
        )
        runs = list(auditor.iter_entries(page_size=1, event="query.run"))
        assert [e.entry["approved_query"] for e in runs] == [filed.id]
        assert runs[0].index == result.receipt.entry_index

        # The streamed export verifies offline against the published keys.
        export = tmp_path / "export.jsonl"
        written = auditor.export_to(export)
        lines = export.read_text(encoding="utf-8").splitlines()
        assert written == export.stat().st_size > 0
        assert sum(json.loads(line)["type"] == "entry" for line in lines) >= len(everything)
        keys = tmp_path / "keys.txt"
        keys.write_text("\n".join(auditor.published_keys()) + "\n", encoding="utf-8")
        verified = CliRunner().invoke(
            cli, ["audit", "verify", "--export", str(export), "--keys", str(keys), "--json"]
        )
        assert verified.exit_code == 0, verified.output
        assert json.loads(verified.stdout)["intact"] is True

        filtered = b"".join(auditor.export(event="query.run", format="csv")).decode("utf-8")
        assert filed.id in filtered and "query.request" not in filtered

        revoked = dept.revoke(filed.id, "the visits are done")
        assert revoked.status == "revoked"
        with pytest.raises(GatewayAPIError) as denied:
            app.run(filed.id, {"min_age": 85})
        assert denied.value.status == 403 and denied.value.reason


def test_errors_carry_the_documented_shape(live: LiveGateway) -> None:
    app = GatewayClient(live.url, live.keys["heping-committee"])
    with app, pytest.raises(GatewayAPIError) as missing:
        app.request("no-such-request")
    err = missing.value
    assert (err.status, err.error) == (404, "NotFound")
    assert err.detail and len(err.request_id) >= 8
    assert err.as_dict()["request_id"] == err.request_id

    stranger = GatewayClient(live.url, "cdg_" + secrets.token_hex(16))
    with stranger, pytest.raises(GatewayAPIError) as unknown:
        stranger.me()
    assert (unknown.value.status, unknown.value.error) == (401, "Unauthenticated")

    with GatewayClient(live.url, live.keys["heping-committee"]) as app2:
        with pytest.raises(GatewayAPIError) as forbidden:
            app2.sources()
        assert forbidden.value.status == 403 and forbidden.value.code == forbidden.value.reason
        with pytest.raises(GatewayAPIError) as invalid:
            app2.reject("x" * 10, reason="")
        assert invalid.value.status == 422 and invalid.value.error == "InvalidRequest"


def test_a_gateway_that_is_not_there_is_one_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    client = GatewayClient(
        f"http://127.0.0.1:{port}",
        "k",
        retry=RetryPolicy(attempts=3, backoff=0.01),
        sleep=waits.append,
    )
    with client, pytest.raises(GatewayAPIError) as failed:
        client.me()
    assert failed.value.status is None and failed.value.error == CONNECTION_FAILED
    assert f"127.0.0.1:{port}" in failed.value.detail
    assert len(waits) == 2  # three tries, two waits


def test_lifecycle_calls(live: LiveGateway, small_community: Community) -> None:
    dept = GatewayClient(live.url, live.keys["civil-affairs"])
    app = GatewayClient(live.url, live.keys["heping-committee"])
    with dept, app:
        dataset = register_residents(dept, small_community)
        filed = app.file_request(dataset.id, HOME_VISIT_PURPOSE, "visits", HOME_VISIT)
        dept.approve(filed.id)
        assert HOME_VISIT_PURPOSE in {p.purpose for p in app.purposes()}

        assert dataset.policy is not None
        narrowed = dataset.policy.model_copy(deep=True)
        del narrowed.purposes[0].columns["mobile"]
        preview = dept.preview_policy(dataset.id, narrowed)
        assert [b.id for b in preview.breaks] == [filed.id] and preview.diff.changed
        assert app.request(filed.id).status == "approved"

        retired = dept.retire_dataset(dataset.id, "moved")
        assert retired.retired_at is not None and [c.id for c in retired.closed] == [filed.id]
        source = next(s for s in dept.sources() if s.name == "residents-db")
        assert dept.retire_source(source.id, "gone").source.retired_at is not None

        issued = app.rotate_key()
        assert issued.principal == "heping-committee" and issued.api_key
        with GatewayClient(live.url, issued.api_key) as rotated:
            assert rotated.me().name == "heping-committee"
        # A department reissues and expires the keys of its staff (principals of its domain).
        with live.gw.ctx.store.transaction() as session:
            _, clerk_key = add_principal(
                session, name="civil-affairs-clerk", kind="department",
                domain="civil-affairs", role="department",
            )  # fmt: skip
        reissued = dept.reissue_key("civil-affairs-clerk")
        with GatewayClient(live.url, clerk_key) as old, pytest.raises(GatewayAPIError) as gone:
            old.me()
        assert gone.value.status == 401
        with GatewayClient(live.url, reissued.api_key) as fresh:
            assert fresh.me().name == "civil-affairs-clerk"
            assert dept.expire_keys("civil-affairs-clerk").expired == 1
            with pytest.raises(GatewayAPIError):
                fresh.me()
