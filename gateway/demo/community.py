"""Generate the synthetic community behind ``cdg demo`` and the tests.

One street office, 幸福街道 in 北京市朝阳区, with four communities. Three
departments hold data about its residents:

- civil affairs (民政): the resident registry, :attr:`Community.residents`;
- the health commission (卫健委): elderly check-ups, :attr:`Community.checkups`;
- the 12345 hotline (市民热线): complaints, :attr:`Community.complaints`.

Everything is drawn from ``Faker("zh_CN")`` seeded with ``seed_instance(seed)`` and
one ``random.Random(seed)``, so the same seed gives byte-identical data in any
process. Ages are completed years at the fixed :data:`REFERENCE_DATE`, never
"today". Resident ID numbers are built here (region code + birth date + sequence
+ GB 11643 check character) because Faker's ``ssn()`` derives birth dates from
the current date.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from faker import Faker
from faker.providers.ssn.zh_CN import Provider as _ChineseSsnProvider

from gateway.demo import texts

__all__ = [
    "CITY_DISTRICT",
    "COMMUNITIES",
    "REFERENCE_DATE",
    "STREET_CODE",
    "STREET_NAME",
    "Community",
    "age_at",
    "generate_community",
    "id_check_char",
]

CITY_DISTRICT: Final = "北京市朝阳区"
STREET_CODE: Final = "xingfu"
STREET_NAME: Final = "幸福街道"
#: (code, Chinese name) of the street office's communities.
COMMUNITIES: Final[tuple[tuple[str, str], ...]] = (
    ("heping", "和平社区"),
    ("guangming", "光明社区"),
    ("jianshe", "建设社区"),
    ("youyi", "友谊社区"),
)
#: Ages are completed years on this date.
REFERENCE_DATE: Final = dt.date(2026, 1, 1)

SUBSIDY_NONE: Final = "none"
SUBSIDY_DIBAO: Final = "低保"
SUBSIDY_TEKUN: Final = "特困"
SUBSIDY_ELDERLY: Final = "高龄补贴"

_COMMUNITY_NAMES: Final = dict(COMMUNITIES)
# Share of households per community, and how much likelier elderly households are there
# (和平社区 is the old danwei compound; 建设社区 the newer estate).
_COMMUNITY_WEIGHTS: Final = (0.28, 0.26, 0.24, 0.22)
_ELDERLY_FACTOR: Final = {"heping": 1.35, "guangming": 1.0, "jianshe": 0.75, "youyi": 1.0}
_BUILDINGS: Final = 20
_UNITS: Final = 4
_ROOMS_PER_FLOOR: Final = 4

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_LOCAL_REGION: Final = "110105"  # 北京市朝阳区
_BEIJING_REGIONS: Final = ("110101", "110102", "110106", "110107", "110108", "110111", "110114")
_MAX_AGE: Final = 100
_PLATE_CHARS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

Row = dict[str, object]


@dataclass(frozen=True)
class Community:
    """The generated data: one list of rows (column -> value) per source table."""

    residents: list[dict[str, object]]
    checkups: list[dict[str, object]]
    complaints: list[dict[str, object]]


def id_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def age_at(birth: dt.date, on: dt.date = REFERENCE_DATE) -> int:
    """Completed years of someone born on ``birth``, on the date ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def generate_community(seed: int = 20261127, residents: int = 10_000) -> Community:
    """Generate the demo community; the same arguments always give identical data."""
    if residents < 1:
        raise ValueError("residents must be at least 1")
    gen = _Generator(seed, residents)
    people = gen.residents()
    return Community(
        residents=people,
        checkups=gen.checkups(people),
        complaints=gen.complaints(people),
    )


@dataclass
class _Member:
    age: int
    male: bool
    surname: str | None = None  # a child takes the father's surname


class _Generator:
    def __init__(self, seed: int, size: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 -- synthetic data, reproducible by design
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.size = size
        self.ids: set[str] = set()
        self.mobiles: set[str] = set()
        self.slots: set[tuple[str, int, int, str]] = set()
        self.elder_tables: dict[tuple[int, float], tuple[list[int], list[float]]] = {}
        # Enough floors that random address slots are rarely taken (6 for a tiny demo).
        self.floors = max(6, math.ceil(0.6 * size / (_BUILDINGS * _UNITS * _ROOMS_PER_FLOOR)))
        self.other_regions = [
            code
            for code in _ChineseSsnProvider.area_codes
            if not code.endswith("00") and code[:2] not in {"11", "71", "81", "82", "83"}
        ]

    # -- residents ------------------------------------------------------------------

    def residents(self) -> list[Row]:
        rows: list[Row] = []
        counters = dict.fromkeys(_COMMUNITY_NAMES, 0)
        codes = [code for code, _ in COMMUNITIES]
        while len(rows) < self.size:
            community = self.rng.choices(codes, weights=_COMMUNITY_WEIGHTS)[0]
            members = self._household(community, self.size - len(rows))
            counters[community] += 1
            household_id = f"HH-{community}-{counters[community]:05d}"
            building, unit, room = self._address_slot(community)
            address = (
                f"{CITY_DISTRICT}{STREET_NAME}{_COMMUNITY_NAMES[community]}"
                f"{building}号楼{unit}单元{room}室"
            )
            dibao = self.rng.random() < 0.025
            household_rows: list[Row] = []
            for member in members:
                birth = self._birth_date(member.age)
                disability = self._disability(member.age)
                household_rows.append(
                    {
                        "resident_id": self._resident_id(birth, member.male),
                        "name": self._name(member),
                        "gender": "男" if member.male else "女",
                        "birth_date": birth.isoformat(),
                        "age": member.age,
                        "mobile": self._mobile() if member.age >= 16 else None,
                        "community": community,
                        "building": building,
                        "unit": unit,
                        "room": room,
                        "address": address,
                        "household_id": household_id,
                        "lives_alone": 1 if len(members) == 1 else 0,
                        "disability_level": disability,
                        "subsidy_status": self._subsidy(
                            member.age, disability, len(members), dibao
                        ),
                    }
                )
            # Children have no phone of their own: the registry records a guardian's number.
            guardian = next(r["mobile"] for r in household_rows if r["mobile"] is not None)
            for row in household_rows:
                if row["mobile"] is None:
                    row["mobile"] = guardian
            rows.extend(household_rows)
        return rows

    def _household(self, community: str, room_left: int) -> list[_Member]:
        """Members of one household, at most ``room_left`` of them, adults first."""
        factor = _ELDERLY_FACTOR[community]
        kinds: Sequence[tuple[int, float, Callable[[], list[_Member]]]] = (
            (1, 0.13 * factor, self._elderly_single),
            (1, 0.10, self._young_single),
            (2, 0.15 * factor, self._elderly_couple),
            (2, 0.12, self._couple),
            (2, 0.04 * factor, self._elder_with_child),
            (3, 0.25, lambda: self._nuclear(1)),
            (4, 0.08, lambda: self._nuclear(2)),
            (3, 0.05 * factor, lambda: self._three_generations(False)),
            (4, 0.08 * factor, lambda: self._three_generations(True)),
        )
        fitting = [k for k in kinds if k[0] <= room_left]
        make = self.rng.choices([k[2] for k in fitting], weights=[k[1] for k in fitting])[0]
        return make()

    def _elder_age(self, low: int, scale: float) -> int:
        """An age from ``low`` to 100, thinning out like an elderly population does."""
        key = (low, scale)
        if key not in self.elder_tables:
            ages = list(range(low, _MAX_AGE + 1))
            weights = [math.exp(-(a - low) / scale - (max(0, a - 88) / 6) ** 2) for a in ages]
            self.elder_tables[key] = (ages, list(itertools.accumulate(weights)))
        ages, cumulative = self.elder_tables[key]
        return self.rng.choices(ages, cum_weights=cumulative)[0]

    def _elderly_single(self) -> list[_Member]:
        return [_Member(self._elder_age(62, 17.0), self.rng.random() < 0.35)]

    def _young_single(self) -> list[_Member]:
        return [_Member(self.rng.randint(20, 45), self.rng.random() < 0.55)]

    def _elderly_couple(self) -> list[_Member]:
        husband = self._elder_age(60, 14.0)
        wife = max(58, min(_MAX_AGE, husband - self.rng.randint(-1, 4)))
        return [_Member(husband, True), _Member(wife, False)]

    def _couple(self) -> list[_Member]:
        wife = self.rng.randint(24, 59)
        husband = min(62, wife + self.rng.randint(-1, 4))
        return [_Member(husband, True), _Member(wife, False)]

    def _elder_with_child(self) -> list[_Member]:
        parent = self._elder_age(75, 10.0)
        child = max(38, parent - self.rng.randint(24, 34))
        return [_Member(parent, self.rng.random() < 0.3), _Member(child, self.rng.random() < 0.5)]

    def _nuclear(self, children: int) -> list[_Member]:
        mother = self.rng.randint(28, 55)
        father = mother + self.rng.randint(-1, 4)
        surname = self.fake.last_name()
        members = [_Member(father, True, surname), _Member(mother, False)]
        for _ in range(children):
            age = self.rng.randint(max(0, mother - 42), min(26, mother - 22))
            members.append(_Member(age, self.rng.random() < 0.51, surname))
        return members

    def _three_generations(self, both_parents: bool) -> list[_Member]:
        grandparent_age = self._elder_age(60, 12.0)
        parent_age = max(32, grandparent_age - self.rng.randint(24, 32))
        child_age = max(0, min(24, parent_age - self.rng.randint(24, 34)))
        parent_male = self.rng.random() < 0.6
        grandparent_male = self.rng.random() < 0.4
        surname = self.fake.last_name()
        members = [
            _Member(grandparent_age, grandparent_male, surname if grandparent_male else None),
            _Member(parent_age, parent_male, surname),
        ]
        child_surname: str | None = surname if parent_male else None
        if both_parents:
            spouse_surname = None if parent_male else self.fake.last_name()
            spouse_age = max(28, parent_age + self.rng.randint(-4, 2))
            members.append(_Member(spouse_age, not parent_male, spouse_surname))
            child_surname = surname if parent_male else spouse_surname
        members.append(_Member(child_age, self.rng.random() < 0.51, child_surname))
        return members

    def _address_slot(self, community: str) -> tuple[int, int, str]:
        while True:
            building = self.rng.randint(1, _BUILDINGS)
            unit = self.rng.randint(1, _UNITS)
            room = f"{self.rng.randint(1, self.floors)}{self.rng.randint(1, _ROOMS_PER_FLOOR):02d}"
            slot = (community, building, unit, room)
            if slot not in self.slots:
                self.slots.add(slot)
                return building, unit, room

    def _birth_date(self, age: int) -> dt.date:
        # Born between (ref - age - 1 years + 1 day) and (ref - age years), inclusive.
        latest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age)
        earliest = latest.replace(year=latest.year - 1) + dt.timedelta(days=1)
        return earliest + dt.timedelta(days=self.rng.randrange((latest - earliest).days + 1))

    def _resident_id(self, birth: dt.date, male: bool) -> str:
        draw = self.rng.random()
        if draw < 0.6:
            region = _LOCAL_REGION
        elif draw < 0.75:
            region = self.rng.choice(_BEIJING_REGIONS)
        else:
            region = self.rng.choice(self.other_regions)
        while True:
            sequence = self.rng.randrange(500) * 2 + (1 if male else 0)
            first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
            resident_id = first17 + id_check_char(first17)
            if resident_id not in self.ids:
                self.ids.add(resident_id)
                return resident_id

    def _name(self, member: _Member) -> str:
        surname = member.surname or self.fake.last_name()
        given = self.fake.first_name_male() if member.male else self.fake.first_name_female()
        return f"{surname}{given}"

    def _mobile(self) -> str:
        while True:
            mobile = self.fake.phone_number()
            if mobile not in self.mobiles:
                self.mobiles.add(mobile)
                return str(mobile)

    def _disability(self, age: int) -> int:
        chance = 0.02 if age < 60 else 0.07 if age < 80 else 0.18
        if self.rng.random() >= chance:
            return 0
        # Level 1 is the most severe; mild levels 3 and 4 are the most common.
        return self.rng.choices((1, 2, 3, 4), weights=(1, 2, 3, 4))[0]

    def _subsidy(self, age: int, disability: int, household_size: int, dibao: bool) -> str:
        if household_size == 1 and (age >= 60 or disability) and self.rng.random() < 0.04:
            return SUBSIDY_TEKUN
        if dibao:
            return SUBSIDY_DIBAO
        if age >= 80 and self.rng.random() < 0.9:
            return SUBSIDY_ELDERLY
        return SUBSIDY_NONE

    # -- check-ups ----------------------------------------------------------------------

    def checkups(self, people: list[Row]) -> list[Row]:
        rows: list[Row] = []
        for person in people:
            age = _int(person["age"])
            if age < 60:
                continue
            over = age - 60
            hypertension = self.rng.random() < min(0.7, 0.45 + 0.006 * over)
            diabetes = self.rng.random() < 0.18 + 0.002 * over
            heart = self.rng.random() < min(0.4, 0.08 + 0.006 * over)
            copd = self.rng.random() < 0.05
            codes = [
                code
                for code, present in (
                    ("I10", hypertension),
                    ("E11", diabetes),
                    ("I25", heart),
                    ("J44", copd),
                )
                if present
            ]
            days = sorted(self.rng.sample(range(365), 2 if self.rng.random() < 0.3 else 1))
            for day in days:
                systolic, diastolic = self._blood_pressure(age, hypertension)
                rows.append(
                    {
                        "resident_id": person["resident_id"],
                        "community": person["community"],
                        "checkup_date": (dt.date(2025, 1, 1) + dt.timedelta(days=day)).isoformat(),
                        "systolic": systolic,
                        "diastolic": diastolic,
                        "diagnosis_code": self.rng.choice(codes) if codes else "Z00",
                        "hypertension": int(hypertension),
                        "diabetes": int(diabetes),
                        "heart_disease": int(heart),
                    }
                )
        rows.sort(key=lambda r: str(r["checkup_date"]))
        return [{"checkup_id": i, **row} for i, row in enumerate(rows, start=1)]

    def _blood_pressure(self, age: int, hypertension: bool) -> tuple[int, int]:
        if hypertension:
            systolic = self.rng.gauss(148, 14)
            diastolic = self.rng.gauss(88, 9)
        else:
            systolic = self.rng.gauss(120 + 0.3 * (age - 60), 10)
            diastolic = self.rng.gauss(76, 7)
        sys_int = max(90, min(210, round(systolic)))
        dia_int = max(50, min(125, round(diastolic), sys_int - 25))
        return sys_int, dia_int

    # -- complaints ---------------------------------------------------------------------

    def complaints(self, people: list[Row]) -> list[Row]:
        adults = [p for p in people if _int(p["age"]) >= 18]
        if not adults:
            return []
        households_with_elders = {str(p["household_id"]) for p in people if _int(p["age"]) >= 60}
        elder_carers = [p for p in adults if p["household_id"] in households_with_elders]
        by_building: dict[tuple[object, object], list[Row]] = {}
        for p in adults:
            by_building.setdefault((p["community"], p["building"]), []).append(p)
        categories = list(texts.CATEGORY_WEIGHTS)
        weights = list(texts.CATEGORY_WEIGHTS.values())
        rows: list[Row] = []
        for _ in range(len(people) // 5):
            category = self.rng.choices(categories, weights=weights)[0]
            pool = elder_carers if category == "养老服务" and elder_carers else adults
            caller = self.rng.choice(pool)
            received = self._received_date(category)
            rows.append(
                {
                    "resident_id": caller["resident_id"],
                    "community": caller["community"],
                    "received_at": received.isoformat(),
                    "category": category,
                    "text": self._complaint_text(caller, category, by_building, adults),
                    "status": self._status(received),
                }
            )
        rows.sort(key=lambda r: str(r["received_at"]))
        return [{"complaint_id": i, **row} for i, row in enumerate(rows, start=1)]

    def _received_date(self, category: str) -> dt.date:
        if category == "供暖供水" and self.rng.random() < 0.8:
            # Heating season: January to mid-March and mid-November to December.
            day = self.rng.choice((self.rng.randrange(0, 74), self.rng.randrange(318, 365)))
        else:
            day = self.rng.randrange(365)
        return dt.date(2025, 1, 1) + dt.timedelta(days=day)

    def _status(self, received: dt.date) -> str:
        age_days = (REFERENCE_DATE - received).days
        if age_days <= 14:
            return self.rng.choice(("已受理", "处理中"))
        if age_days <= 60:
            return "处理中" if self.rng.random() < 0.3 else "已办结"
        return "处理中" if self.rng.random() < 0.05 else "已办结"

    def _complaint_text(
        self,
        caller: Row,
        category: str,
        by_building: dict[tuple[object, object], list[Row]],
        adults: list[Row],
    ) -> str:
        fields: dict[str, object] = {
            "community": _COMMUNITY_NAMES[str(caller["community"])],
            "building": caller["building"],
            "unit": caller["unit"],
            "room": caller["room"],
            "hour": self.rng.choice(("十一", "十二", "22", "23", "24")),
            "days": self.rng.randint(2, 20),
        }
        neighbour_bodies = texts.NEIGHBOUR_TEMPLATES.get(category, ())
        if neighbour_bodies and self.rng.random() < 0.3:
            same_building = [
                p
                for p in by_building[(caller["community"], caller["building"])]
                if p["household_id"] != caller["household_id"]
            ]
            neighbour = self.rng.choice(same_building or adults)
            fields |= {
                "neighbour": neighbour["name"],
                "other_room": neighbour["room"],
                "other_building": neighbour["building"],
                "plate": self._plate(),
            }
            body = self.rng.choice(neighbour_bodies)
        else:
            body = self.rng.choice(texts.TEMPLATES[category])
        text = body.format(**fields)
        if self.rng.random() < 0.3:
            style = self.rng.choices(
                list(texts.MOBILE_STYLE_WEIGHTS), weights=list(texts.MOBILE_STYLE_WEIGHTS.values())
            )[0]
            pii = {
                "community": fields["community"],
                "name": caller["name"],
                "mobile": texts.format_mobile(str(caller["mobile"]), style),
                "id_number": caller["resident_id"],
            }
            if self.rng.random() < 0.35:
                snippet = self.rng.choice(texts.PII_PREFIXES)[0].format(**pii)
                with_pii = snippet + text
            else:
                snippet = self.rng.choice(texts.PII_SUFFIXES)[0].format(**pii)
                with_pii = text + snippet
            if len(with_pii) <= 120:
                text = with_pii
        return text

    def _plate(self) -> str:
        letter = self.rng.choice("ABCEFGHJKLMNPQ")
        tail = "".join(self.rng.choice(_PLATE_CHARS) for _ in range(5))
        return f"京{letter}{tail}"


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError("expected an int")
    return value
