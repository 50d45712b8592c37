"""Residents' references: only valid ID numbers are looked up, only SubjectRef-shaped
paths are read, no raw path reaches the server's log, and what a history shows about a
run comes from the run's entry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.test_resident_history import (
    PURPOSE,
    SPEC,
    history,
    ref_of,
    register,
    released_ids,
)

VALID = "11010519491231002X"


@pytest.fixture
def gw(tmp_path: Path, small_community: Community) -> Iterator[tuple[Gateway, str]]:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gateway = open_gateway(make_settings(tmp_path / "home"))
    yield gateway, source
    gateway.client.close()
    gateway.ctx.close()


@pytest.mark.parametrize(
    "value", ["张三", "1234567890123456789", "110105194912310021", "lookup-me", "11010519491231"]
)
def test_a_lookup_takes_only_valid_resident_id_numbers(gw: tuple[Gateway, str], value: str) -> None:
    gateway, _ = gw
    answer = gateway.post("civil-affairs", "/v1/subjects/lookup", {"id_number": value})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "detail", "request_id"} and value not in answer.text


def test_valid_and_first_generation_numbers_are_looked_up(gw: tuple[Gateway, str]) -> None:
    gateway, _ = gw
    assert ref_of(gateway, "civil-affairs", VALID).startswith("s_")
    assert ref_of(gateway, "civil-affairs", VALID.lower()) == ref_of(
        gateway, "civil-affairs", VALID
    )
    assert ref_of(gateway, "civil-affairs", "110105491231002").startswith("s_")


@pytest.mark.parametrize("ref", [VALID, "s_short", "S_" + "a" * 26, "s_" + "a" * 27])
def test_a_path_that_is_no_subject_ref_is_404_and_never_logged_raw(
    gw: tuple[Gateway, str], ref: str, caplog: pytest.LogCaptureFixture
) -> None:
    gateway, _ = gw
    caplog.set_level(logging.INFO, logger="cdg.http")
    answer = gateway.get("district-auditor", f"/v1/subjects/{ref}/accesses")
    assert answer.status_code == 404 and ref not in answer.text
    lines = [r.getMessage() for r in caplog.records if r.name == "cdg.http"]
    assert any("/v1/subjects/{subject_ref}/accesses 404" in line for line in lines), lines
    assert not any(ref in r.getMessage() for r in caplog.records)
    assert all("request_id=" in line for line in lines)


def test_a_history_shows_what_the_entry_recorded(gw: tuple[Gateway, str]) -> None:
    gateway, source = gw
    dataset = register(gateway, "civil-affairs", "households", source, "household_id")
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    run = gateway.run("heping-committee", qid).json()
    resident = released_ids(gateway, source, run["receipt"]["entry_index"])[0]
    ref = ref_of(gateway, "civil-affairs", resident)
    shown = history(gateway, "civil-affairs", ref)[0]
    assert shown["dataset_name"] == "households" and shown["justification"] == "test"
    assert shown["justification_matches_log"] is True
    with gateway.ctx.store.transaction() as session:
        session.execute(
            sa.text("UPDATE query_requests SET justification = :j WHERE id = :q"),
            {"j": "resident consented in writing", "q": qid},
        )
        session.execute(
            sa.text("UPDATE datasets SET name = 'renamed' WHERE id = :d"), {"d": dataset}
        )
    shown = history(gateway, "civil-affairs", ref)[0]
    assert shown["dataset_name"] == "households"
    assert shown["justification"] == "resident consented in writing"
    assert shown["justification_matches_log"] is False
