"""Source values JSON cannot hold (NaN, infinities) are released as null, and logged."""

from __future__ import annotations

import decimal
import json
import math
import sqlite3
from pathlib import Path

from audit.digest import result_digest
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.queries.release import _plain
from tests.conftest import Gateway, make_settings, open_gateway

HOME_VISIT = "public-service.elderly-care.home-visit"


def test_non_finite_numbers_become_null() -> None:
    for value in (math.nan, math.inf, -math.inf, decimal.Decimal("NaN"), decimal.Decimal("-Inf")):
        assert _plain(value) is None
    assert _plain(2.5) == 2.5 and _plain(decimal.Decimal("3")) == 3


def test_a_run_reading_an_infinite_value_answers_null_and_is_logged(
    small_community: Community, tmp_path: Path
) -> None:
    db = tmp_path / "source.db"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, f"sqlite:///{db}"))
    gw: Gateway = open_gateway(make_settings(tmp_path / "home"))
    try:
        dataset = gw.register_demo_dataset("residents", f"sqlite:///{db}")
        qid = gw.approved_query(
            "heping-committee", dataset, HOME_VISIT, {"select": ["age"], "limit": 500}
        )
        before = gw.run("heping-committee", qid).json()
        # After registration the department's table gains a value JSON has no form for
        # (SQLite keeps an overflowing REAL as infinity in any column).
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE residents SET age = 9e999 WHERE community = 'heping' AND age >= 70"
            )
        r = gw.run("heping-committee", qid)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["row_count"] == before["row_count"] > 0
        assert all(row == [None] for row in body["rows"])
        # The receipt's digest is the documented one of exactly what was answered.
        entry = json.loads(body["receipt"]["entry"])
        assert entry["outcome"] == "ok"
        assert entry["result_digest"] == result_digest(body["columns"], body["rows"])
    finally:
        gw.client.close()
        gw.ctx.close()
