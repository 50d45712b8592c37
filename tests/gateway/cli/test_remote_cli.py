"""Commands that act on a running gateway (`--url`, `--key`), against a live server."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from tests.gateway.client.live import LiveGateway
from tests.gateway.client.test_client import HOME_VISIT, HOME_VISIT_PURPOSE, residents_source

runner = CliRunner()


def cdg(live: LiveGateway, who: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(cli, [*args, "--url", live.url, "--key", live.keys[who]], env=env or {})


def ok_json(result: Any) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_department_app_and_auditor_jobs_from_the_command_line(
    live: LiveGateway, small_community: Community, tmp_path: Path
) -> None:
    # The department registers its database and a dataset, through the gateway.
    db = residents_source(small_community)
    added = ok_json(cdg(live, "civil-affairs", "source", "add", "residents-db", "--db-url", db,
                        "--json"))  # fmt: skip
    assert added["name"] == "residents-db" and "url" not in added
    listed = cdg(live, "civil-affairs", "source", "list")
    assert listed.exit_code == 0 and "residents-db" in listed.stdout
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    spec["source"] = "residents-db"
    dataset_file = write(tmp_path / "residents.yaml", spec)
    registered = ok_json(cdg(live, "civil-affairs", "dataset", "register", str(dataset_file),
                             "--json"))  # fmt: skip
    assert registered["name"] == "residents" and "policy" not in registered
    shown = cdg(live, "heping-committee", "dataset", "show", "residents")
    assert shown.exit_code == 0 and HOME_VISIT_PURPOSE in shown.stdout

    # The app files a request by dataset name; the department sees it pending and approves.
    spec_file = write(tmp_path / "spec.yaml", HOME_VISIT)
    filed = ok_json(cdg(live, "heping-committee", "request", "file", str(spec_file),
                        "--dataset", "residents", "--purpose", HOME_VISIT_PURPOSE,
                        "--justification", "monthly visits", "--json"))  # fmt: skip
    assert filed["status"] == "pending" and filed["dataset"] == registered["id"]
    pending = ok_json(cdg(live, "civil-affairs", "request", "list", "--status", "pending",
                          "--json"))  # fmt: skip
    assert [r["id"] for r in pending] == [filed["id"]]
    table = cdg(live, "civil-affairs", "request", "list")
    assert table.exit_code == 0 and filed["id"] in table.stdout and "pending" in table.stdout
    approved = ok_json(cdg(live, "civil-affairs", "request", "approve", filed["id"],
                           "--max-runs", "3", "--expires-at", "2999-01-01T00:00:00+08:00",
                           "--json"))  # fmt: skip
    assert approved["status"] == "approved" and approved["max_runs"] == 3

    # The app runs it and keeps the response; the receipt verifies offline.
    saved = tmp_path / "run.json"
    result = ok_json(cdg(live, "heping-committee", "query", "run", filed["id"],
                         "-p", "min_age=85", "--out", str(saved), "--json"))  # fmt: skip
    assert result["row_count"] > 0 and all(row[3] >= 85 for row in result["rows"])
    assert json.loads(saved.read_text(encoding="utf-8")) == result
    rows_table = cdg(live, "heping-committee", "query", "run", filed["id"], "-p", "min_age=90")
    assert rows_table.exit_code == 0 and "access-log entry" in rows_table.stdout
    keys = tmp_path / "keys.txt"
    with __import__("httpx").Client() as http:
        keys.write_text(http.get(f"{live.url}/.well-known/cdg-audit-keys").text, encoding="utf-8")
    receipt = runner.invoke(cli, ["audit", "verify-receipt", str(saved), "--keys", str(keys)])
    assert receipt.exit_code == 0, receipt.output
    assert "rows match" in receipt.stdout

    # The auditor exports what it may see, filtered, and verifies the file offline.
    export = tmp_path / "runs.jsonl"
    summary = ok_json(cdg(live, "district-auditor", "audit", "export", "--out", str(export),
                          "--event", "query.run", "--json"))  # fmt: skip
    assert summary["entries"] == 2
    records = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert {r["entry"] for r in records if r["type"] == "entry"} and all(
        json.loads(r["entry"])["event"] == "query.run" for r in records if r["type"] == "entry"
    )
    verified = runner.invoke(cli, ["audit", "verify", "--export", str(export), "--keys", str(keys)])
    assert verified.exit_code == 0, verified.output

    # The department replaces the policy, then revokes the query; the app can run it no more.
    replaced = ok_json(cdg(live, "civil-affairs", "policy", "replace", str(dataset_file),
                           "--dataset", "residents", "--json"))  # fmt: skip
    assert replaced["id"] == registered["id"]
    revoked = ok_json(cdg(live, "civil-affairs", "request", "revoke", filed["id"],
                          "--reason", "visits done", "--json"))  # fmt: skip
    assert revoked["status"] == "revoked"
    denied = cdg(live, "heping-committee", "query", "run", filed["id"])
    assert denied.exit_code == 1 and "403 Forbidden" in denied.stderr
    assert "request id" in denied.stderr


def test_reject_and_the_gateways_refusals(live: LiveGateway, tmp_path: Path) -> None:
    refused = cdg(live, "heping-committee", "request", "approve", "nope")
    assert refused.exit_code == 1
    assert "403 Forbidden (not_a_department)" in refused.stderr
    assert "request id" in refused.stderr
    as_json = cdg(live, "civil-affairs", "request", "reject", "nope", "--reason", "x", "--json")
    assert as_json.exit_code == 1
    error = json.loads(as_json.stderr)
    assert error["status"] == 404 and error["error"] == "NotFound" and error["request_id"]
    forbidden = cdg(live, "heping-committee", "source", "list")
    assert forbidden.exit_code == 1 and "403 Forbidden" in forbidden.stderr


def test_url_and_key_come_from_the_environment(live: LiveGateway) -> None:
    env = {"CDG_URL": live.url, "CDG_API_KEY": live.keys["civil-affairs"]}
    listed = runner.invoke(cli, ["request", "list", "--json"], env=env)
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    missing = runner.invoke(cli, ["request", "list"], env={"CDG_URL": live.url, "CDG_API_KEY": ""})
    assert missing.exit_code == 2 and "CDG_API_KEY" in missing.stderr


def test_tables_wrap_instead_of_cutting(live: LiveGateway, small_community: Community) -> None:
    db = residents_source(small_community)
    name = "a-source-with-a-rather-long-name-that-does-not-fit"
    assert cdg(live, "civil-affairs", "source", "add", name, "--db-url", db).exit_code == 0
    narrow = cdg(live, "civil-affairs", "source", "list", env={"COLUMNS": "40"})
    assert narrow.exit_code == 0 and "…" not in narrow.stdout
    # Folded across lines, every character is still there.
    letters = "".join(c for c in narrow.stdout if c.isalnum() or c == "-")
    assert name in letters
    wide = cdg(live, "civil-affairs", "source", "list", env={"COLUMNS": "200"})
    assert name in wide.stdout
    for width in ("40", "60", "90", "120"):
        shown = cdg(live, "civil-affairs", "source", "list", env={"COLUMNS": width})
        lines = [line for line in shown.stdout.splitlines() if line.strip()]
        # Every line ends with the table's right border: nothing was cropped.
        assert all(line[-1] in "┓┃┩│┘┐┤" for line in lines), shown.stdout
        assert all(len(line) <= int(width) for line in lines)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_urls_and_keys_are_clear_messages_that_echo_no_secret() -> None:
    port = _closed_port()
    down = runner.invoke(
        cli,
        ["principal", "me", "--url", f"http://user:PASSW0RD@127.0.0.1:{port}/", "--key", "cdg_x"],
    )
    assert down.exit_code == 1, down.output
    assert "PASSW0RD" not in down.output and "user:" not in down.output
    assert f"127.0.0.1:{port}" in down.output
    for url, key in (("http://[::1", "cdg_x"), ("ftp://127.0.0.1/", "cdg_x"),
                     ("http://127.0.0.1:1/", "cdg_üSECRET")):  # fmt: skip
        r = runner.invoke(cli, ["principal", "me", "--url", url, "--key", key])
        assert r.exit_code == 2, (url, r.output, r.exception)
        assert "Traceback" not in r.output and "SECRET" not in r.output
        assert isinstance(r.exception, SystemExit)
    status = runner.invoke(cli, ["status", "--url", "http://[::1", "--json"])
    assert status.exit_code == 2 and "InvalidArgument" in status.output
