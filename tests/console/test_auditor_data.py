"""The auditor pages' data: searches narrowed like the API, proofs checked, days bucketed
in the configured zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.console import auditor_data as data
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import InvalidRequest, NotFound
from gateway.oversight.listings import EntryFilter
from gateway.principal import AuthPrincipal
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[tuple[Gateway, str, int, str]]:
    tmp = tmp_path_factory.mktemp("auditor-data")
    source = f"sqlite:///{tmp / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp / "home"))
    dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
    query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    for _ in range(2):
        assert gw.run("heping-committee", query).status_code == 200
    ran = gw.run("heping-committee", query)
    index = int(ran.json()["receipt"]["entry_index"])
    assert gw.run("jianshe-property", query).status_code == 404  # a logged refusal
    resident = released_ids(gw, source, index)[0]
    yield gw, dataset, index, resident
    gw.client.close()
    gw.ctx.close()


def who(gw: Gateway, name: str) -> AuthPrincipal:
    with gw.ctx.store.transaction() as session:
        row = AuthRepository(session).by_name(name)
        assert row is not None
        return as_principal(row)


def test_a_search_by_resident_date_and_outcome(world: tuple[Gateway, str, int, str]) -> None:
    gw, _, index, resident = world
    auditor = who(gw, "district-auditor")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    q = data.LogQuery(start=today, end=today, resident=resident, outcome="ok")
    wanted = data.entry_filter(gw.ctx, auditor, q, SHANGHAI, "t")
    with gw.ctx.store.transaction() as session:
        page = data.search(session, auditor, wanted, None)
    assert index in [line.index for line in page.lines]
    assert {line.dataset_name for line in page.lines} == {"residents-ca"}
    assert all(line.outcome == "ok" for line in page.lines)
    lookups = gw.get("district-auditor", "/v1/audit/entries", params={"event": "subject.lookup"})
    assert lookups.json(), "resolving the ID number is logged"
    # Yesterday holds nothing; a reversed range and a bad number are clear refusals.
    yesterday = data.LogQuery(start=today - timedelta(days=1), end=today - timedelta(days=1))
    with gw.ctx.store.transaction() as session:
        f = data.entry_filter(gw.ctx, auditor, yesterday, SHANGHAI, "t")
        assert data.search(session, auditor, f, None).lines == []
    with pytest.raises(InvalidRequest, match="before the start"):
        data.entry_filter(
            gw.ctx, auditor, data.LogQuery(start=today, end=yesterday.end), SHANGHAI, "t"
        )
    with pytest.raises(InvalidRequest) as bad:
        data.entry_filter(
            gw.ctx, auditor, data.LogQuery(resident="110105194912310021"), SHANGHAI, "t"
        )
    assert "110105194912310021" not in bad.value.detail
    with pytest.raises(InvalidRequest):
        data.entry_filter(gw.ctx, auditor, data.LogQuery(event="query.ran"), SHANGHAI, "t")


def test_paging_walks_the_whole_log(world: tuple[Gateway, str, int, str]) -> None:
    gw, *_ = world
    auditor = who(gw, "district-auditor")
    seen: list[int] = []
    after = None
    data_page = data.PAGE
    with gw.ctx.store.transaction() as session:
        total = len(gw.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json())
        while True:
            page = data.search(session, auditor, EntryFilter(), after)
            seen += [line.index for line in page.lines]
            assert len(page.lines) <= data_page
            if page.next_after is None:
                break
            after = page.next_after
    assert seen == list(range(total))


def test_an_entry_comes_with_a_checked_proof_once_signed(
    world: tuple[Gateway, str, int, str],
) -> None:
    gw, dataset, index, _ = world
    auditor = who(gw, "district-auditor")
    assert gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    with gw.ctx.store.transaction() as session:
        detail = data.entry_detail(session, gw.ctx, auditor, index)
    assert detail.included is True and detail.checkpoint is not None
    assert detail.checkpoint.signature_ok and detail.checkpoint.size > index
    assert detail.proof and detail.line.dataset == dataset
    assert '"event": "query.run"' in detail.entry_json
    # Another department cannot open an entry on civil-affairs' dataset; nor can an app
    # open another app's; a missing index is the same 404.
    with gw.ctx.store.transaction() as session:
        for name in ("health-commission", "jianshe-property"):
            with pytest.raises(NotFound):
                data.entry_detail(session, gw.ctx, who(gw, name), index)
        with pytest.raises(NotFound):
            data.entry_detail(session, gw.ctx, auditor, 10**9)


def test_an_unsigned_entry_says_no_checkpoint_covers_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gw = open_gateway(
        make_settings(home, checkpoint_every_entries=1_000_000, checkpoint_every_seconds=86_400)
    )
    try:
        for _ in range(3):
            body = {"id_number": "11010519491231002X"}
            assert gw.post("civil-affairs", "/v1/subjects/lookup", body).status_code == 200
        auditor = who(gw, "district-auditor")
        with gw.ctx.store.transaction() as session:
            cp = data.latest_checkpoint(session, gw.ctx, auditor)
            newest = data.entry_detail(session, gw.ctx, auditor, 2)
        # The first entry is signed at once; later ones wait for the next checkpoint.
        assert cp is not None and cp.size < 3
        assert newest.included is None and newest.proof == []
        assert data.receipt(newest) is None  # no receipt without a signed checkpoint
    finally:
        gw.client.close()
        gw.ctx.close()


def test_activity_counts_runs_and_denials_per_local_day(
    world: tuple[Gateway, str, int, str],
) -> None:
    gw, dataset, *_ = world
    auditor = who(gw, "district-auditor")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    with gw.ctx.store.transaction() as session:
        act = data.activity(session, auditor, days=7, zone=SHANGHAI, today=today)
        dept = data.activity(
            session, who(gw, "health-commission"), days=7, zone=SHANGHAI, today=today
        )
        apps = data.known_apps(session, who(gw, "jianshe-property"))
    assert act.days[-1] == today and len(act.labels) == 7
    assert act.by_app["heping-committee"][-1] == 3
    assert act.by_dataset[dataset][-1] == 3 and act.dataset_names[dataset] == "residents-ca"
    assert act.denials[-1] >= 1 and sum(act.denials[:-1]) == 0
    assert dept.by_app == {} and dept.by_dataset == {}  # nothing on its datasets
    assert apps == ["jianshe-property"]
    # A day boundary in Shanghai is not UTC's: tomorrow's chart starts empty for today.
    with gw.ctx.store.transaction() as session:
        ahead = data.activity(
            session, auditor, days=1, zone=SHANGHAI, today=today + timedelta(days=1)
        )
    assert ahead.by_app == {} and ahead.days == [today + timedelta(days=1)]


def test_labels_follow_the_language() -> None:
    from gateway.auditlog.events import EVENTS

    assert data.label(EVENTS, "query.run", "zh_CN").startswith("应用运行")
    assert data.label(EVENTS, "query.run", "en").startswith("an app ran")
    assert data.label(EVENTS, "unknown", "en") == "unknown"
    assert date(2026, 12, 4).strftime("%m-%d") == "12-04"


@pytest.mark.postgres
def test_activity_on_a_postgresql_store(
    tmp_path: Path, small_community: Community, pg_url: str
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp_path / "home", pg_url))
    try:
        dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
        query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
        for _ in range(2):
            assert gw.run("heping-committee", query).status_code == 200
        assert gw.run("jianshe-property", query).status_code == 404
        today = datetime.now(UTC).astimezone(SHANGHAI).date()
        with gw.ctx.store.transaction() as session:
            act = data.activity(
                session, who(gw, "district-auditor"), days=3, zone=SHANGHAI, today=today
            )
        assert act.by_app == {"heping-committee": [0, 0, 2]}
        assert act.by_dataset == {dataset: [0, 0, 2]} and act.denials[-1] >= 1
    finally:
        gw.client.close()
        gw.ctx.close()
