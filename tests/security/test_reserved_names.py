"""Names the gateway adds to a statement are not the app's to take, tried over HTTP.

The attack: an exact aggregate whose alias is the name of the gateway's hidden
per-group person count (``cdg_persons``), so that the small-group check reads the
app's value instead of the real count, suppression is switched off, and the
real count leaks as an extra column. Two mechanisms stop it, each tested alone:

- reserved names: every name the gateway adds starts with ``cdg_`` or ``_``, and
  a filing that uses such a name (alias, select, group key, parameter; any case)
  is refused with 422 before anything is stored;
- release by position: the release code finds its own columns by their place in
  the planned statement, never by name, so even a name built to collide (or a
  reserved alias stored before the rule) cannot stand for the person count.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Gateway, assert_error, make_settings, open_gateway, store_snapshot
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

PURPOSE = "public-service.statistics"
K = 10
SMALL_GROUP = 4  # two residents: below K in every mode


def exact_policy(small_groups: str = "suppress") -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    rule = policy["purposes"][0]
    del rule["dp"]
    del rule["columns"]["value"]  # sensitive: only ever released through DP
    rule["min_group_size"] = K
    rule["small_groups"] = small_groups
    return policy


def source_rows() -> list[dict[str, Any]]:
    data = rows(people=120)
    # The small group: 2 residents with 6 rows each, so its row count (12) passes K and
    # only the person count (2) keeps it back: a row count taking that place would leak it.
    for n in range(2):
        data += [{"person": f"s{n}", "community": "heping", "age": 80, "grp": SMALL_GROUP,
                  "value": 1}] * 6
    for n in range(15):  # a group just above K
        data.append({"person": f"m{n}", "community": "heping", "age": 70, "grp": 5, "value": 1})
    return data


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def visits_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_url"))
    else:
        url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, source_rows())
    return url


@pytest.fixture
def gw(tmp_path: Path, store_url: str | None) -> Iterator[Gateway]:
    gateway = open_gateway(make_settings(tmp_path / "home", store_url))
    yield gateway
    gateway.client.close()
    gateway.ctx.close()


def register(gw: Gateway, source: str, policy: dict[str, Any]) -> str:
    r = gw.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": source})
    assert r.status_code == 201, r.text
    r = gw.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": policy})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def file(gw: Gateway, dataset: str, spec: dict[str, Any]) -> Any:
    body = {"dataset": dataset, "purpose": PURPOSE, "justification": "counts", "spec": spec}
    return gw.post("heping-committee", "/v1/query-requests", body)


COUNT_BY_GROUP = {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["grp"]}
RESERVED = {
    "the hidden person count as an alias": {
        "aggregates": [{"fn": "count", "as": "n"}, {"fn": "persons", "as": "cdg_persons"}],
        "group_by": ["grp"],
    },
    "the same in capitals": {
        "aggregates": [{"fn": "persons", "as": "CDG_Persons"}], "group_by": ["grp"],
    },
    "the released-row subject": {"aggregates": [{"fn": "count", "as": "cdg_subject"}]},
    "the DP statement's labels": {"aggregates": [{"fn": "count", "as": "cdg_m0"}]},
    "a leading underscore": {"aggregates": [{"fn": "count", "as": "_n"}]},
    "a reserved group key": {"aggregates": [{"fn": "count", "as": "n"}],
                             "group_by": ["cdg_persons"]},
    "a reserved select name": {"select": ["_rowid_"]},
    "a reserved parameter": {
        "aggregates": [{"fn": "count", "as": "n"}],
        "filters": [{"column": "age", "op": "<=", "value": {"param": "cdg_max"}}],
        "params": {"cdg_max": {"type": "integer"}},
    },
}


@pytest.mark.parametrize("spec", RESERVED.values(), ids=RESERVED.keys())
def test_reserved_names_are_refused_at_filing(
    gw: Gateway, visits_url: str, spec: dict[str, Any]
) -> None:
    # Mechanism: QuerySpec reserves the prefixes of every name the gateway adds.
    dataset = register(gw, visits_url, exact_policy())
    before = store_snapshot(gw)
    body = assert_error(file(gw, dataset, spec), 422, echoed=("cdg_persons", "cdg_max", "_rowid_"))
    assert "reserved for the gateway" in body["detail"]
    assert store_snapshot(gw) == before  # nothing filed


def _persons_per_group(url: str) -> dict[int, int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = conn.execute(sa.text(
            "SELECT grp, COUNT(DISTINCT person) FROM visits WHERE community = 'heping' "
            "GROUP BY grp"
        )).all()
    engine.dispose()
    return {int(g): int(n) for g, n in found}


COLLIDING = {
    # The alias is the privacy unit's own column, which the person count is computed from.
    "alias = privacy-unit column": {
        "aggregates": [{"fn": "count", "as": "person"}, {"fn": "persons", "as": "n"}],
        "group_by": ["grp"],
    },
    # An alias naming a dataset column, ordered by: the ORDER BY must not pick the column.
    "alias = another column": {
        "aggregates": [{"fn": "persons", "as": "age"}, {"fn": "count", "as": "community"}],
        "group_by": ["grp"],
        "order_by": [{"column": "age"}],
    },
}


@pytest.mark.parametrize("small_groups", ["suppress", "merge"])
@pytest.mark.parametrize("spec", COLLIDING.values(), ids=COLLIDING.keys())
def test_names_built_to_collide_cannot_switch_suppression_off(
    gw: Gateway, visits_url: str, spec: dict[str, Any], small_groups: str
) -> None:
    # Mechanism: release_aggregates takes the person count from its planned position
    # (last), never by name; the aliases are only labels of the app's own columns.
    dataset = register(gw, visits_url, exact_policy(small_groups))
    truth = _persons_per_group(visits_url)
    assert truth[SMALL_GROUP] == 2 < K
    qid = gw.approved_query("heping-committee", dataset, PURPOSE, spec)
    out = gw.run("heping-committee", qid)
    assert out.status_code == 200, out.text
    body = out.json()
    names = [a["as"] for a in spec["aggregates"]]
    assert body["columns"] == ["grp", *names]  # no hidden column leaks as an extra value
    assert "suppressed_groups" not in body
    released = {row[0] for row in body["rows"]}
    assert SMALL_GROUP not in released
    persons = names.index(next(a["as"] for a in spec["aggregates"] if a["fn"] == "persons"))
    for row in body["rows"]:
        if row[0] != "other":
            assert row[1 + persons] == truth[row[0]] >= K
        else:  # merged small groups: shown only when together they reach K
            assert row[1 + persons] >= K


def test_a_reserved_alias_stored_before_the_rule_is_harmless(
    gw: Gateway, visits_url: str
) -> None:
    # Mechanism: release by position. A query filed before the rule existed is still
    # loaded to run; its reserved alias is one of its own columns, never the count.
    dataset = register(gw, visits_url, exact_policy())
    qid = gw.approved_query("heping-committee", dataset, PURPOSE, {
        "aggregates": [{"fn": "count", "as": "n"}, {"fn": "persons", "as": "p"}],
        "group_by": ["grp"],
    })
    stored = {
        "aggregates": [{"fn": "count", "as": "n"}, {"fn": "count", "as": "cdg_persons"}],
        "group_by": ["grp"],
    }
    with gw.ctx.store.transaction() as session:
        session.execute(
            sa.text("UPDATE query_requests SET spec = :spec WHERE id = :id"),
            {"spec": json.dumps(stored), "id": qid},
        )
    body = gw.run("heping-committee", qid).json()
    assert body["columns"] == ["grp", "n", "cdg_persons"]
    assert SMALL_GROUP not in {row[0] for row in body["rows"]}
    assert "suppressed_groups" not in body
