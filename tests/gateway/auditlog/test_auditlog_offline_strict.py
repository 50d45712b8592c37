"""Files an auditor checks offline are read strictly: an object that names a key twice is
refused (Python keeps the last, a spreadsheet or another reader may keep the first), so a
line cannot say one thing to the checker and another to a person.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from audit.canonical import DuplicateKey, loads_strict
from gateway.auditlog.export import CSV_FIELDS, as_csv, read_export
from tests.gateway.auditlog.test_auditlog_offline import Kit, kit, offline, verify_file

__all__ = ["kit"]


def with_first(text: str, key: str, value: object) -> str:
    """``text`` (one JSON object) with ``key`` given once more, first, as ``value``."""
    return "{" + json.dumps(key) + ":" + json.dumps(value) + "," + text.strip()[1:]


def test_loads_strict_refuses_a_key_given_twice_at_any_depth() -> None:
    assert loads_strict('{"a": {"b": 1}, "c": [{"d": 2}]}') == {"a": {"b": 1}, "c": [{"d": 2}]}
    for text in ('{"a": 1, "a": 1}', '{"x": [{"b": 1, "b": 2}]}'):
        with pytest.raises(DuplicateKey):
            loads_strict(text)


def test_an_export_line_with_a_duplicate_key_is_a_located_malformed_line(kit: Kit) -> None:
    lines = [*kit.lines]
    real = json.loads(lines[4])["principal"]
    lines[4] = with_first(lines[4], "principal", "evil") + "\n"
    assert json.loads(lines[4])["principal"] == real  # what Python alone would keep
    code, out = offline(
        kit,
        "verify",
        "--json",
        "--export",
        str(kit.write("dup.jsonl", "".join(lines))),
        "--keys",
        str(kit.keys),
    )
    assert code != 0, out
    assert "line 5" in out and "twice" in out, out


def test_a_receipt_with_a_duplicate_key_is_refused(kit: Kit) -> None:
    response = kit.runs[-1]
    fake = [[0] * len(response["rows"][0])]
    text = with_first(json.dumps(response, ensure_ascii=False), "rows", fake)
    code, out = offline(
        kit, "verify-receipt", str(kit.write("dup.json", text)), "--keys", str(kit.keys)
    )
    assert code != 0 and "twice" in out, out
    assert verify_file(kit, kit.export)["intact"]  # the genuine export still verifies


def edited_jsonl(kit: Kit, at: int, **changes: object) -> dict[str, Any]:
    lines = [*kit.lines]
    lines[at] = json.dumps({**json.loads(lines[at]), **changes}) + "\n"
    return verify_file(kit, kit.write("edited.jsonl", "".join(lines)))


@pytest.mark.parametrize(
    ("at", "changes"),
    [
        (0, {"tree_size": 3}),
        (0, {"witnessed": True}),
        (-1, {"entries": 1}),
        (-1, {"witnessed": True}),
    ],
    ids=["checkpoint-size", "checkpoint-extra", "seal-entries", "seal-extra"],
)
def test_checkpoint_and_seal_lines_must_say_what_their_notes_sign(
    kit: Kit, at: int, changes: dict[str, object]
) -> None:
    report = edited_jsonl(kit, at, **changes)
    assert report["problem"] == "malformed_export", report
    assert "line" in report["message"] and next(iter(changes)) in report["message"], report


def test_a_record_of_another_type_between_the_entries_is_refused(kit: Kit) -> None:
    lines = [*kit.lines]
    lines.insert(3, json.dumps({"type": "note", "text": "all checked"}) + "\n")
    report = verify_file(kit, kit.write("inserted.jsonl", "".join(lines)))
    assert report["problem"] == "malformed_export" and "line 4" in report["message"], report


def csv_rows(kit: Kit) -> list[list[str]]:
    text = "".join(as_csv(read_export(kit.export.read_text(encoding="utf-8"))))
    return list(csv.reader(io.StringIO(text)))


def write_csv(kit: Kit, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return kit.write("edited.csv", buffer.getvalue())


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (1, "tree_size", "3"),
        (1, "principal", "all rows checked by the district"),
        (-1, "index", "1"),
        (-1, "decision", "intact"),
    ],
    ids=["checkpoint-size", "checkpoint-text", "seal-index", "seal-text"],
)
def test_csv_checkpoint_and_seal_rows_hold_nothing_beside_their_notes(
    kit: Kit, row: int, column: str, value: str
) -> None:
    rows = csv_rows(kit)
    assert verify_file(kit, write_csv(kit, rows))["intact"]
    rows[row][CSV_FIELDS.index(column)] = value
    report = verify_file(kit, write_csv(kit, rows))
    named = "entries" if (row, column) == (-1, "index") else column  # the seal's count
    assert report["problem"] == "malformed_export" and named in report["message"], report


def test_a_csv_header_naming_a_column_twice_is_refused(kit: Kit) -> None:
    rows = csv_rows(kit)
    rows[0][CSV_FIELDS.index("dataset")] = "principal"
    code, out = offline(
        kit, "verify", "--export", str(write_csv(kit, rows)), "--keys", str(kit.keys)
    )
    assert code != 0 and "header" in out, out
