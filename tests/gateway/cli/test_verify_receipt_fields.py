"""``cdg audit verify-receipt`` compares every field a run response shares with its entry.

Real runs over HTTP give real responses with their receipts; each is checked offline by
the CLI (an empty home, the published keys only) as received, then with one field altered:
the command must fail, naming the field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write
from tests.gateway.runs.test_declared_types import POLICY as TYPED_POLICY
from tests.gateway.runs.test_declared_types import ROWS, make_source, register

HEPING = "heping-committee"


def verify(tmp_path: Path, gateway: Gateway, response: dict[str, Any]) -> tuple[int, str]:
    home = tmp_path / "nohome"
    home.mkdir(exist_ok=True)
    keys = tmp_path / "keys.txt"
    keys.write_text(gateway.client.get("/.well-known/cdg-audit-keys").text)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(response, ensure_ascii=False))
    result = CliRunner().invoke(
        cli,
        ["audit", "verify-receipt", str(path), "--keys", str(keys)],
        env={"CDG_HOME": str(home)},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def altered(response: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``response`` with the field at ``path`` (dotted) set to ``value`` (None: removed)."""
    changed = copy.deepcopy(response)
    *parents, name = path.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    if value is None:
        del target[name]
    else:
        target[name] = value
    return changed


def refused_naming(tmp_path: Path, gateway: Gateway, response: dict[str, Any], field: str) -> None:
    code, out = verify(tmp_path, gateway, response)
    assert code == 1, (field, out)
    assert field in out and "differ" in out and "receipt verified" not in out, (field, out)


def test_row_release_fields(gateway: Gateway, tmp_path: Path, small_community: Community) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    dataset = gateway.register_demo_dataset("residents", source)
    qid = gateway.approved_query(
        HEPING, dataset, "public-service.elderly-care.home-visit", {"select": ["age"], "limit": 3}
    )
    response = gateway.run(HEPING, qid).json()
    entry = json.loads(response["receipt"]["entry"])
    assert response["truncated"] is True and entry["truncated"] is True
    assert entry["withheld_values"] == 0 and entry["suppressed_cells"] == 0
    code, out = verify(tmp_path, gateway, response)
    assert code == 0 and "rows match" in out, out
    count = response["row_count"]
    for field, value in [
        ("row_count", float(count)),  # 3.0 == 3 in Python: refused all the same
        ("row_count", True if count == 1 else count + 1),
        ("row_count", str(count)),
        ("truncated", False),
        ("truncated", 1),
        ("suppressed_cells", 1),
        ("suppressed_cells", 0.0),
        ("withheld_values", 2),
        ("kind", "aggregate"),
        ("purpose", "public-service.community-planning"),
        ("policy_version", "0" * 64),
        ("query_id", "qr_00000000000000000000"),
        ("treatments", {"age": "drop"}),
        ("dp", {"epsilon": 0.0, "cached": False}),
    ]:
        refused_naming(tmp_path, gateway, altered(response, field, value), field)

    # A tampered answer cannot pass for "the receipt only" by dropping its rows or columns,
    # nor carry fields the check does not know.
    tampered = altered(altered(response, "row_count", 99), "query_id", "qr_other")
    for dropped in ("columns", "rows"):
        code, out = verify(tmp_path, gateway, altered(tampered, dropped, None))
        assert code == 1 and f"without its {dropped}" in out, out
        assert "receipt verified" not in out
    code, out = verify(tmp_path, gateway, {**response, "Columns": response["columns"]})
    assert code == 1 and "does not have: Columns" in out, out
    code, out = verify(tmp_path, gateway, {**response["receipt"], "rows": response["rows"]})
    assert code == 1 and "a receipt does not have: rows" in out, out
    # The receipt alone still verifies (its rows unchecked); its recorded_at is compared.
    code, out = verify(tmp_path, gateway, response["receipt"])
    assert code == 0 and "rows not checked" in out, out
    moved = altered(response, "receipt.recorded_at", "2020-01-01T00:00:00Z")
    code, out = verify(tmp_path, gateway, moved)
    assert code == 1 and "recorded_at differs" in out, out


def test_withheld_values_are_compared(gateway: Gateway, tmp_path: Path) -> None:
    dataset = register(gateway, make_source(tmp_path), TYPED_POLICY)
    qid = gateway.approved_query(HEPING, dataset, ROWS, {"select": ["tag", "visits"], "limit": 100})
    response = gateway.run(HEPING, qid).json()
    assert response["withheld_values"] == 4  # 'yes', 3.5, 'seven' and 1e23
    assert verify(tmp_path, gateway, response)[0] == 0
    for value in (0, 3.0, None):
        refused_naming(
            tmp_path, gateway, altered(response, "withheld_values", value), "withheld_values"
        )


@pytest.fixture
def dp_query(gateway: Gateway, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=200))
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": url}).status_code
        == 201
    )
    created = gateway.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": POLICY})
    assert created.status_code == 201, created.text
    spec = {"aggregates": [{"fn": "sum", "column": "value", "as": "total"}], "group_by": ["grp"]}
    return gateway.approved_query(
        HEPING, str(created.json()["id"]), "public-service.statistics", spec
    )


def test_dp_release_fields(gateway: Gateway, tmp_path: Path, dp_query: str) -> None:
    first = gateway.run(HEPING, dp_query).json()
    again = gateway.run(HEPING, dp_query).json()  # answered from the stored release
    assert first["dp"]["cached"] is False and first["dp"]["epsilon"] > 0
    assert again["dp"]["cached"] is True and again["dp"]["epsilon"] == 0
    for response in (first, again):
        code, out = verify(tmp_path, gateway, response)
        assert code == 0 and "rows match" in out, out
        epsilon = response["dp"]["epsilon"]
        for field, value in [
            ("dp.epsilon", epsilon + 0.5),
            ("dp.epsilon", epsilon + 0.0000001),  # the entry records six places: exact
            ("dp.epsilon", str(epsilon)),
            ("dp.cached", not response["dp"]["cached"]),
            ("dp.cached", int(response["dp"]["cached"])),
            ("dp.cached", None),
        ]:
            refused_naming(tmp_path, gateway, altered(response, field, value), field)
        # A DP answer passed off as an exact one.
        refused_naming(tmp_path, gateway, altered(response, "dp", None), "dp")
        refused_naming(
            tmp_path, gateway, altered(response, "withheld_values", 1), "withheld_values"
        )
        refused_naming(
            tmp_path, gateway, altered(response, "suppressed_cells", 1), "suppressed_cells"
        )
        refused_naming(
            tmp_path, gateway, altered(response, "dp.window_start", "2025-01-01"), "dp.window_start"
        )
        # dp may hold only what a run's dp holds: an added claim is not left unverified.
        code, out = verify(tmp_path, gateway, altered(response, "dp.exact", True))
        assert code == 1 and "dp does not have: exact" in out, out


def test_receipt_numbers_and_times_are_what_was_written(
    gateway: Gateway, tmp_path: Path, small_community: Community
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    dataset = gateway.register_demo_dataset("residents", source)
    qid = gateway.approved_query(
        HEPING, dataset, "public-service.elderly-care.home-visit", {"select": ["age"], "limit": 3}
    )
    response = gateway.run(HEPING, qid).json()
    index = response["receipt"]["entry_index"]
    for value in (str(index), float(index)):
        code, out = verify(tmp_path, gateway, altered(response, "receipt.entry_index", value))
        assert code == 1 and "not a receipt" in out, out
    when = response["receipt"]["recorded_at"]
    for value in (when + "\u0000junk", None):
        moved = copy.deepcopy(response)
        moved["receipt"]["recorded_at"] = value
        code, out = verify(tmp_path, gateway, moved)
        assert code == 1 and "recorded_at differs" in out, out
    # A field name quoted in an error reaches the terminal with its control characters escaped.
    forged = {**response, "x\u001b[2K\u001b[1Areceipt verified\u202e": 1}
    code, out = verify(tmp_path, gateway, forged)
    assert code == 1 and "\x1b" not in out and "\u202e" not in out, out
    assert "x\\x1b[2K\\x1b[1Areceipt verified\\u202e" in out, out
