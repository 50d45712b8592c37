"""Every treatment applied to real result rows through the gateway, on three databases."""

from __future__ import annotations

import copy
import re
from typing import Any

import sqlalchemy as sa

from gateway.demo.catalog import DATASETS
from tests.conftest import Gateway

PURPOSE = "public-service.disability-support"
ALL_TREATMENTS: dict[str, Any] = {
    "purpose": PURPOSE,
    "legal_basis": "残疾人帮扶",
    "sensitive": True,
    "grantees": [{"role": "elder-care"}],
    "access": "rows",
    "columns": {
        "resident_id": {"treatment": "tokenise", "params": {"mode": "ff1", "format": "id_number"}},
        "mobile": {"treatment": "tokenise", "params": {"mode": "siv"}},
        "name": {"treatment": "mask", "params": {"kind": "name"}},
        "household_id": {"treatment": "pseudonymise"},
        "birth_date": {"treatment": "generalise", "params": {"kind": "date", "level": "year"}},
        "age": {"treatment": "generalise", "params": {"kind": "age_band", "width": 10}},
        "address": {"treatment": "generalise", "params": {"kind": "address", "level": "community"}},
        "room": {"treatment": "nullify"},
        "building": {"treatment": "redact", "params": {"constant": "*"}},
        "gender": {"treatment": "keep"},
        "disability_level": {"treatment": "generalise", "params": {"kind": "bucket", "width": 2}},
    },
    "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
    "sensitive_columns": {"disability_level": {"legal_basis": "残疾人帮扶需要残疾等级"}},
}
SELECT = [
    "resident_id",
    "mobile",
    "name",
    "household_id",
    "birth_date",
    "age",
    "address",
    "room",
    "building",
    "gender",
]
ID = re.compile(r"^\d{17}[\dX]$")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(value: str) -> bool:
    total = sum(int(d) * w for d, w in zip(value[:17], WEIGHTS, strict=True))
    return bool(ID.match(value)) and "10X98765432"[total % 11] == value[17]


def register(gateway: Gateway, source_url: str, rule: dict[str, Any]) -> str:
    spec = copy.deepcopy(DATASETS[0])
    spec["policy"]["purposes"].append(rule)
    spec["source"] = "src"
    assert (
        gateway.post("civil-affairs", "/v1/sources", {"name": "src", "url": source_url}).status_code
        == 201
    )
    r = gateway.post("civil-affairs", "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def truth(source_url: str) -> dict[str, tuple[Any, ...]]:
    engine = sa.create_engine(source_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT resident_id, mobile, birth_date, age FROM residents "
                "WHERE community = 'guangming'"
            )
        ).all()
    engine.dispose()
    return {str(r[0]): tuple(r) for r in rows}


def test_every_treatment_on_result_rows(gateway: Gateway, source_url: str) -> None:
    dataset = register(gateway, source_url, ALL_TREATMENTS)
    qid = gateway.approved_query(
        "guangming-eldercare",
        dataset,
        PURPOSE,
        {"select": SELECT, "order_by": [{"column": "gender"}]},
    )
    body = gateway.run("guangming-eldercare", qid).json()
    source = truth(source_url)
    assert body["row_count"] == len(source) > 0
    for rid, mobile, name, household, year, band, address, room, building, _ in body["rows"]:
        # FF1 keeps the shape, marked: birth month 00 and a wrong check character
        assert ID.match(rid) and rid[10:12] == "00" and not valid_id(rid) and rid not in source
        assert mobile.startswith("t1_") and mobile not in {t[1] for t in source.values()}
        assert name.endswith("*")
        assert household.startswith("p1_")
        assert re.fullmatch(r"\d{4}", year)
        assert re.fullmatch(r"\d+-\d+", band)
        assert address.endswith("光明社区***") or address.endswith("光明社区")
        assert room is None and building == "*"
    # The owning department can reverse a token; it is logged without the token.
    token = body["rows"][0][0]
    r = gateway.post(
        "civil-affairs",
        "/v1/tokens/reverse",
        {
            "dataset": dataset,
            "column": "resident_id",
            "recipient": "guangming-eldercare",
            "token": token,
            "justification": "核实上门服务对象",
        },
    )
    assert r.status_code == 200 and r.json()["value"] in source
    siv = body["rows"][0][1]
    back = gateway.post(
        "civil-affairs",
        "/v1/tokens/reverse",
        {
            "dataset": dataset,
            "column": "mobile",
            "recipient": "guangming-eldercare",
            "token": siv,
            "justification": "x",
        },
    )
    assert back.json()["value"] in {t[1] for t in source.values()}
    assert (
        gateway.post(
            "guangming-eldercare",
            "/v1/tokens/reverse",
            {
                "dataset": dataset,
                "column": "mobile",
                "recipient": "guangming-eldercare",
                "token": siv,
                "justification": "x",
            },
        ).status_code
        == 403
    )
    assert gateway.post(
        "health-commission",
        "/v1/tokens/reverse",
        {
            "dataset": dataset,
            "column": "mobile",
            "recipient": "guangming-eldercare",
            "token": siv,
            "justification": "x",
        },
    ).status_code in (403, 404)
    forged = siv[:-2] + ("AA" if not siv.endswith("AA") else "BB")
    assert (
        gateway.post(
            "civil-affairs",
            "/v1/tokens/reverse",
            {
                "dataset": dataset,
                "column": "mobile",
                "recipient": "guangming-eldercare",
                "token": forged,
                "justification": "x",
            },
        ).status_code
        == 422
    )
    log = gateway.get(
        "district-auditor", "/v1/audit/entries", params={"event": "token.reversed"}
    ).text
    assert token not in log and siv not in log and r.json()["value"] not in log
    # two reversals and the refused forgery
    assert log.count("token.reversed") == 3 and log.count("token_not_reversible") == 1


def test_k_anonymity_and_merged_small_groups(gateway: Gateway, source_url: str) -> None:
    rule = copy.deepcopy(ALL_TREATMENTS)
    rule["k_anonymity"] = 3
    rule["columns"]["building"] = {"treatment": "keep"}
    # Tokens, pseudonyms and masks tell persons apart: a k-anonymous purpose may not release them.
    for per_person in ("resident_id", "mobile", "name", "household_id"):
        del rule["columns"][per_person]
    dataset = register(gateway, source_url, rule)
    qid = gateway.approved_query(
        "guangming-eldercare",
        dataset,
        PURPOSE,
        {"select": ["gender", "age", "building", "disability_level"]},
    )
    body = gateway.run("guangming-eldercare", qid).json()
    classes: dict[tuple[Any, ...], int] = {}
    for row in body["rows"]:
        key = tuple(row[:3])  # gender, age band, building: the quasi-identifiers
        classes[key] = classes.get(key, 0) + 1
    small = {k: n for k, n in classes.items() if n < 3 and any(v is not None for v in k)}
    assert small == {} and body["suppressed_cells"] > 0

    planning = copy.deepcopy(DATASETS[0]["policy"]["purposes"][1])
    planning["small_groups"] = "merge"
    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][1] = planning
    policy["purposes"].append(rule)
    gateway.put("civil-affairs", f"/v1/datasets/{dataset}/policy", {"policy": policy})
    agg = gateway.approved_query(
        "heping-committee",
        dataset,
        "public-service.community-planning",
        {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["age"]},
    )
    out = gateway.run("heping-committee", agg).json()
    assert out["rows"][-1][0] == "other" and "suppressed_groups" not in out
    assert all(n >= 10 for _, n in out["rows"])


def test_free_text_pii_is_replaced_by_tags(gateway: Gateway, source_url: str) -> None:
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "complaints"))
    spec["source"] = "src"
    gateway.post("civil-affairs", "/v1/sources", {"name": "src", "url": source_url})
    r = gateway.post("civil-affairs", "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    dataset = r.json()["id"]
    text_finding = next(f for f in r.json()["pii_findings"] if f["column"] == "text")
    assert text_finding["severity"] == "info" and text_finding["entities"]
    qid = gateway.approved_query(
        "jianshe-property",
        dataset,
        "property.complaint-handling",
        {"select": ["complaint_id", "text"]},
    )
    body = gateway.run("jianshe-property", qid).json()
    engine = sa.create_engine(source_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        people = conn.execute(sa.text("SELECT resident_id, mobile, name FROM residents")).all()
    engine.dispose()
    secrets_ = {str(v) for row in people for v in (row[0], row[1])}
    texts = [row[1] for row in body["rows"]]
    assert texts and any("<" in t for t in texts)
    leaked = [t for t in texts for s in secrets_ if s in t]
    assert leaked == []
