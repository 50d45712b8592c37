"""The synthetic demo community and the departmental source databases it is written to."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

import gateway
from gateway.demo.community import COMMUNITIES, Community, generate_community
from gateway.demo.sources import SOURCE_TABLES, sqlite_urls, table_for, write_sources

REFERENCE = dt.date(2026, 1, 1)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
COMMUNITY_CODES = {code for code, _ in COMMUNITIES}
COMMUNITY_NAMES = dict(COMMUNITIES)


def gb11643_valid(number: str) -> bool:
    """Independent GB 11643 check: weights 7 9 10 5 8 4 2 1 6 3 ..., check "10X98765432"."""
    if not ID_PATTERN.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return number[17] == "10X98765432"[total % 11]


def completed_years(birth: dt.date, on: dt.date) -> int:
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def digest(community: Community) -> str:
    blob = json.dumps(dataclasses.asdict(community), ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


@pytest.fixture(scope="module")
def community() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def small() -> Community:
    return generate_community(seed=7, residents=300)


# -- determinism ------------------------------------------------------------------------


def test_same_seed_gives_identical_data() -> None:
    assert digest(generate_community(seed=11, residents=1_500)) == digest(
        generate_community(seed=11, residents=1_500)
    )


def test_same_seed_gives_identical_bytes_in_another_process() -> None:
    # A different PYTHONHASHSEED catches any dependence on set or hash ordering.
    code = (
        "import dataclasses, hashlib, json\n"
        "from gateway.demo.community import generate_community\n"
        "c = generate_community(seed=11, residents=1500)\n"
        "blob = json.dumps(dataclasses.asdict(c), ensure_ascii=False).encode()\n"
        "print(hashlib.sha256(blob).hexdigest())\n"
    )
    root = Path(gateway.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest(generate_community(seed=11, residents=1_500))


def test_different_seed_gives_different_data() -> None:
    a = generate_community(seed=1, residents=500)
    b = generate_community(seed=2, residents=500)
    assert digest(a) != digest(b)
    assert {r["resident_id"] for r in a.residents} != {r["resident_id"] for r in b.residents}


def test_size_is_honoured(community: Community, small: Community) -> None:
    assert len(community.residents) == 10_000
    assert len(small.residents) == 300
    assert len(generate_community(seed=3, residents=1).residents) == 1


def test_rejects_empty_community() -> None:
    with pytest.raises(ValueError, match="residents"):
        generate_community(residents=0)


# -- residents --------------------------------------------------------------------------


def test_resident_ids_are_valid_unique_and_match_birth_date_gender_and_age(
    community: Community,
) -> None:
    ids = [str(r["resident_id"]) for r in community.residents]
    assert len(set(ids)) == len(ids)
    for r in community.residents:
        rid = str(r["resident_id"])
        assert gb11643_valid(rid), rid
        birth = dt.date.fromisoformat(str(r["birth_date"]))
        assert rid[6:14] == birth.strftime("%Y%m%d")
        assert r["gender"] == ("男" if int(rid[16]) % 2 == 1 else "女")
        assert r["age"] == completed_years(birth, REFERENCE)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("360426199101010071", True),
        ("110105194912310021", False),
        ("11010519491231002", False),
        ("1101051949123100XX", False),
    ],
)
def test_checksum_helper_itself(number: str, valid: bool) -> None:
    assert gb11643_valid(number) is valid


def test_mobiles_look_real(community: Community) -> None:
    mobiles = [str(r["mobile"]) for r in community.residents]
    assert all(MOBILE_PATTERN.match(m) for m in mobiles)
    adults = [str(r["mobile"]) for r in community.residents if int(str(r["age"])) >= 16]
    assert len(set(adults)) == len(adults)


def test_addresses_and_communities(community: Community) -> None:
    seen = Counter(str(r["community"]) for r in community.residents)
    assert set(seen) == COMMUNITY_CODES
    for r in community.residents:
        assert 1 <= int(str(r["building"])) <= 20
        assert 1 <= int(str(r["unit"])) <= 4
        assert re.fullmatch(r"[1-9]\d?0[1-4]", str(r["room"]))
        assert r["address"] == (
            f"北京市朝阳区幸福街道{COMMUNITY_NAMES[str(r['community'])]}"
            f"{r['building']}号楼{r['unit']}单元{r['room']}室"
        )
        assert re.fullmatch(rf"HH-{r['community']}-\d{{5}}", str(r["household_id"]))


def test_households_share_an_address_and_lives_alone_matches_size(community: Community) -> None:
    households: dict[object, list[dict[str, object]]] = defaultdict(list)
    for r in community.residents:
        households[r["household_id"]].append(r)
    addresses = set()
    for members in households.values():
        assert 1 <= len(members) <= 4
        assert len({m["address"] for m in members}) == 1
        addresses.add(members[0]["address"])
        assert all(m["lives_alone"] == (1 if len(members) == 1 else 0) for m in members)
    assert len(addresses) == len(households)  # one household per flat
    sizes = Counter(len(m) for m in households.values())
    assert set(sizes) == {1, 2, 3, 4}


def test_age_distribution_is_that_of_an_ageing_community(community: Community) -> None:
    ages = [int(str(r["age"])) for r in community.residents]
    share_60 = sum(a >= 60 for a in ages) / len(ages)
    share_80 = sum(a >= 80 for a in ages) / len(ages)
    assert 0.18 <= share_60 <= 0.35
    assert 0.02 <= share_80 <= 0.09
    assert min(ages) == 0
    assert max(ages) <= 100


def test_subsidies_and_disability(community: Community) -> None:
    statuses = Counter(str(r["subsidy_status"]) for r in community.residents)
    assert set(statuses) <= {"none", "低保", "特困", "高龄补贴"}
    assert statuses["none"] > 0.8 * len(community.residents)
    assert statuses["高龄补贴"] > 0
    for r in community.residents:
        if r["subsidy_status"] == "高龄补贴":
            assert int(str(r["age"])) >= 80
    levels = Counter(int(str(r["disability_level"])) for r in community.residents)
    assert set(levels) <= {0, 1, 2, 3, 4}
    assert levels[0] > 0.9 * len(community.residents)


# -- check-ups --------------------------------------------------------------------------


def test_checkups_cover_every_elder_once_or_twice(community: Community) -> None:
    ages = {r["resident_id"]: int(str(r["age"])) for r in community.residents}
    communities = {r["resident_id"]: r["community"] for r in community.residents}
    per_person = Counter(c["resident_id"] for c in community.checkups)
    elders = {rid for rid, age in ages.items() if age >= 60}
    assert set(per_person) == elders
    assert set(per_person.values()) == {1, 2}
    ids = [c["checkup_id"] for c in community.checkups]
    assert ids == list(range(1, len(ids) + 1))
    for c in community.checkups:
        assert c["community"] == communities[c["resident_id"]]
        assert str(c["checkup_date"]).startswith("2025-")
        dt.date.fromisoformat(str(c["checkup_date"]))
        systolic, diastolic = int(str(c["systolic"])), int(str(c["diastolic"]))
        assert 90 <= systolic <= 210
        assert 50 <= diastolic <= systolic - 25
        assert c["diagnosis_code"] in {"I10", "E11", "I25", "J44", "Z00"}
        for flag in ("hypertension", "diabetes", "heart_disease"):
            assert c[flag] in (0, 1)


def test_blood_pressure_is_higher_with_hypertension(community: Community) -> None:
    def mean_systolic(flag: int) -> float:
        values = [int(str(c["systolic"])) for c in community.checkups if c["hypertension"] == flag]
        return sum(values) / len(values)

    assert mean_systolic(1) > mean_systolic(0) + 15


# -- complaints -------------------------------------------------------------------------


def test_complaints_shape(community: Community) -> None:
    residents = {r["resident_id"]: r for r in community.residents}
    assert len(community.complaints) == len(community.residents) // 5
    ids = [c["complaint_id"] for c in community.complaints]
    assert ids == list(range(1, len(ids) + 1))
    categories = Counter(str(c["category"]) for c in community.complaints)
    assert {"噪音扰民", "物业服务", "环境卫生", "停车管理", "养老服务", "供暖供水"} <= set(
        categories
    )
    for c in community.complaints:
        caller = residents[c["resident_id"]]
        assert int(str(caller["age"])) >= 18
        assert c["community"] == caller["community"]
        assert str(c["received_at"]).startswith("2025-")
        dt.date.fromisoformat(str(c["received_at"]))
        assert c["status"] in {"已受理", "处理中", "已办结"}
        assert 20 <= len(str(c["text"])) <= 120
        assert "{" not in str(c["text"])


def test_some_complaints_carry_the_callers_personal_data(community: Community) -> None:
    residents = {r["resident_id"]: r for r in community.residents}
    with_mobile = with_id = with_name = formatted = 0
    for c in community.complaints:
        caller = residents[c["resident_id"]]
        text = str(c["text"])
        digits = re.sub(r"[\s-]", "", text)
        with_mobile += str(caller["mobile"]) in digits
        with_id += str(caller["resident_id"]) in text
        with_name += str(caller["name"]) in text
        formatted += bool(re.search(r"\+86|1\d{2}[ -]\d{4}[ -]\d{4}", text))
    n = len(community.complaints)
    assert with_mobile > 0.1 * n
    assert with_id > 0.03 * n
    assert with_name > 0.1 * n
    assert formatted > 0
    any_pii = sum(
        str(residents[c["resident_id"]]["mobile"]) in re.sub(r"[\s-]", "", str(c["text"]))
        or str(c["resident_id"]) in str(c["text"])
        or str(residents[c["resident_id"]]["name"]) in str(c["text"])
        for c in community.complaints
    )
    assert 0.15 * n <= any_pii <= 0.45 * n


def test_some_complaints_name_a_neighbour(community: Community) -> None:
    names = {str(r["name"]) for r in community.residents}
    mentions = 0
    for c in community.complaints:
        pattern = r"的(\w{2,4})家|邻居(\w{2,4})（|车主(\w{2,4})占用|楼的(\w{2,4})长期"
        match = re.search(pattern, str(c["text"]))
        if match:
            name = next(g for g in match.groups() if g)
            assert name in names
            mentions += 1
    assert mentions > 0.03 * len(community.complaints)


# -- sources on SQLite ------------------------------------------------------------------


def test_source_tables_and_urls(tmp_path: Path) -> None:
    assert dict(SOURCE_TABLES) == {
        "civil_affairs": "residents",
        "health": "checkups",
        "hotline": "complaints",
    }
    for source, table in SOURCE_TABLES.items():
        assert table_for(source).name == table
        indexed = {col.name for index in table_for(source).indexes for col in index.columns}
        assert "community" in indexed
        assert "resident_id" in indexed or table_for(source).c.resident_id.primary_key
    assert sqlite_urls(tmp_path) == {
        s: f"sqlite:///{tmp_path}/{s}.db" for s in ("civil_affairs", "health", "hotline")
    }
    with pytest.raises(ValueError, match="unknown source"):
        table_for("police")


def test_write_sources_refuses_unknown_source_before_writing(tmp_path: Path) -> None:
    urls = {**sqlite_urls(tmp_path), "police": f"sqlite:///{tmp_path}/police.db"}
    with pytest.raises(ValueError, match="unknown source"):
        write_sources(generate_community(residents=20), urls)
    assert list(tmp_path.iterdir()) == []


def row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                name: conn.execute(
                    sa.select(sa.func.count()).select_from(sa.table(name))
                ).scalar_one()
                for name in names
            }
    finally:
        engine.dispose()


def assert_written(community: Community, urls: dict[str, str]) -> None:
    expected = {
        "residents": community.residents,
        "checkups": community.checkups,
        "complaints": community.complaints,
    }
    for source, url in urls.items():
        table = table_for(source)
        rows = expected[table.name]
        assert row_counts(url).get(table.name) == len(rows)
        key = next(iter(table.primary_key.columns)).name
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(sa.select(table)).mappings().all()
                indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes(table.name)}
        finally:
            engine.dispose()
        # Every value, Chinese text included, survives the round trip.
        assert {r[key]: dict(r) for r in stored} == {r[key]: r for r in rows}
        assert f"ix_{table.name}_community" in indexes


def test_write_sources_on_sqlite_is_idempotent(community: Community, tmp_path: Path) -> None:
    urls = sqlite_urls(tmp_path)
    write_sources(community, urls)
    write_sources(community, urls)
    assert_written(community, urls)


def test_write_sources_accepts_a_subset_and_a_shared_database(
    small: Community, tmp_path: Path
) -> None:
    shared = f"sqlite:///{tmp_path}/all.db"
    write_sources(small, {"health": shared})
    assert set(row_counts(shared)) == {"checkups"}
    urls = dict.fromkeys(SOURCE_TABLES, shared)
    write_sources(small, urls)
    assert_written(small, urls)


# -- sources on real servers ------------------------------------------------------------


@pytest.mark.postgres
def test_write_sources_on_postgresql_is_idempotent(small: Community, pg_url: str) -> None:
    urls = dict.fromkeys(SOURCE_TABLES, pg_url)
    write_sources(small, urls)
    write_sources(small, urls)
    assert_written(small, urls)


@pytest.mark.mariadb
def test_write_sources_on_mariadb_is_idempotent(small: Community, mariadb_url: str) -> None:
    urls = dict.fromkeys(SOURCE_TABLES, mariadb_url)
    write_sources(small, urls)
    write_sources(small, urls)
    assert_written(small, urls)
    engine = sa.create_engine(mariadb_url)
    try:
        with engine.connect() as conn:
            collations = conn.execute(
                sa.text(
                    "SELECT table_collation FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                )
            ).scalars()
            assert all(str(c).startswith("utf8mb4") for c in collations)
    finally:
        engine.dispose()
