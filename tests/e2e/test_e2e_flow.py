"""register, request, approve, run, audit entry: on SQLite, PostgreSQL and MariaDB sources."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.conftest import Gateway

HOME_VISIT = {
    "select": ["resident_id", "name", "mobile", "age", "community", "building", "room"],
    "filters": [
        {"column": "lives_alone", "op": "=", "value": 1},
        {"column": "age", "op": ">=", "value": {"param": "min_age"}},
    ],
    "order_by": [{"column": "age", "desc": True}],
    "params": {"min_age": {"type": "integer", "default": 80}},
}


def expected_rows(url: str, community: str, min_age: int) -> list[tuple[str, str, str, int]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT resident_id, name, mobile, age FROM residents "
                "WHERE community = :c AND age >= :a AND age >= 70 AND lives_alone = 1"
            ),
            {"c": community, "a": min_age},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_full_flow(gateway: Gateway, source_url: str) -> None:
    dataset = gateway.register_demo_dataset("residents", source_url)

    # The app sees the dataset in its catalog, with what each purpose offers.
    catalog = gateway.get("heping-committee", "/v1/datasets").json()
    entry = next(d for d in catalog if d["id"] == dataset)
    offered = {p["purpose"]: p for p in entry["purposes"]}
    assert offered["public-service.elderly-care.home-visit"]["columns"]["name"] == "mask"
    assert entry["policy"] is None  # only the owner sees the document

    filed = gateway.post(
        "heping-committee",
        "/v1/query-requests",
        {
            "dataset": dataset,
            "purpose": "public-service.elderly-care.home-visit",
            "justification": "monthly visits",
            "spec": HOME_VISIT,
        },
    )
    assert filed.status_code == 201, filed.text
    qid = filed.json()["id"]
    assert filed.json()["status"] == "pending"
    assert gateway.run("heping-committee", qid).status_code == 403  # not yet approved

    pending = gateway.get(
        "civil-affairs", "/v1/query-requests", params={"status": "pending"}
    ).json()
    assert [p["id"] for p in pending] == [qid]
    approved = gateway.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {"max_runs": 5})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    result = gateway.run("heping-committee", qid, {"min_age": 85})
    assert result.status_code == 200, result.text
    body = result.json()
    truth = expected_rows(source_url, "heping", 85)
    assert body["row_count"] == len(truth) > 0
    assert body["columns"] == HOME_VISIT["select"]
    by_age = sorted(r[3] for r in truth)
    assert sorted(row[3] for row in body["rows"]) == by_age
    raw_ids = {t[0] for t in truth}
    raw_mobiles = {t[2] for t in truth}
    for rid, name, mobile, age, community, _building, _room in body["rows"]:
        assert community == "heping" and age >= 85
        assert rid.startswith("p1_") and rid not in raw_ids
        assert "****" in mobile and mobile not in raw_mobiles
        assert name.endswith("*")
    assert body["treatments"]["resident_id"] == "pseudonymise"

    # The same resident gets the same pseudonym on the next run (joinable for this app).
    again = gateway.run("heping-committee", qid, {"min_age": 85}).json()
    assert sorted(r[0] for r in again["rows"]) == sorted(r[0] for r in body["rows"])

    # The receipt points at a committed entry that describes the release without raw data.
    index = body["receipt"]["entry_index"]
    entries = gateway.get(
        "district-auditor", "/v1/audit/entries", params={"after": index - 1, "limit": 1}
    ).json()
    assert entries[0]["index"] == index
    logged = entries[0]["entry"]
    assert logged["event"] == "query.run" and logged["outcome"] == "ok"
    assert logged["approved_query"] == qid and logged["row_count"] == len(truth)
    assert logged["decision"] == {"allowed": True, "reason_code": "granted"}
    text = json.dumps(entries[0], ensure_ascii=False)
    assert not any(raw in text for raw in raw_ids | raw_mobiles)


def test_aggregate_flow_suppresses_small_groups(gateway: Gateway, source_url: str) -> None:
    dataset = gateway.register_demo_dataset("residents", source_url)
    spec = {
        "aggregates": [
            {"fn": "count", "as": "n"},
            {"fn": "mean", "column": "age", "as": "mean_age"},
        ],
        "group_by": ["building"],
        "order_by": [{"column": "building"}],
    }
    qid = gateway.approved_query(
        "heping-committee", dataset, "public-service.community-planning", spec
    )
    body = gateway.run("heping-committee", qid).json()
    engine = sa.create_engine(source_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        truth = dict(
            conn.execute(
                sa.text(
                    "SELECT building, COUNT(*) FROM residents "
                    "WHERE community = 'heping' GROUP BY building"
                )
            ).all()
        )
    engine.dispose()
    released = {row[0]: row[1] for row in body["rows"]}
    assert released == {b: n for b, n in truth.items() if n >= 10}
    assert "suppressed_groups" not in body  # how many were withheld is not told either
    assert all(isinstance(row[2], float | int) for row in body["rows"])
