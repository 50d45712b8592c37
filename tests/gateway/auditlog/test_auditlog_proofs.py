"""Receipts, checkpoints, proofs, export and residents' access history through the API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from audit import leaf_hash, open_checkpoint, verify_consistency, verify_inclusion
from gateway.api.app import create_app
from gateway.auditlog.export import read_export, verify_export
from gateway.context import GatewayContext
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.keys import create_signing_key
from tests.conftest import Gateway, make_settings, open_gateway

HOME_VISIT = "public-service.elderly-care.home-visit"


@pytest.fixture
def busy(tmp_path: Path, small_community: Community) -> Iterator[tuple[Gateway, str, list[Any]]]:
    """A gateway with a residents dataset, one approved row query and ten runs."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp_path / "home", checkpoint_every_entries=4))
    dataset = gw.register_demo_dataset("residents", source)
    qid = gw.approved_query(
        "heping-committee",
        dataset,
        HOME_VISIT,
        {"select": ["resident_id", "age"], "order_by": [{"column": "age"}], "limit": 5},
    )
    runs = [gw.run("heping-committee", qid).json() for _ in range(10)]
    yield gw, qid, runs
    gw.client.close()
    gw.ctx.close()


def keys(gw: Gateway) -> list[str]:
    text = gw.client.get("/.well-known/cdg-audit-keys").text
    return [line for line in text.splitlines() if line]


def test_every_receipt_verifies_offline_with_an_independent_verifier(
    busy: tuple[Gateway, str, list[Any]],
) -> None:
    gw, _, runs = busy
    trusted = keys(gw)
    for run in runs:
        receipt = run["receipt"]
        cp = open_checkpoint(receipt["checkpoint"], trusted)
        leaf = leaf_hash(receipt["entry"].encode())
        proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
        assert cp.size == receipt["tree_size"] == receipt["entry_index"] + 1
        assert leaf.hex() == receipt["leaf_hash"]
        assert verify_inclusion(leaf, receipt["entry_index"], cp.size, proof, cp.root)
        flipped = bytearray(leaf)
        flipped[0] ^= 1
        assert not verify_inclusion(bytes(flipped), receipt["entry_index"], cp.size, proof, cp.root)
        entry = json.loads(receipt["entry"])
        assert entry["event"] == "query.run" and entry["subject_count"] == 5
        assert all(not str(v).isdigit() or len(str(v)) < 15 for v in entry.values())


def test_checkpoints_are_stored_every_n_entries_and_are_consistent(
    busy: tuple[Gateway, str, list[Any]],
) -> None:
    gw, _, runs = busy
    latest = gw.get("district-auditor", "/v1/audit/checkpoint").json()
    cp = open_checkpoint(latest["note"], latest["verifier_keys"])
    assert cp.size >= runs[-1]["receipt"]["tree_size"] - 4
    old = open_checkpoint(runs[0]["receipt"]["checkpoint"], latest["verifier_keys"])
    proof = gw.get(
        "district-auditor",
        "/v1/audit/proofs/consistency",
        params={"old_size": old.size, "new_size": cp.size},
    ).json()["proof"]
    assert verify_consistency(
        old.size, cp.size, old.root, cp.root, [base64.b64decode(h) for h in proof]
    )
    inc = gw.get(
        "heping-committee", "/v1/audit/proofs/inclusion", params={"index": 2, "tree_size": cp.size}
    ).json()
    assert verify_inclusion(
        bytes.fromhex(inc["leaf_hash"]),
        2,
        cp.size,
        [base64.b64decode(h) for h in inc["proof"]],
        cp.root,
    )
    on_demand = gw.post("district-auditor", "/v1/audit/checkpoint").json()
    assert on_demand["size"] == runs[-1]["receipt"]["tree_size"]
    assert gw.post("heping-committee", "/v1/audit/checkpoint").status_code == 403


def test_signing_key_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    gw = open_gateway(settings)
    gw.post("civil-affairs", "/v1/subjects/lookup", {"id_number": "11010519491231002X"})
    first = gw.post("district-auditor", "/v1/audit/checkpoint").json()
    gw.client.close()
    gw.ctx.close()
    create_signing_key(settings)
    ctx = GatewayContext.open(settings)
    gw2 = Gateway(ctx=ctx, client=TestClient(create_app(ctx=ctx)), keys=gw.keys)
    try:
        published = keys(gw2)
        assert len(published) == 2
        gw2.post("civil-affairs", "/v1/subjects/lookup", {"id_number": "11010519491231002X"})
        second = gw2.post("district-auditor", "/v1/audit/checkpoint").json()
        assert open_checkpoint(first["note"], published).size == first["size"]
        assert open_checkpoint(second["note"], published).size == second["size"]
        assert open_checkpoint(second["note"], published[1:]).size == second["size"]
        with pytest.raises(Exception):
            open_checkpoint(second["note"], published[:1])
    finally:
        gw2.client.close()
        gw2.ctx.close()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_verify_offline_and_reveal_tampering(
    busy: tuple[Gateway, str, list[Any]], fmt: str
) -> None:
    gw, _, _ = busy
    text = gw.get("district-auditor", "/v1/audit/export", params={"format": fmt}).text
    records = read_export(text)
    report = verify_export(records, keys(gw), gw.ctx.settings.log_origin)
    assert report.intact and report.entries == records[0]["tree_size"] > 10
    records[5] = {**records[5], "entry": records[5]["entry"].replace("heping", "youyi")}
    records[5]["leaf_hash"] = leaf_hash(records[5]["entry"].encode()).hex()
    tampered = verify_export(records, keys(gw), gw.ctx.settings.log_origin)
    assert tampered.first is not None and tampered.first.index == records[5]["index"]


def test_filtered_export_for_a_department_only_holds_its_entries(
    busy: tuple[Gateway, str, list[Any]],
) -> None:
    gw, _, _ = busy
    text = gw.get("health-commission", "/v1/audit/export").text
    records = read_export(text)
    assert [r["type"] for r in records] == ["checkpoint", "end"]  # it owns no dataset here
    assert records[-1]["entries"] == 0
    assert gw.get("heping-committee", "/v1/audit/export").status_code == 403


def test_summary_counts_runs_denials_and_rows(busy: tuple[Gateway, str, list[Any]]) -> None:
    gw, qid, _ = busy
    gw.run("guangming-eldercare", qid)  # another app's query id: denied, logged
    by_app = {
        r["key"]: r
        for r in gw.get("district-auditor", "/v1/audit/summary", params={"by": "app"}).json()
    }
    assert by_app["heping-committee"]["runs"] == 10
    assert by_app["heping-committee"]["rows_released"] == 50
    assert by_app["guangming-eldercare"]["denials"] == 1
    mine = gw.get("heping-committee", "/v1/audit/summary", params={"by": "app"}).json()
    assert [r["key"] for r in mine] == ["heping-committee"]


def test_residents_access_history_by_subject_ref(
    busy: tuple[Gateway, str, list[Any]], small_community: Community
) -> None:
    gw, _, _ = busy
    # The five youngest residents aged 70+ in 和平社区 were released ten times.
    heping = sorted(
        (
            r
            for r in small_community.residents
            if r["community"] == "heping" and int(str(r["age"])) >= 70
        ),
        key=lambda r: int(str(r["age"])),
    )
    released = {str(r["resident_id"]) for r in heping[:5]}
    someone = next(iter(released))
    lookup = gw.post("civil-affairs", "/v1/subjects/lookup", {"id_number": someone})
    assert lookup.status_code == 200
    ref = lookup.json()["subject_ref"]
    assert someone not in lookup.text
    history = gw.get("civil-affairs", f"/v1/subjects/{ref}/accesses").json()
    if history:  # ages tie at the cut-off; the set released is the first five by age
        assert {h["app"] for h in history} == {"heping-committee"}
        assert {h["purpose"] for h in history} == {HOME_VISIT}
    everyone = set()
    for rid in (str(r["resident_id"]) for r in heping[:8]):
        ref = gw.post("civil-affairs", "/v1/subjects/lookup", {"id_number": rid}).json()[
            "subject_ref"
        ]
        if gw.get("district-auditor", f"/v1/subjects/{ref}/accesses").json():
            everyone.add(rid)
    assert len(everyone) == 5
    assert gw.get("heping-committee", f"/v1/subjects/{ref}/accesses").status_code == 403
    assert (
        gw.post("heping-committee", "/v1/subjects/lookup", {"id_number": someone}).status_code
        == 403
    )
    # Lookups are logged, without the ID number.
    log = gw.get(
        "district-auditor", "/v1/audit/entries", params={"event": "subject.lookup", "limit": 1000}
    ).text
    assert someone not in log and "subject.lookup" in log
