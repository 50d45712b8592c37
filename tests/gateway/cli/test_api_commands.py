"""The remaining API actions from the command line, against a live gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.community import Community
from tests.conftest import make_settings, open_gateway
from tests.gateway.cli.test_lifecycle_cli import approved_home_visit
from tests.gateway.cli.test_remote_cli import cdg, ok_json, write
from tests.gateway.client.live import LiveGateway, live_gateway
from tests.gateway.client.test_client import HOME_VISIT, HOME_VISIT_PURPOSE

runner = CliRunner()
RESIDENT = "11010519491231002X"


def test_catalogue_budget_and_decision_commands(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    world = approved_home_visit(live, small_community, tmp_path)
    purposes = ok_json(cdg(live, "heping-committee", "purpose", "list", "--json"))
    assert HOME_VISIT_PURPOSE in {p["purpose"] for p in purposes}
    assert all(p["zh"] and p["en"] for p in purposes)
    assert ok_json(cdg(live, "heping-committee", "budget", "list", "--json")) == []
    explained = ok_json(cdg(live, "heping-committee", "decision", "explain",
                            str(write(tmp_path / "s.yaml", HOME_VISIT)), "--dataset", "residents",
                            "--purpose", HOME_VISIT_PURPOSE, "--json"))  # fmt: skip
    assert explained["allowed"] is True and explained["message_zh"]
    status = ok_json(cdg(live, "heping-committee", "status", "--json"))
    assert status == {"url": live.url, "status": "ok", "principal": "heping-committee"}
    token = cdg(live, "civil-affairs", "token", "reverse", "tok_x", "--dataset", "residents",
                "--column", "name", "--recipient", "heping-committee", "--justification", "x",
                "--json")  # fmt: skip
    assert token.exit_code == 1 and json.loads(token.stderr)["status"] in (403, 404, 422)
    assert world["query"]


def test_audit_commands_through_the_gateway(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    world = approved_home_visit(live, small_community, tmp_path)
    assert cdg(live, "heping-committee", "query", "run", world["query"]).exit_code == 0
    entries = ok_json(cdg(live, "district-auditor", "audit", "entries", "--limit", "3", "--json"))
    assert [e["index"] for e in entries] == [0, 1, 2]
    runs = ok_json(cdg(live, "district-auditor", "audit", "entries", "--event", "query.run",
                       "--json"))  # fmt: skip
    assert len(runs) == 1 and runs[0]["entry"]["approved_query"] == world["query"]
    table = cdg(live, "district-auditor", "audit", "entries", "--event", "query.run")
    assert table.exit_code == 0 and "query.run" in table.stdout
    summary = ok_json(cdg(live, "district-auditor", "audit", "summary", "--by", "app", "--json"))
    assert any(row["key"] == "heping-committee" and row["runs"] == 1 for row in summary)

    signed = cdg(live, "district-auditor", "audit", "checkpoint")
    assert signed.exit_code == 0 and signed.stdout.startswith("community-data-gateway")
    latest = ok_json(cdg(live, "district-auditor", "audit", "latest", "--json"))
    assert latest["note"] == signed.stdout
    size = latest["size"]
    proof = ok_json(cdg(live, "district-auditor", "audit", "proof", "inclusion", "0",
                        "--tree-size", str(size), "--json"))  # fmt: skip
    assert proof["index"] == 0 and proof["tree_size"] == size
    consistency = ok_json(cdg(live, "district-auditor", "audit", "proof", "consistency", "1",
                              str(size), "--json"))  # fmt: skip
    assert consistency["old_size"] == 1

    keys = tmp_path / "keys.txt"
    wrote = runner.invoke(cli, ["audit", "keys", "--url", live.url, "--out", str(keys)])
    assert wrote.exit_code == 0 and keys.read_text(encoding="utf-8").startswith("community")
    verified = ok_json(cdg(live, "district-auditor", "audit", "verify", "--json"))
    assert verified["intact"] is True and verified["entries"] >= 4
    words = cdg(live, "district-auditor", "audit", "verify")
    assert words.exit_code == 0 and "audit log intact" in words.stdout
    refused = cdg(live, "heping-committee", "audit", "verify")
    assert refused.exit_code == 1 and "403" in refused.stderr


def test_resident_commands_through_the_gateway(live: LiveGateway) -> None:
    def as_dept(*args: str) -> object:
        return runner.invoke(
            cli,
            [*args, "--url", live.url, "--key", live.keys["civil-affairs"], "--json"],
            input=RESIDENT + "\n",
        )

    looked = as_dept("subject", "lookup")
    assert looked.exit_code == 0 and RESIDENT not in looked.output  # type: ignore[attr-defined]
    ref = json.loads(looked.stdout[looked.stdout.index("{") :])["subject_ref"]  # type: ignore[attr-defined]
    history = ok_json(cdg(live, "civil-affairs", "subject", "accesses", ref, "--json"))
    assert history == []
    issued = as_dept("subject", "link", "--hours", "2")
    assert issued.exit_code == 0, issued.output  # type: ignore[attr-defined]
    link = json.loads(issued.stdout[issued.stdout.index("{") :])  # type: ignore[attr-defined]
    listed = ok_json(cdg(live, "civil-affairs", "subject", "links", "--json"))
    assert [x["id"] for x in listed] == [link["id"]] and listed[0]["state"] == "unused"
    revoked = ok_json(cdg(live, "civil-affairs", "subject", "revoke-link", link["id"], "--json"))
    assert revoked["state"] == "revoked"


@pytest.fixture
def webhook_gateway(tmp_path: Path) -> Iterator[LiveGateway]:
    gw = open_gateway(make_settings(tmp_path / "home", webhook_hosts="127.0.0.1:*"))
    try:
        with live_gateway(gw) as served:
            yield served
    finally:
        gw.client.close()
        gw.ctx.close()


def test_webhook_commands_through_the_gateway(webhook_gateway: LiveGateway) -> None:
    live = webhook_gateway
    added = ok_json(cdg(live, "heping-committee", "webhooks", "add", "http://127.0.0.1:9/hook",
                        "--json"))  # fmt: skip
    assert added["secret"].startswith("whsec_")
    listed = ok_json(cdg(live, "heping-committee", "webhooks", "list", "--json"))
    assert [w["id"] for w in listed] == [added["id"]] and "secret" not in listed[0]
    assert ok_json(cdg(live, "heping-committee", "webhooks", "deliveries", added["id"],
                       "--json")) == []  # fmt: skip
    removed = cdg(live, "heping-committee", "webhooks", "remove", added["id"])
    assert removed.exit_code == 0
    assert ok_json(cdg(live, "heping-committee", "webhooks", "list", "--json")) == []
    elsewhere = cdg(live, "heping-committee", "webhooks", "add", "http://192.0.2.1/hook")
    assert elsewhere.exit_code == 1 and "422" in elsewhere.stderr
