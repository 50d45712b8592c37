"""The offline kit checks every field of an export line against the signed entry in it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli.app import cli
from tests.gateway.auditlog.test_auditlog_derived import Log, log, run_entry
from tests.gateway.auditlog.test_auditlog_tamper import tamper

__all__ = ["log"]  # the fixture, shared with test_auditlog_derived


def offline(tmp_path: Path, log: Log, text: str, name: str) -> dict[str, Any]:
    keys = tmp_path / "keys.txt"
    keys.write_text(log.gw.client.get("/.well-known/cdg-audit-keys").text, encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    nohome = tmp_path / "nohome"
    nohome.mkdir(exist_ok=True)
    result = CliRunner().invoke(
        cli,
        ["audit", "verify", "--export", str(path), "--keys", str(keys), "--json"],
        env={"CDG_HOME": str(nohome)},
    )
    assert result.exit_code in (0, 1), result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


FIELDS = {
    "principal": "guangming-eldercare",
    "event": "request.filed",
    "dataset": "ds_other",
    "decision": "denied",
    "recorded_at": "2020-01-01T00:00:00+00:00",
}


@pytest.mark.parametrize("field", list(FIELDS))
def test_an_edited_outer_field_of_a_jsonl_line_is_found(
    log: Log, tmp_path: Path, field: str
) -> None:
    text = log.gw.get("district-auditor", "/v1/audit/export").text
    assert offline(tmp_path, log, text, "ok.jsonl")["intact"]
    at = run_entry(log.engine)
    lines = text.splitlines()
    number = next(n for n, line in enumerate(lines) if json.loads(line).get("index") == at)
    record = json.loads(lines[number])
    record[field] = FIELDS[field]
    lines[number] = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    out = offline(tmp_path, log, "\n".join(lines) + "\n", "edited.jsonl")
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out
    assert f"line {number + 1}" in out["message"] and field in out["message"]


@pytest.mark.parametrize("field", ["principal", "recorded_at", "dataset"])
def test_an_edited_outer_field_of_a_csv_row_is_found(log: Log, tmp_path: Path, field: str) -> None:
    text = log.gw.get("district-auditor", "/v1/audit/export", params={"format": "csv"}).text
    assert offline(tmp_path, log, text, "ok.csv")["intact"]
    at = run_entry(log.engine)
    rows = list(csv.DictReader(io.StringIO(text)))
    for r in rows:
        if r["type"] == "entry" and int(r["index"]) == at:
            r[field] = FIELDS[field]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    out = offline(tmp_path, log, buffer.getvalue(), "edited.csv")
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out
    assert field in out["message"]


def test_a_store_column_carried_into_an_export_is_found_offline(log: Log, tmp_path: Path) -> None:
    at = run_entry(log.engine)
    tamper(
        log.engine,
        "UPDATE audit_entries SET principal = 'guangming-eldercare' WHERE \"index\" = :i",
        i=at,
    )
    text = log.gw.get("district-auditor", "/v1/audit/export").text
    out = offline(tmp_path, log, text, "store.jsonl")
    assert (out["problem"], out["first_bad_index"]) == ("changed_column", at), out


def test_a_filtered_export_counts_no_unsigned_entries(log: Log, tmp_path: Path) -> None:
    text = log.gw.get("district-auditor", "/v1/audit/export", params={"event": "query.run"}).text
    out = offline(tmp_path, log, text, "filtered.jsonl")
    assert out["intact"] and out["unsigned_entries"] == 0, out
