"""The auditor's filters on the log (outcome, resident) and online verification over HTTP."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest

from gateway.api.routes.auditlog import Outcome
from gateway.auditlog.events import OUTCOMES
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[tuple[Gateway, str, int, str]]:
    tmp = tmp_path_factory.mktemp("auditor")
    source = f"sqlite:///{tmp / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp / "home"))
    dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
    query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    ran = gw.run("heping-committee", query)
    assert ran.status_code == 200, ran.text
    index = int(ran.json()["receipt"]["entry_index"])
    # A refused run: another app cannot run heping-committee's query (logged as refused).
    assert gw.run("jianshe-property", query).status_code == 404
    resident = released_ids(gw, source, index)[0]
    yield gw, dataset, index, gw.ctx.subjects.ref(resident)
    gw.client.close()
    gw.ctx.close()


def listed(gw: Gateway, who: str, **params: object) -> list[int]:
    r = gw.get(who, "/v1/audit/entries", params=params)
    assert r.status_code == 200, r.text
    return [int(e["index"]) for e in r.json()]


def test_the_outcome_filter_takes_every_registered_outcome() -> None:
    assert set(typing.get_args(Outcome)) == set(OUTCOMES)


def test_outcome_and_resident_filters(world: tuple[Gateway, str, int, str]) -> None:
    gw, _, index, ref = world
    ok = listed(gw, "district-auditor", outcome="ok")
    assert index in ok
    refused = listed(gw, "district-auditor", outcome="refused", event="query.run")
    assert refused and index not in refused
    assert listed(gw, "district-auditor", outcome="source_error") == []
    assert listed(gw, "district-auditor", subject=ref) == [index]
    assert listed(gw, "civil-affairs", subject=ref) == [index]  # its own dataset
    assert listed(gw, "health-commission", subject=ref) == []  # narrowed to its datasets
    other = "s_" + "a" * 26
    assert listed(gw, "district-auditor", subject=other) == []
    for bad in ({"subject": "11010519491231002X"}, {"outcome": "fine"}):
        r = gw.get("district-auditor", "/v1/audit/entries", params=bad)
        assert r.status_code == 422 and "11010519491231002X" not in r.text
    r = gw.get("district-auditor", "/v1/audit/export", params={"subject": ref, "format": "jsonl"})
    assert r.status_code == 200
    assert f'"index":{index}' in r.text.replace(" ", "")


def test_auditors_verify_the_log_over_http(world: tuple[Gateway, str, int, str]) -> None:
    gw, *_ = world
    assert gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    r = gw.get("district-auditor", "/v1/audit/verify")
    assert r.status_code == 200, r.text
    body = r.json()
    size = len(listed(gw, "district-auditor", limit=1000))
    assert body["intact"] is True and body["first_bad_index"] is None
    assert body["entries"] == size and body["signed_size"] >= size - 1
    r = gw.get("civil-affairs", "/v1/audit/verify")
    assert r.status_code == 403 and r.json()["reason"] == "not_an_auditor"
