"""A resident's access history is complete: found by ID number whatever the privacy unit,
filtered before the limit, paged with ``after``, narrowed with ``since``, and logged."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway

PURPOSE = "public-service.elderly-care.home-visit"
SPEC = {"select": ["age"], "limit": 20}


@pytest.fixture
def gw(tmp_path: Path, small_community: Community) -> Iterator[tuple[Gateway, str]]:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gateway = open_gateway(make_settings(tmp_path / "home"))
    yield gateway, source
    gateway.client.close()
    gateway.ctx.close()


def register(gw: Gateway, owner: str, name: str, source_url: str, unit: str) -> str:
    spec: dict[str, Any] = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    assert spec["resident_id"] == "resident_id"  # the demo declares its ID-number column
    source = f"src-{name}"
    assert gw.post(owner, "/v1/sources", {"name": source, "url": source_url}).status_code == 201
    spec.update(name=name, source=source, privacy_unit=unit)
    r = gw.post(owner, "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    assert r.json()["resident_id"] == "resident_id"
    return str(r.json()["id"])


def released_ids(gw: Gateway, source_url: str, entry_index: int) -> list[str]:
    """ID numbers of the residents an entry's subject index names (through their refs)."""
    with gw.ctx.store.transaction() as session:
        refs = set(
            session.execute(
                sa.text("SELECT subject_ref FROM audit_subjects WHERE entry_index = :i"),
                {"i": entry_index},
            ).scalars()
        )
    engine = sa.create_engine(source_url)
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT resident_id FROM residents")).scalars().all()
    engine.dispose()
    found = [i for i in ids if gw.ctx.subjects.ref(i) in refs]
    assert len(found) == len(refs) > 0, "every indexed ref is a resident's ID number"
    return found


def ref_of(gw: Gateway, who: str, id_number: str) -> str:
    r = gw.post(who, "/v1/subjects/lookup", {"id_number": id_number})
    assert r.status_code == 200, r.text
    return str(r.json()["subject_ref"])


def history(gw: Gateway, who: str, ref: str, **params: Any) -> list[dict[str, Any]]:
    r = gw.get(who, f"/v1/subjects/{ref}/accesses", params=params)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_an_id_lookup_finds_releases_when_the_privacy_unit_is_another_column(
    gw: tuple[Gateway, str],
) -> None:
    gateway, source = gw
    dataset = register(gateway, "civil-affairs", "households", source, "household_id")
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    run = gateway.run("heping-committee", qid)
    assert run.status_code == 200 and run.json()["row_count"] > 0
    index = run.json()["receipt"]["entry_index"]
    resident = released_ids(gateway, source, index)[0]

    ref = ref_of(gateway, "civil-affairs", resident)
    found = history(gateway, "civil-affairs", ref)
    assert [a["index"] for a in found] == [index]
    assert found[0]["dataset_name"] == "households" and found[0]["app"] == "heping-committee"
    assert found[0]["justification"] == "test" and found[0]["purpose"] == PURPOSE
    assert history(gateway, "district-auditor", ref)[0]["index"] == index
    assert ref_of(gateway, "district-auditor", resident) == ref  # auditors resolve residents too


def test_history_filters_before_the_limit_pages_and_honours_since(
    gw: tuple[Gateway, str],
) -> None:
    gateway, source = gw
    # The same residents in another department's copy of the registry.
    copied = gateway.ctx.settings.home / "sources" / "health-commission" / "copy.db"
    copied.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.removeprefix("sqlite:///"), copied)
    theirs = register(
        gateway, "health-commission", "residents-hc", f"sqlite:///{copied}", "resident_id"
    )
    ours = register(gateway, "civil-affairs", "residents-ca", source, "resident_id")
    q_theirs = gateway.approved_query("heping-committee", theirs, PURPOSE, SPEC)
    q_ours = gateway.approved_query("heping-committee", ours, PURPOSE, SPEC)
    # The other department's dataset releases the same residents first, three times.
    first = [gateway.run("heping-committee", q_theirs).json() for _ in range(3)]
    ours_runs = [gateway.run("heping-committee", q_ours).json() for _ in range(2)]
    middle = datetime.now(UTC).isoformat()
    ours_runs += [gateway.run("heping-committee", q_ours).json() for _ in range(3)]
    resident = released_ids(gateway, source, ours_runs[0]["receipt"]["entry_index"])[0]
    ref = ref_of(gateway, "civil-affairs", resident)
    ours_idx = [r["receipt"]["entry_index"] for r in ours_runs]

    # The limit counts only what the caller may see: none of the other department's rows.
    assert [a["index"] for a in history(gateway, "civil-affairs", ref, limit=1)] == ours_idx[:1]
    pages, after = [], -1
    while True:
        page = history(gateway, "civil-affairs", ref, limit=2, after=after)
        if not page:
            break
        pages.append([a["index"] for a in page])
        after = page[-1]["index"]
    assert pages == [ours_idx[0:2], ours_idx[2:4], ours_idx[4:5]]
    assert [a["index"] for a in history(gateway, "civil-affairs", ref, since=middle)] == ours_idx[
        2:
    ]
    everything = [a["index"] for a in history(gateway, "district-auditor", ref)]
    assert everything == [r["receipt"]["entry_index"] for r in first] + ours_idx
    assert history(gateway, "health-commission", ref, limit=3) != []


def test_history_reads_are_asked_of_the_permission_module_and_logged(
    gw: tuple[Gateway, str],
) -> None:
    gateway, _ = gw
    ref = ref_of(gateway, "civil-affairs", "110101195001011239")
    denied = gateway.get("heping-committee", f"/v1/subjects/{ref}/accesses")
    assert denied.status_code in (403, 404)
    assert set(denied.json()) >= {"error", "detail", "request_id"}
    assert history(gateway, "civil-affairs", ref) == []
    entries = gateway.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
    events = [e["entry"]["event"] for e in entries]
    assert "subject.lookup" in events and "subject.history" in events
    logged = [e["entry"] for e in entries if e["entry"]["event"] == "subject.history"]
    assert all(ref not in str(e) for e in logged)  # which resident is not in the entry
