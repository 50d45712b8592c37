"""Lifecycle commands against a live gateway: policy preview and replace, retire, API keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from gateway.auth.service import add_principal
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from tests.gateway.cli.test_remote_cli import cdg, ok_json, write
from tests.gateway.client.live import LiveGateway
from tests.gateway.client.test_client import HOME_VISIT, HOME_VISIT_PURPOSE, residents_source


def approved_home_visit(live: LiveGateway, community: Community, tmp: Path) -> dict[str, Any]:
    """residents-db and the residents dataset registered, a home-visit query approved."""
    db = residents_source(community)
    assert (
        cdg(live, "civil-affairs", "source", "add", "residents-db", "--db-url", db).exit_code == 0
    )
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    spec["source"] = "residents-db"
    dataset = ok_json(cdg(live, "civil-affairs", "dataset", "register",
                          str(write(tmp / "residents.yaml", spec)), "--json"))  # fmt: skip
    filed = ok_json(cdg(live, "heping-committee", "request", "file",
                        str(write(tmp / "spec.yaml", HOME_VISIT)), "--dataset", "residents",
                        "--purpose", HOME_VISIT_PURPOSE, "--justification", "visits",
                        "--json"))  # fmt: skip
    assert cdg(live, "civil-affairs", "request", "approve", filed["id"]).exit_code == 0
    return {"dataset": dataset, "query": filed["id"], "policy": spec["policy"]}


def test_policy_preview_then_replace_revokes_what_breaks(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    world = approved_home_visit(live, small_community, tmp_path)
    narrowed = copy.deepcopy(world["policy"])
    del narrowed["purposes"][0]["columns"]["mobile"]  # the approved query selects it
    policy = write(tmp_path / "narrowed.yaml", narrowed)

    preview = ok_json(cdg(live, "civil-affairs", "policy", "replace", str(policy),
                          "--dataset", "residents", "--preview", "--json"))  # fmt: skip
    assert [b["id"] for b in preview["breaks"]] == [world["query"]]
    assert preview["diff"]["changed"] is True
    table = cdg(live, "civil-affairs", "policy", "replace", str(policy), "--dataset", "residents",
                "--preview")  # fmt: skip
    assert table.exit_code == 0 and "1 would be revoked" in table.stdout
    still = ok_json(cdg(live, "civil-affairs", "request", "show", world["query"], "--json"))
    assert still["status"] == "approved"  # a preview changes nothing

    replaced = cdg(
        live, "civil-affairs", "policy", "replace", str(policy), "--dataset", "residents"
    )
    assert replaced.exit_code == 0 and "policy version" in replaced.stdout
    after = ok_json(cdg(live, "heping-committee", "request", "show", world["query"], "--json"))
    assert after["status"] == "revoked" and after["revoke_cause"] == "policy_replaced"


def test_retire_a_dataset_then_its_source(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    world = approved_home_visit(live, small_community, tmp_path)
    refused = cdg(live, "heping-committee", "dataset", "retire", "residents", "--reason", "x")
    assert refused.exit_code == 1 and "403" in refused.stderr
    retired = ok_json(cdg(live, "civil-affairs", "dataset", "retire", "residents",
                          "--reason", "registry moved", "--json"))  # fmt: skip
    assert retired["retired_at"] and [c["id"] for c in retired["closed"]] == [world["query"]]
    shown = ok_json(cdg(live, "heping-committee", "request", "show", world["query"], "--json"))
    assert shown["status"] == "revoked" and "registry moved" in shown["reason"]
    source = cdg(live, "civil-affairs", "source", "retire", "residents-db", "--reason", "gone")
    assert source.exit_code == 0 and "residents-db" in source.stdout
    listed = ok_json(cdg(live, "civil-affairs", "source", "list", "--json"))
    assert all(s["retired_at"] for s in listed if s["name"] == "residents-db")


CLERK = "civil-affairs-clerk"


def test_rotate_reissue_and_expire_keys(live: LiveGateway) -> None:
    rotated = ok_json(cdg(live, "heping-committee", "principal", "rotate-key", "--json"))
    new_key = rotated["api_key"]
    assert rotated["principal"] == "heping-committee" and new_key != live.keys["heping-committee"]
    live.keys["heping-app-new"] = new_key
    me = ok_json(cdg(live, "heping-app-new", "principal", "me", "--json"))
    assert me["name"] == "heping-committee"

    own = cdg(live, "civil-affairs", "principal", "reissue-key", "civil-affairs", "--json")
    assert own.exit_code == 1 and json.loads(own.stderr)["reason"] == "operator_only"
    with live.gw.ctx.store.transaction() as session:  # a clerk of the department
        _, live.keys[CLERK] = add_principal(
            session, name=CLERK, kind="department", domain="civil-affairs", role="department"
        )
    reissued = ok_json(cdg(live, "civil-affairs", "principal", "reissue-key", CLERK,
                           "--expires-at", "2999-01-01T00:00:00+08:00", "--json"))  # fmt: skip
    assert reissued["expires_at"].startswith("2998-12-31T16:00:00")
    old = cdg(live, CLERK, "principal", "me")
    assert old.exit_code == 1 and "401" in old.stderr  # earlier keys stop at once
    live.keys[CLERK] = reissued["api_key"]
    assert cdg(live, CLERK, "principal", "me").exit_code == 0

    apps = cdg(live, "heping-app-new", "principal", "expire", "heping-committee", "--json")
    assert apps.exit_code == 1 and json.loads(apps.stderr)["reason"] == "not_a_department"
    expired = ok_json(cdg(live, "civil-affairs", "principal", "expire", CLERK, "--json"))
    assert expired["expired"] == 1
    gone = cdg(live, CLERK, "principal", "me", "--json")
    assert gone.exit_code == 1 and json.loads(gone.stderr)["status"] == 401


def test_dataset_tables_are_never_cropped(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    approved_home_visit(live, small_community, tmp_path)
    for width in ("70", "85", "100", "120"):
        shown = cdg(live, "heping-committee", "dataset", "show", "residents",
                    env={"COLUMNS": width})  # fmt: skip
        lines = [line for line in shown.stdout.splitlines() if line.strip()]
        assert shown.exit_code == 0 and lines
        assert all(line[-1] in "┓┃┩│┘┐┤" for line in lines), (width, shown.stdout)
        assert HOME_VISIT_PURPOSE in shown.stdout
