"""Recomputing suppressed cells: an app that gets the groups of an exact aggregate and, from
another approved query, its total (or the margins of a two-key table) subtracts the
visible cells and reads the hidden one.

Mechanism that stops it: secondary (complementary) suppression. After the groups under
the threshold are hidden, further groups are hidden until no hidden group is fixed by
the table's line totals (a one-key table's total; a two-key table's row and column
margins), audited exactly; see docs/privacy-model.md. The test checks the released
tables against the true ones from the source with an independent rank computation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.community import Community
from tests.attacks.privacy_world import (
    HEPING,
    PLANNING,
    SOURCES,
    make_source,
    planning_rule,
    register,
    residents_document,
    truth,
)
from tests.conftest import Gateway
from tests.sdc import recoverable


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, small_community: Community, tmp_path: Path) -> str:
    return make_source(request, small_community, tmp_path)


def threshold_with_one_small_group(url: str) -> int:
    """A threshold under which exactly one building of heping is small."""
    counts = sorted(
        n
        for _, n in truth(
            url,
            "SELECT building, COUNT(*) FROM residents WHERE community = 'heping' GROUP BY building",
        )
    )
    assert counts[0] < counts[1], "the demo data should have one smallest building"
    return int(counts[0]) + 1


def world(gateway: Gateway, url: str, k: int) -> str:
    rules = residents_document()["policy"]["purposes"]
    r = register(gateway, url, [rules[0], planning_rule(min_group_size=k)])
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def run(gateway: Gateway, dataset: str, spec: dict[str, Any]) -> Any:
    qid = gateway.approved_query(HEPING, dataset, PLANNING, spec)
    r = gateway.run(HEPING, qid)
    assert r.status_code == 200, r.text
    return r.json()


def test_one_hidden_building_is_not_total_minus_the_others(gateway: Gateway, source: str) -> None:
    k = threshold_with_one_small_group(source)
    dataset = world(gateway, source, k)
    groups = run(
        gateway, dataset, {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["building"]}
    )
    total = run(gateway, dataset, {"aggregates": [{"fn": "count", "as": "n"}]})
    true = dict(
        truth(
            source,
            "SELECT building, COUNT(*) FROM residents WHERE community = 'heping' GROUP BY building",
        )
    )
    shown = {row[0]: row[1] for row in groups["rows"]}
    hidden = set(true) - set(shown)
    # The attack: total minus every visible building.
    recovered = total["rows"][0][0] - sum(shown.values())
    assert len(hidden) >= 2  # one primary cell, at least one complement
    assert all(recovered != true[b] for b in hidden if true[b] < k)
    assert all(shown[b] == true[b] for b in shown)  # the visible cells are exact
    # Nor is the number of hidden groups told, in the answer or in the receipt's entry:
    # it would tell an empty group from one holding 1 to k-1 persons.
    assert "suppressed_groups" not in groups
    assert "suppressed" not in groups["receipt"]["entry"].replace("suppressed_cells", "")


def test_two_key_tables_keep_hidden_cells_hidden_from_their_margins(
    gateway: Gateway, source: str
) -> None:
    k = threshold_with_one_small_group(source)
    dataset = world(gateway, source, k)
    body = run(
        gateway,
        dataset,
        {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["building", "gender"]},
    )
    true = {
        (b, g): n
        for b, g, n in truth(
            source,
            "SELECT building, gender, COUNT(*) FROM residents "
            "WHERE community = 'heping' GROUP BY building, gender",
        )
    }
    shown = {(row[0], row[1]) for row in body["rows"]}
    keys = sorted(true)
    hidden = {i for i, key in enumerate(keys) if key not in shown}
    assert {i for i, key in enumerate(keys) if true[key] < k} <= hidden
    # Every row (building) and column (gender) margin may be released by another query.
    assert recoverable(keys, hidden) == set() or hidden == set(range(len(keys)))
    per_building = Counter(keys[i][0] for i in hidden)
    assert 1 not in {
        n for b, n in per_building.items() if sum(1 for key in keys if key[0] == b) >= 2
    }


def test_merged_small_groups_never_show_a_single_group(gateway: Gateway, source: str) -> None:
    k = threshold_with_one_small_group(source)
    rules = residents_document()["policy"]["purposes"]
    r = register(gateway, source, [rules[0], planning_rule(min_group_size=k, small_groups="merge")])
    dataset = r.json()["id"]
    body = run(
        gateway, dataset, {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["building"]}
    )
    true = dict(
        truth(
            source,
            "SELECT building, COUNT(*) FROM residents WHERE community = 'heping' GROUP BY building",
        )
    )
    other = [row for row in body["rows"] if row[0] == "other"]
    smallest = min(true.values())
    # The "other" row sums at least two groups: it is never the small group by itself.
    assert len(set(true) - {row[0] for row in body["rows"]}) >= 2
    assert not other or other[0][1] != smallest
