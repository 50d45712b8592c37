"""Files an auditor checks offline are read strictly: an object that names a key twice is
refused (Python keeps the last, a spreadsheet or another reader may keep the first), so a
line cannot say one thing to the checker and another to a person.
"""

from __future__ import annotations

import json

import pytest

from audit.canonical import DuplicateKey, loads_strict
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
