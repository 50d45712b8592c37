"""The `cdg` command line, in-process through typer's runner, on a temporary CDG_HOME."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.api.app import create_app
from gateway.cli.app import cli
from gateway.demo.catalog import DATASETS
from gateway.settings import load_settings

runner = CliRunner()


def cdg(home: Path, *args: str) -> Any:
    return runner.invoke(cli, list(args), env={"CDG_HOME": str(home)}, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    home = tmp_path_factory.mktemp("demo") / "home"
    result = cdg(home, "demo", "--no-serve", "--json", "--residents", "400")
    assert result.exit_code == 0, result.output
    return home, json.loads(result.stdout)


def test_demo_summary_has_the_documented_shape(demo_home: tuple[Path, dict[str, Any]]) -> None:
    home, summary = demo_home
    assert summary["base_url"] == "http://127.0.0.1:8000"
    assert Path(summary["home"]) == home.resolve()
    kinds = [p["kind"] for p in summary["principals"]]
    assert (
        kinds.count("department") >= 2 and kinds.count("app") == 3 and kinds.count("auditor") == 1
    )
    assert {d["name"] for d in summary["datasets"]} == {d["name"] for d in DATASETS}
    apps = {p["name"] for p in summary["principals"] if p["kind"] == "app"}
    for app in apps:
        mine = {q["kind"] for q in summary["approved_queries"] if q["app"] == app}
        assert mine == {"rows", "aggregate"}
    assert (home / "demo.json").stat().st_mode & 0o077 == 0


def test_demo_twice_is_safe_and_every_approved_query_runs(
    demo_home: tuple[Path, dict[str, Any]],
) -> None:
    home, first = demo_home
    again = cdg(home, "demo", "--no-serve", "--json", "--residents", "400")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second == first  # same keys, datasets and queries: nothing duplicated
    keys = {p["name"]: p["api_key"] for p in second["principals"]}
    with TestClient(create_app(load_settings(environ={}, home=home))) as client:
        for query in second["approved_queries"]:
            r = client.post(
                f"/v1/queries/{query['id']}/run",
                json={"params": query["params"]},
                headers={"Authorization": f"Bearer {keys[query['app']]}"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["kind"] == query["kind"]
        listed = client.get(
            "/v1/query-requests", headers={"Authorization": f"Bearer {keys['district-auditor']}"}
        )
        assert len(listed.json()) == len(second["approved_queries"])


def test_audit_verify_passes_then_locates_tampering(
    demo_home: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    ok = cdg(demo_home[0], "audit", "verify")
    assert ok.exit_code == 0 and "intact" in ok.stdout
    # Tamper with a copy: the gateway refuses to build on a log it did not write, and the
    # module's other tests share the demo home.
    home = tmp_path / "home"
    shutil.copytree(demo_home[0], home)
    db = sqlite3.connect(home / "gateway.db")
    # An operator with file access can drop the guard; the hashes still reveal the edit.
    db.execute("DROP TRIGGER audit_entries_no_update")
    db.execute(
        'UPDATE audit_entries SET entry = replace(entry, \'"event":"\', \'"event":"x\') '
        'WHERE "index" = 3'
    )
    db.commit()
    db.close()
    bad = runner.invoke(cli, ["audit", "verify"], env={"CDG_HOME": str(home)})
    assert bad.exit_code == 1
    assert "entry 3" in bad.output


def test_principal_add_list_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cdg(home, "init").exit_code == 0  # only init and demo create a home
    added = cdg(
        home,
        "principal",
        "add",
        "youyi-app",
        "--kind",
        "app",
        "--domain",
        "youyi",
        "--role",
        "elder-care",
        "--json",
    )
    assert added.exit_code == 0, added.output
    key = json.loads(added.stdout)["api_key"]
    listed = json.loads(cdg(home, "principal", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["youyi-app"]
    assert key not in cdg(home, "principal", "list", "--json").stdout
    with TestClient(create_app(load_settings(environ={}, home=home))) as client:
        auth = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/principals/me", headers=auth).json()["domain"] == "youyi"
        assert cdg(home, "principal", "revoke", "youyi-app").exit_code == 0
        assert client.get("/v1/principals/me", headers=auth).status_code == 401
    duplicate = runner.invoke(
        cli,
        ["principal", "add", "youyi-app", "--kind", "app", "--domain", "youyi", "--role", "r1"],
        env={"CDG_HOME": str(home)},
    )
    assert duplicate.exit_code == 1


def test_policy_check_accepts_the_demo_policies_and_rejects_broken_ones(tmp_path: Path) -> None:
    good = tmp_path / "residents.yaml"
    good.write_text(yaml.safe_dump(DATASETS[0], allow_unicode=True), encoding="utf-8")
    assert cdg(tmp_path, "policy", "check", str(good)).exit_code == 0
    broken_doc = json.loads(json.dumps(DATASETS[0]["policy"]))
    broken_doc["purposes"][0]["columns"]["name"]["treatment"] = "reveal"
    del broken_doc["purposes"][1]["legal_basis"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(broken_doc, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(
        cli, ["policy", "check", str(good), str(broken)], env={"CDG_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "purposes.0.columns.name.treatment" in result.output
    assert "purposes.1.legal_basis" in result.output


def test_dataset_register_and_list(demo_home: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    home, _ = demo_home
    spec = json.loads(json.dumps(DATASETS[0]))
    spec["name"] = "residents-copy"
    spec["columns"] = [c for c in spec["columns"] if c["name"] != "address"]
    path = tmp_path / "ds.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    wrong_owner = runner.invoke(
        cli,
        ["dataset", "register", str(path), "--department", "health-commission"],
        env={"CDG_HOME": str(home)},
    )
    assert wrong_owner.exit_code == 1  # the source belongs to civil affairs
    done = cdg(home, "dataset", "register", str(path), "--department", "civil-affairs", "--json")
    assert done.exit_code == 0, done.output
    names = [d["name"] for d in json.loads(cdg(home, "dataset", "list", "--json").stdout)]
    assert "residents-copy" in names


def test_pii_scan_reads_and_writes_json_lines(tmp_path: Path) -> None:
    lines = (
        '{"id": "a", "text": "张伟的手机号是13812345678，身份证11010519491231002X"}\n'
        '{"id": "b", "text": "订单号110105194912310021已发货"}\n'
        "not json\n"
    )
    result = runner.invoke(cli, ["pii", "scan"], input=lines, env={"CDG_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert {f["entity"] for f in out[0]["findings"]} == {"PERSON", "CN_MOBILE", "CN_RESIDENT_ID"}
    assert out[1] == {"id": "b", "findings": []}  # fails the ID checksum: not an ID
    assert "error" in out[2] and "not json" not in result.stdout
