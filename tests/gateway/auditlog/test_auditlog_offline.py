"""The offline auditor kit: an export, a receipt or two checkpoints, the published keys, and
nothing else (no gateway home, no master key, no store).

Every check here runs with CDG_HOME pointing at an empty directory, and one runs the
installed ``cdg`` in a subprocess from an empty working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit import leaf_hash
from gateway.cli.app import cli
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Kit:
    gw: Gateway
    dir: Path  # where the auditor keeps files
    nohome: Path  # an empty CDG_HOME
    keys: Path
    export: Path
    lines: list[str]
    old_checkpoint: Path
    runs: list[dict[str, Any]]

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(params=STORES)
def kit(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[Kit]:
    store_url = str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    home = tmp_path / "home"
    settings = make_settings(home, store_url, checkpoint_every_entries=4)
    gw = open_gateway(settings)
    try:
        dataset = gw.register_demo_dataset("residents", source)
        qid = gw.approved_query(
            "heping-committee",
            dataset,
            "public-service.elderly-care.home-visit",
            {"select": ["age"], "limit": 3},
        )
        runs = [gw.run("heping-committee", qid).json() for _ in range(5)]
        auditor = tmp_path / "auditor"
        auditor.mkdir()
        old = gw.post("district-auditor", "/v1/audit/checkpoint").json()["note"]
        runs += [gw.run("heping-committee", qid).json() for _ in range(6)]
        env = {"CDG_HOME": str(home)}
        if store_url:
            env["CDG_DATABASE_URL"] = store_url
        export = auditor / "export.jsonl"
        result = CliRunner().invoke(cli, ["audit", "export", "--out", str(export)], env=env)
        assert result.exit_code == 0, result.output
        keys = auditor / "keys.txt"
        keys.write_text(gw.client.get("/.well-known/cdg-audit-keys").text)
        nohome = tmp_path / "nohome"
        nohome.mkdir()
        (auditor / "old.note").write_text(old)
        yield Kit(
            gw,
            auditor,
            nohome,
            keys,
            export,
            export.read_text().splitlines(keepends=True),
            auditor / "old.note",
            runs,
        )
    finally:
        gw.client.close()
        gw.ctx.close()


def offline(kit: Kit, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args], env={"CDG_HOME": str(kit.nohome)})
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.output
    assert list(kit.nohome.iterdir()) == []  # nothing was created in the "home"
    return result.exit_code, result.output


def verify_file(kit: Kit, path: Path, *extra: str) -> dict[str, Any]:
    code, out = offline(
        kit, "verify", "--json", "--export", str(path), "--keys", str(kit.keys), *extra
    )
    report: dict[str, Any] = json.loads(out)
    assert report["intact"] == (code == 0)
    return report


def test_the_installed_cli_verifies_an_export_in_an_empty_directory(kit: Kit) -> None:
    cdg = shutil.which("cdg", path=str(Path(sys.executable).parent))
    assert cdg is not None
    workdir = kit.dir / "empty"
    workdir.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "CDG_HOME": str(kit.nohome)}
    done = subprocess.run(
        [cdg, "audit", "verify", "--json", "--export", str(kit.export), "--keys", str(kit.keys)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["entries"] == len(kit.lines) - 2
    assert list(workdir.iterdir()) == [] and list(kit.nohome.iterdir()) == []


def test_an_intact_export_verifies_with_public_keys_only(kit: Kit) -> None:
    report = verify_file(kit, kit.export)
    assert report["intact"] and report["entries"] == len(kit.lines) - 2 > 10


def test_a_deleted_line_is_found_and_located(kit: Kit) -> None:
    victim = json.loads(kit.lines[5])
    report = verify_file(kit, kit.write("deleted.jsonl", "".join(kit.lines[:5] + kit.lines[6:])))
    assert report["problem"] == "missing_entry"
    assert report["first_bad_index"] == victim["index"]


def test_a_deleted_line_with_the_chain_recomputed_still_fails(kit: Kit) -> None:
    """An insider who rebuilds the unsigned export chain still cannot match the signed seal."""
    from gateway.auditlog.export import chain_next, chain_start

    records = [json.loads(line) for line in kit.lines]
    del records[5]
    chain = chain_start()
    for record in records[1:-1]:
        chain = chain_next(chain, record["index"], bytes.fromhex(record["leaf_hash"]))
        record["export_chain"] = chain.hex()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    report = verify_file(kit, kit.write("rebuilt.jsonl", text))
    assert not report["intact"] and report["problem"] == "missing_entry"


def test_an_edited_line_is_found_and_located(kit: Kit) -> None:
    record = json.loads(kit.lines[4])
    record["entry"] = record["entry"].replace("heping-committee", "jianshe-property")
    record["leaf_hash"] = leaf_hash(record["entry"].encode()).hex()  # made self-consistent
    lines = [*kit.lines]
    lines[4] = json.dumps(record, ensure_ascii=False) + "\n"
    report = verify_file(kit, kit.write("edited.jsonl", "".join(lines)))
    assert report["first_bad_index"] == record["index"]
    assert report["problem"] in ("not_in_log", "changed_entry")


def test_reordered_lines_are_found_and_located(kit: Kit) -> None:
    lines = [*kit.lines]
    lines[3], lines[4] = lines[4], lines[3]
    report = verify_file(kit, kit.write("swapped.jsonl", "".join(lines)))
    assert not report["intact"]
    assert report["first_bad_index"] == json.loads(kit.lines[3])["index"]


def test_a_cut_off_export_is_found(kit: Kit) -> None:
    report = verify_file(kit, kit.write("cut.jsonl", "".join(kit.lines[:-3])))
    assert report["problem"] == "truncated_export"


def test_since_checkpoint_is_checked_against_the_export(kit: Kit) -> None:
    saved = kit.old_checkpoint.read_text()
    assert verify_file(kit, kit.export, "--since-checkpoint", str(kit.old_checkpoint))["intact"]
    # Saved by an editor with an extra line at the end: still the same checkpoint.
    padded = kit.write("padded.note", saved + "\n\n")
    assert verify_file(kit, kit.export, "--since-checkpoint", str(padded))["intact"]
    lines = saved.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # a checkpoint the log never signed
    forged = kit.write("forged.note", "\n".join(lines))
    report = verify_file(kit, kit.export, "--since-checkpoint", str(forged))
    assert report["problem"] == "forged_checkpoint"
    code, out = offline(
        kit,
        "verify",
        "--export",
        str(kit.export),
        "--keys",
        str(kit.keys),
        "--since-checkpoint",
        str(kit.dir / "missing.note"),
    )
    assert code == 2 and "not intact" not in out  # a usage error: the file does not exist


def test_consistency_of_two_checkpoints_offline(kit: Kit) -> None:
    new_note = kit.gw.get("district-auditor", "/v1/audit/checkpoint").json()["note"]
    new = kit.write("new.note", new_note)
    old_size = int(kit.old_checkpoint.read_text().split("\n")[1])
    new_size = int(new_note.split("\n")[1])
    proof = kit.gw.get(
        "district-auditor",
        "/v1/audit/proofs/consistency",
        params={"old_size": old_size, "new_size": new_size},
    ).json()
    proof_file = kit.write("proof.json", json.dumps(proof))
    keys = ["--keys", str(kit.keys)]
    code, out = offline(
        kit, "consistency", str(kit.old_checkpoint), str(new), *keys, "--proof", str(proof_file)
    )
    assert code == 0 and "consistent" in out
    code, _ = offline(
        kit, "consistency", str(kit.old_checkpoint), str(new), *keys, "--export", str(kit.export)
    )
    assert code == 0
    bad = {**proof, "proof": list(reversed(proof["proof"]))}
    code, out = offline(
        kit,
        "consistency",
        str(kit.old_checkpoint),
        str(new),
        *keys,
        "--proof",
        str(kit.write("bad.json", json.dumps(bad))),
    )
    assert code == 1 and "NOT consistent" in out


def test_receipt_rows_are_checked_against_the_result_digest(kit: Kit) -> None:
    response = kit.runs[-1]
    assert response["rows"]
    good = kit.write("run.json", json.dumps(response, ensure_ascii=False))
    code, out = offline(kit, "verify-receipt", str(good), "--keys", str(kit.keys))
    assert code == 0 and "rows match" in out
    altered = {**response, "rows": [[*response["rows"][0][:-1], 999], *response["rows"][1:]]}
    bad = kit.write("altered.json", json.dumps(altered, ensure_ascii=False))
    code, out = offline(kit, "verify-receipt", str(bad), "--keys", str(kit.keys))
    assert code == 1 and "do not match" in out
    assert "receipt verified" not in out  # no mixed signal: changed rows verify nothing
    # What the response says beside its rows must be what the entry records, too.
    for field, value in [
        ("treatments", {**response["treatments"], "name": "keep"}),
        ("policy_version", "0" * 64),
        ("row_count", response["row_count"] + 1),
        ("query_id", "qr_00000000000000000000"),
    ]:
        edited = kit.write("edited.json", json.dumps({**response, field: value}))
        code, out = offline(kit, "verify-receipt", str(edited), "--keys", str(kit.keys))
        assert code == 1 and field in out and "differ" in out, (field, out)
    receipt_only = kit.write("receipt.json", json.dumps(response["receipt"]))
    code, out = offline(kit, "verify-receipt", str(receipt_only), "--keys", str(kit.keys))
    assert code == 0 and "not checked" in out


def test_dp_release_rows_are_checked_against_the_result_digest(
    gateway: Gateway, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=200))
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": url}).status_code
        == 201
    )
    created = gateway.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": POLICY})
    assert created.status_code == 201, created.text
    spec = {
        "aggregates": [
            {"fn": "count", "as": "n"},
            {"fn": "sum", "column": "value", "as": "total"},
            {"fn": "mean", "column": "value", "as": "average"},
        ],
        "group_by": ["grp"],
    }
    qid = gateway.approved_query(
        "heping-committee", str(created.json()["id"]), "public-service.statistics", spec
    )
    response = gateway.run("heping-committee", qid)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dp"] is not None and any(isinstance(v, float) for r in body["rows"] for v in r)
    nohome = tmp_path / "nohome"
    nohome.mkdir()
    keys = tmp_path / "keys.txt"
    keys.write_text(gateway.client.get("/.well-known/cdg-audit-keys").text)
    run = tmp_path / "dp.json"
    run.write_text(response.text)  # the bytes as received over HTTP
    env = {"CDG_HOME": str(nohome)}
    result = CliRunner().invoke(
        cli, ["audit", "verify-receipt", str(run), "--keys", str(keys)], env=env
    )
    assert result.exit_code == 0 and "rows match" in result.output, result.output
    body["rows"][0][-1] = body["rows"][0][-1] + 0.5
    run.write_text(json.dumps(body))
    result = CliRunner().invoke(
        cli, ["audit", "verify-receipt", str(run), "--keys", str(keys)], env=env
    )
    assert result.exit_code == 1 and "do not match" in result.output
