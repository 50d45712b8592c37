import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers import (
    age_band,
    birth_date_of,
    bucket,
    generalise_address,
    generalise_date,
    generalise_region,
)

REF = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (42, {}, "40-49"),
        (40, {}, "40-49"),
        (49, {}, "40-49"),
        (0, {}, "0-9"),
        (42, {"width": 5}, "40-44"),
        (42, {"width": 1}, "42"),
        (42.9, {}, "40-49"),
        ("42", {}, "40-49"),
        (" 7 ", {}, "0-9"),
        (95, {"top": 90}, "90+"),
        (90, {"top": 90}, "90+"),
        (89, {"top": 90}, "80-89"),
        # birth dates: completed years on the reference date
        ("1983-06-01", {}, "40-49"),
        ("1976-01-01", {}, "50-59"),  # 50 on the reference day itself
        ("1976-01-02", {}, "40-49"),  # turns 50 a day later
        ("19760102", {}, "40-49"),
        ("1983-06-01T08:30:00", {}, "40-49"),
        (dt.date(1983, 6, 1), {}, "40-49"),
        (dt.datetime(1983, 6, 1, 8, 30), {}, "40-49"),
        ("1983-06-01", {"reference_date": dt.date(2040, 1, 1)}, "50-59"),
        # resident ID numbers (birth date inside), any written form
        ("11010519491231002X", {}, "70-79"),
        ("11010519491231002x", {}, "70-79"),
        ("１１０１０５１９４９１２３１００２Ｘ", {}, "70-79"),
        ("110105491231002", {}, "70-79"),
        ("11010519491231002X", {"top": 75}, "75+"),
        # unreadable or impossible -> None
        (None, {}, None),
        (True, {}, None),
        (-1, {}, None),
        (151, {}, None),
        (float("nan"), {}, None),
        ("2030-01-01", {}, None),  # born after the reference date
        ("1983-02-30", {}, None),
        ("110105194913310021", {}, None),
        ("forty", {}, None),
        ("", {}, None),
        ("1234", {}, None),
        ([42], {}, None),
    ],
)
def test_age_band(value: object, kwargs: dict[str, object], expected: str | None) -> None:
    assert age_band(value, **kwargs) == expected  # type: ignore[arg-type]


def test_age_band_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="width"):
        age_band(42, width=0)


def test_birth_date_of() -> None:
    assert birth_date_of("11010519491231002X") == dt.date(1949, 12, 31)
    assert birth_date_of("110105491231002") == dt.date(1949, 12, 31)
    assert birth_date_of("1949-12-31") == dt.date(1949, 12, 31)
    assert birth_date_of("abc") is None


@pytest.mark.parametrize(
    ("value", "level", "expected"),
    [
        ("2026-03-15", "month", "2026-03"),
        ("2026-03-15", "quarter", "2026-Q1"),
        ("2026-04-01", "quarter", "2026-Q2"),
        ("2026-09-30", "quarter", "2026-Q3"),
        ("2026-12-31", "quarter", "2026-Q4"),
        ("2026-03-15", "year", "2026"),
        ("2026-03-15 10:00:00", "month", "2026-03"),
        ("2026-03-15T10:00:00+08:00", "quarter", "2026-Q1"),
        ("20260315", "month", "2026-03"),
        (dt.date(2026, 3, 15), "year", "2026"),
        (dt.datetime(2026, 11, 2, 23, 59), "quarter", "2026-Q4"),
        ("2026-02-30", "month", None),
        ("2026-03", "month", None),
        ("15/03/2026", "month", None),
        (20260315, "month", None),
        (None, "month", None),
        ("2026-03-15", "week", None),
    ],
)
def test_generalise_date(value: object, level: str, expected: str | None) -> None:
    assert generalise_date(value, level) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "level", "expected"),
    [
        ("110105", "city", "110100"),
        ("110105", "province", "110000"),
        ("110105", "district", "110105"),
        (110105, "city", "110100"),
        ("440111", "city", "440100"),
        ("440111", "province", "440000"),
        ("654325", "city", "654300"),
        (" 360426 ", "city", "360400"),
        # statistical codes: street (9 digits) and community (12 digits)
        ("110105012", "district", "110105"),
        ("110105012003", "city", "110100"),
        ("110105012003", "province", "110000"),
        # not a GB/T 2260 code
        ("990105", "city", None),  # no province 99
        ("11010", "city", None),
        ("1101050", "city", None),
        ("011010", "city", None),
        ("北京市", "city", None),
        (True, "city", None),
        (None, "city", None),
        ("110105", "street", None),
    ],
)
def test_generalise_region(value: object, level: str, expected: str | None) -> None:
    assert generalise_region(value, level) == expected  # type: ignore[arg-type]


FULL = "北京市朝阳区幸福街道和平社区3号楼2单元501室"


@pytest.mark.parametrize(
    ("value", "level", "expected"),
    [
        (FULL, "community", "北京市朝阳区幸福街道和平社区"),
        (FULL, "building", "北京市朝阳区幸福街道和平社区3号楼"),
        (FULL, "street", "北京市朝阳区幸福街道"),
        (FULL, "district", "北京市朝阳区"),
        # a missing community keeps the deepest level above it
        ("北京市朝阳区幸福街道5号楼", "community", "北京市朝阳区幸福街道"),
        ("幸福路5号", "community", None),
        ("", "community", None),
        (None, "community", None),
        (12, "community", None),
    ],
)
def test_generalise_address(value: object, level: str, expected: str | None) -> None:
    assert generalise_address(value, level) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (12.5, {"width": 10}, "[10, 20)"),
        (10, {"width": 10}, "[10, 20)"),
        (9.999, {"width": 10}, "[0, 10)"),
        (-0.5, {"width": 10}, "[-10, 0)"),
        (0.35, {"width": 0.1}, "[0.3, 0.4)"),
        ("1234.5", {"width": 1000}, "[1000, 2000)"),
        (3500, {"width": 1000, "top": 3000}, ">=3000"),
        (3000, {"width": 1000, "top": 3000}, ">=3000"),
        (-5, {"width": 1000, "bottom": 0}, "<0"),
        (5, {"edges": [0, 18, 60]}, "[0, 18)"),
        (18, {"edges": [0, 18, 60]}, "[18, 60)"),
        (60, {"edges": [0, 18, 60]}, ">=60"),
        (-1, {"edges": [0, 18, 60]}, "<0"),
        (70, {"edges": [0, 18, 60], "top": 65}, ">=65"),
        (1.5, {"edges": [0.5, 2.25]}, "[0.5, 2.25)"),
        (None, {"width": 10}, None),
        (True, {"width": 10}, None),
        ("abc", {"width": 10}, None),
        (float("inf"), {"width": 10}, None),
        (5, {}, None),
    ],
)
def test_bucket(value: object, kwargs: dict[str, object], expected: str | None) -> None:
    assert bucket(value, **kwargs) == expected  # type: ignore[arg-type]


@given(age=st.integers(0, 150), width=st.integers(1, 30))
def test_age_band_contains_the_age(age: int, width: int) -> None:
    band = age_band(age, width=width)
    assert band is not None
    low, _, high = band.partition("-")
    assert int(low) <= age <= int(high or low)
    assert int(high or low) - int(low) == width - 1


@given(value=st.floats(-1e9, 1e9), width=st.sampled_from([1, 5, 10, 0.25, 1000]))
def test_bucket_contains_the_value(value: float, width: float) -> None:
    label = bucket(value, width=width)
    assert label is not None
    low, high = (float(x) for x in label.strip("[)").split(", "))
    # labels carry 12 significant digits
    slack = 1e-9 * max(1.0, abs(value))
    assert low - slack <= value < high + slack
