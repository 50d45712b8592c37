"""Linkage across apps: two apps that receive tokens and pseudonyms for the same
residents pool their results and try to join them, over HTTP as apps would.

Mechanism that stops it: every token and pseudonym key is derived per
(owning department, recipient app, key version) with HKDF, so the two apps'
values for one resident are unrelated; the owning department reverses a
token by naming the app it came back from, which re-derives that app's key.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.demo.catalog import DATASETS
from tests.conftest import Gateway

PURPOSE = "public-service.elderly-care.home-visit"
APPS = ("heping-committee", "guangming-eldercare")
TOKENISED = {
    "resident_id": {"treatment": "tokenise", "params": {"mode": "ff1", "format": "id_number"}},
    "mobile": {"treatment": "tokenise", "params": {"mode": "siv"}},
    "household_id": {"treatment": "pseudonymise"},
}
RULE: dict[str, Any] = {
    "purpose": PURPOSE,
    "legal_basis": "独居老人探访",
    "grantees": [{"role": "neighbourhood-committee"}, {"role": "elder-care"}],
    "access": "rows",
    "columns": {**TOKENISED, "age": {"treatment": "keep"}},
    # One community for both apps: they receive the same residents (the oldest
    # few, so that the department can reverse every token in the test).
    "row_scope": [
        {"column": "community", "op": "=", "value": "guangming"},
        {"column": "age", "op": ">=", "value": 80},
    ],
}
SELECT = ["resident_id", "mobile", "household_id", "age"]


def register(gateway: Gateway, source_url: str) -> str:
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    spec["policy"]["purposes"] = [RULE]
    spec["source"] = "src"
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "src", "url": source_url})
    assert r.status_code == 201, r.text
    r = gateway.post("civil-affairs", "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def source_values(source_url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(source_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT resident_id, mobile FROM residents "
                "WHERE community = 'guangming' AND age >= 80"
            )
        ).all()
    engine.dispose()
    return {"resident_id": {str(r[0]) for r in rows}, "mobile": {str(r[1]) for r in rows}}


def reverse(gateway: Gateway, dataset: str, column: str, app: str, token: str) -> Any:
    return gateway.post(
        "civil-affairs",
        "/v1/tokens/reverse",
        {
            "dataset": dataset,
            "column": column,
            "recipient": app,
            "token": token,
            "justification": "核实上门服务对象",
        },
    )


@pytest.mark.parametrize("column", list(TOKENISED))
def test_two_apps_cannot_link_tokens_or_pseudonyms(
    gateway: Gateway, source_url: str, column: str
) -> None:
    dataset = register(gateway, source_url)
    results = {}
    for app in APPS:
        query = gateway.approved_query(app, dataset, PURPOSE, {"select": SELECT})
        r = gateway.run(app, query)
        assert r.status_code == 200, r.text
        results[app] = r.json()
    at = SELECT.index(column)
    first, second = ([row[at] for row in results[app]["rows"]] for app in APPS)
    # The same residents reached both apps ...
    truth = source_values(source_url)
    assert len(first) == len(second) == len(truth["resident_id"]) >= 5
    # ... and pooling their results links nobody: no value in common.
    assert None not in first and None not in second
    assert not set(first) & set(second)
    if column == "household_id":
        return  # pseudonyms are one-way: nothing to reverse
    # The owning department reverses every token of each app, naming the app:
    # both apps' tokens come back to the same real values.
    for app, tokens in zip(APPS, (first, second), strict=True):
        back = [reverse(gateway, dataset, column, app, token) for token in tokens]
        assert all(b.status_code == 200 for b in back), [b.text for b in back]
        assert {b.json()["value"] for b in back} == truth[column]
    # Naming the other app does not give the value back: an authenticated SIV
    # token is refused, an FF1 token decrypts to something else.
    wrong = reverse(gateway, dataset, column, APPS[1], first[0])
    if column == "mobile":
        assert wrong.status_code == 422
    else:
        assert wrong.status_code == 422 or wrong.json()["value"] not in truth[column]
