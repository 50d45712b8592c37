import datetime as dt
import re
from collections.abc import Mapping

import pytest

from anonymizers import (
    KeyMaterialError,
    OperatorContext,
    OperatorError,
    Pseudonymizer,
    build_operator,
    derive_key,
    detokenise,
    operator_names,
)
from anonymizers.operators import BucketParams, TokeniseParams, generalise_params_model

# The dataset and column token keys are bound to (one pair for these tests).
DS, COL = "ds_test", "col"
MASTER = bytes(range(32, 64))
SECRET = "13812345678"  # stands for a data value that must never reach a message
CONTEXT = OperatorContext(
    master_key=MASTER, key_version=1, owner="民政局", recipient="elder-care-app",
    dataset=DS, column=COL,
)
COLUMN: list[object] = ["张三丰", None, "欧阳娜娜", 12345]


def test_operator_names() -> None:
    assert operator_names() == frozenset(
        {"keep", "redact", "nullify", "mask", "pseudonymise", "tokenise", "generalise",
         "redact_pii"}
    )


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("tag", "请联系<PERSON>，电话<CN_MOBILE>，身份证<CN_RESIDENT_ID>。"),
        ("mask", "请联系***，电话***********，身份证******************。"),
    ],
)
def test_redact_pii_replaces_what_the_detector_finds(style: str, expected: str) -> None:
    text = "请联系王建国，电话13812345678，身份证11010519491231002X。"
    op = build_operator("redact_pii", {"style": style}, CONTEXT)
    assert op.apply([text, None]) == [expected, None]


def test_redact_pii_pseudonyms_are_per_recipient() -> None:
    text = "王建国的电话是13812345678"
    mine = build_operator("redact_pii", {"style": "pseudonym"}, CONTEXT).apply([text])[0]
    other = OperatorContext(master_key=MASTER, key_version=1, owner="民政局", recipient="other",
        dataset=DS, column=COL)
    theirs = build_operator("redact_pii", {"style": "pseudonym"}, other).apply([text])[0]
    assert isinstance(mine, str) and "13812345678" not in mine and "<CN_MOBILE:p1_" in mine
    assert mine != theirs
    with pytest.raises(OperatorError):
        build_operator("redact_pii", {"style": "shout"}, CONTEXT)


def test_keep() -> None:
    operator = build_operator("keep", {}, CONTEXT)
    assert operator.name == "keep"
    result = operator.apply(COLUMN)
    assert result == COLUMN
    assert result is not COLUMN


def test_redact_default_replaces_none_too() -> None:
    operator = build_operator("redact", {}, CONTEXT)
    assert operator.apply(COLUMN) == ["[REDACTED]"] * 4


def test_redact_custom_constant() -> None:
    operator = build_operator("redact", {"constant": "已隐藏"}, CONTEXT)
    assert operator.apply(("a", None)) == ["已隐藏", "已隐藏"]


def test_nullify() -> None:
    assert build_operator("nullify", {}, CONTEXT).apply(COLUMN) == [None] * 4


@pytest.mark.parametrize(
    ("params", "column", "expected"),
    [
        ({"kind": "name"}, ["张三丰", None, "欧阳娜娜"], ["张**", None, "欧阳**"]),
        (
            {"kind": "mobile"},
            ["+86 138 1234 5678", None, 13912345678],
            ["138****5678", None, "139****5678"],
        ),
        (
            {"kind": "id_number"},
            ["11010519491231002x", None, "110105491231002"],
            ["110105************", None, "110105*********"],
        ),
        (
            {"kind": "id_number", "show_birth_year": True},
            ["11010519491231002x", None, "110105491231002"],
            ["1101051949********", None, "11010549*******"],
        ),
        (
            {"kind": "address"},
            ["北京市朝阳区幸福街道和平社区3号楼", None],
            ["北京市朝阳区幸福街道和平社区***", None],
        ),
        (
            {"kind": "address", "level": "district"},
            ["北京市朝阳区幸福街道和平社区3号楼", None],
            ["北京市朝阳区***", None],
        ),
        ({"kind": "generic"}, ["abcdef", None, 12345], ["a****f", None, "1***5"]),
        (
            {"kind": "generic", "keep_start": 2, "keep_end": 0},
            ["abcdef", None, 12345],
            ["ab****", None, "12***"],
        ),
    ],
)
def test_mask(params: Mapping[str, object], column: list[object], expected: list[object]) -> None:
    operator = build_operator("mask", params, CONTEXT)
    assert operator.name == "mask"
    assert operator.apply(column) == expected


def test_pseudonymise_uses_owner_recipient_key() -> None:
    operator = build_operator("pseudonymise", {}, CONTEXT)
    result = operator.apply(["138 1234 5678", None, 13812345678])
    key = derive_key(MASTER, "pseudonym", "民政局", "elder-care-app", version=1)
    expected = Pseudonymizer(key, 1)("13812345678")
    assert result == [expected, None, expected]


def test_pseudonymise_is_unlinkable_across_recipients_and_versions() -> None:
    def pseudonym(**changes: object) -> object:
        context = OperatorContext(
            **{
                "master_key": MASTER,
                "key_version": 1,
                "owner": "民政局",
                "recipient": "elder-care-app",
                **changes,
            },  # type: ignore[arg-type]
            dataset=DS,
            column=COL,
        )
        return build_operator("pseudonymise", {}, context).apply([SECRET])[0]

    base = pseudonym()
    assert base == pseudonym()
    assert base != pseudonym(recipient="property-company")
    assert base != pseudonym(owner="卫健委")
    assert base != pseudonym(key_version=2)
    assert str(pseudonym(key_version=2)).startswith("p2_")


def test_pseudonymise_context_that_cannot_derive_a_key() -> None:
    bad = OperatorContext(master_key=MASTER, key_version=1, owner="民政局/低保", recipient="app",
        dataset=DS, column=COL)
    with pytest.raises(KeyMaterialError):
        build_operator("pseudonymise", {}, bad)
    short = OperatorContext(master_key=b"short", key_version=1, owner="o", recipient="r",
        dataset=DS, column=COL)
    with pytest.raises(ValueError):
        build_operator("pseudonymise", {}, short)


def test_operators_accept_empty_columns_and_tuples() -> None:
    for name, params in [
        ("keep", {}),
        ("redact", {}),
        ("nullify", {}),
        ("mask", {"kind": "name"}),
        ("pseudonymise", {}),
        ("tokenise", {"mode": "siv"}),
        ("tokenise", {"mode": "ff1", "format": "mobile"}),
        ("generalise", {"kind": "age_band"}),
    ]:
        operator = build_operator(name, params, CONTEXT)
        assert operator.apply([]) == []
        assert len(operator.apply(("a", None, "b"))) == 3


def test_unknown_operator() -> None:
    with pytest.raises(OperatorError) as info:
        build_operator(SECRET, {}, CONTEXT)
    assert isinstance(info.value, ValueError)
    assert SECRET not in str(info.value)
    assert "keep" in str(info.value)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("keep", {"constant": SECRET}),
        ("nullify", {"x": SECRET}),
        ("pseudonymise", {"salt": SECRET}),
        ("redact", {"constant": int(SECRET)}),
        ("redact", {"constant": [SECRET]}),
        ("mask", {}),
        ("mask", {"kind": SECRET}),
        ("mask", {"kind": "name", "extra": SECRET}),
        ("mask", {"kind": "address", "level": SECRET}),
        ("mask", {"kind": "name", "level": "city"}),
        ("mask", {"kind": "mobile", "keep_end": 2}),
        ("mask", {"kind": "generic", "keep_start": -1}),
        ("mask", {"kind": "generic", "keep_start": SECRET}),
        ("mask", {"kind": "generic", "keep_end": 2.0}),
        ("mask", {"kind": "generic", "keep_end": True}),
        ("mask", {"kind": "mobile", "show_birth_year": True}),
        ("mask", {"kind": "id_number", "show_birth_year": "yes"}),
        ("pseudonymise", {"linkage": ""}),
        ("pseudonymise", {"linkage": "a/" + SECRET}),
        ("pseudonymise", {"linkage": int(SECRET)}),
        ("tokenise", {}),
        ("tokenise", {"mode": SECRET}),
        ("tokenise", {"mode": "ff1"}),
        ("tokenise", {"mode": "ff1", "format": SECRET}),
        ("tokenise", {"mode": "siv", "format": "mobile"}),
        ("tokenise", {"mode": "ff1", "format": "mobile", "normalise": False}),
        ("tokenise", {"mode": "siv", "normalise": "yes"}),
        ("generalise", {}),
        ("generalise", {"kind": SECRET}),
        ("generalise", {"kind": "age_band", "width": 0}),
        ("generalise", {"kind": "age_band", "width": 10.0}),
        ("generalise", {"kind": "age_band", "reference_date": SECRET}),
        ("generalise", {"kind": "age_band", "reference_date": "2026-02-30"}),
        ("generalise", {"kind": "age_band", "level": "month"}),
        ("generalise", {"kind": "date", "level": SECRET}),
        ("generalise", {"kind": "region", "level": "community"}),
        ("generalise", {"kind": "address", "level": "room"}),
        ("generalise", {"kind": "bucket"}),
        ("generalise", {"kind": "bucket", "width": 10, "edges": [0, 10]}),
        ("generalise", {"kind": "bucket", "width": -1}),
        ("generalise", {"kind": "bucket", "width": True}),
        ("generalise", {"kind": "bucket", "edges": []}),
        ("generalise", {"kind": "bucket", "edges": [0, int(SECRET), 5]}),
        ("generalise", {"kind": "bucket", "edges": [0, float("inf")]}),
        ("generalise", {"kind": "bucket", "width": 5, "bottom": 10, "top": 10}),
        ("generalise", {"kind": "bucket", "width": 5, "top": SECRET}),
    ],
)
def test_bad_params_rejected_without_echoing_values(
    name: str, params: Mapping[str, object]
) -> None:
    with pytest.raises(OperatorError) as info:
        build_operator(name, params, CONTEXT)
    message = str(info.value)
    assert SECRET not in message
    assert name in message


@pytest.mark.parametrize("params", [None, [("kind", "name")], SECRET])
def test_params_must_be_a_mapping(params: object) -> None:
    with pytest.raises(OperatorError) as info:
        build_operator("mask", params, CONTEXT)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)


def test_context_repr_hides_master_key() -> None:
    text = repr(CONTEXT)
    assert "elder-care-app" in text
    assert "master_key" not in text
    assert repr(MASTER) not in text


# --- pseudonymise: shared linkage domains ------------------------------------------------


def context_for(recipient: str, version: int = 1, owner: str = "民政局") -> OperatorContext:
    return OperatorContext(master_key=MASTER, key_version=version, owner=owner, recipient=recipient,
        dataset=DS, column=COL)


def test_pseudonymise_linkage_domain_links_recipients_that_share_it() -> None:
    def pseudonym(recipient: str, **params: object) -> object:
        return build_operator("pseudonymise", params, context_for(recipient)).apply([SECRET])[0]

    shared = {"linkage": "elder-care-network"}
    assert pseudonym("elder-care-app", **shared) == pseudonym("property-company", **shared)
    assert pseudonym("elder-care-app") != pseudonym("property-company")
    # a linkage domain is not the same thing as an app of the same name
    assert pseudonym("elder-care-app") != pseudonym("other-app", linkage="elder-care-app")
    assert pseudonym("a", **shared) != pseudonym("a", linkage="another-network")
    assert pseudonym("a", **shared) != pseudonym("a")
    assert str(pseudonym("a", **shared)).startswith("p1_")


def test_pseudonymise_linkage_key_derivation_and_rotation() -> None:
    operator = build_operator("pseudonymise", {"linkage": "网格"}, context_for("app"))
    key = derive_key(MASTER, "pseudonym-linkage", "民政局", "网格", version=1)
    assert operator.apply([SECRET]) == [Pseudonymizer(key, 1)(SECRET)]
    rotated = build_operator("pseudonymise", {"linkage": "网格"}, context_for("app", version=2))
    assert rotated.apply([SECRET]) != operator.apply([SECRET])
    other_owner = build_operator(
        "pseudonymise", {"linkage": "网格"}, context_for("app", owner="卫健委")
    )
    assert other_owner.apply([SECRET]) != operator.apply([SECRET])


def test_pseudonymise_explicit_null_linkage_is_per_recipient() -> None:
    plain = build_operator("pseudonymise", {}, CONTEXT).apply([SECRET])
    assert build_operator("pseudonymise", {"linkage": None}, CONTEXT).apply([SECRET]) == plain


# --- tokenise ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"mode": "siv"}, {"mode": "ff1", "format": "mobile"}],
    ids=["siv", "ff1"],
)
def test_tokenise_is_keyed_per_owner_and_recipient(params: dict[str, object]) -> None:
    column: list[object] = ["13812345678", None, "+86 138 1234 5678"]
    for_app = build_operator("tokenise", params, CONTEXT).apply(column)
    for_other = build_operator("tokenise", params, context_for("property-company")).apply(column)
    assert for_other[0] != for_app[0]  # two apps cannot join on the token
    assert for_app[1] is None
    assert for_app[0] == for_app[2]
    fmt = params.get("format")
    # the owner reverses each app's token by naming the app
    for token, app in ((for_app[0], "elder-care-app"), (for_other[0], "property-company")):
        back = detokenise(str(token), MASTER, 1, "民政局", app, format=fmt,  # type: ignore[arg-type]
            dataset=DS, column=COL)
        assert back == "13812345678"
    other_owner = build_operator("tokenise", params, context_for("elder-care-app", owner="卫健委"))
    assert other_owner.apply(column)[0] != for_app[0]


def test_tokenise_siv_without_normalising() -> None:
    operator = build_operator("tokenise", {"mode": "siv", "normalise": False}, CONTEXT)
    token = operator.apply(["138 1234 5678"])[0]
    assert detokenise(str(token), MASTER, 1, "民政局", "elder-care-app",
        dataset=DS, column=COL) == "138 1234 5678"


@pytest.mark.parametrize(
    ("fmt", "value", "pattern"),
    [
        ("id_number", "11010519491231002X", r"110105[0-9]{4}00[0-9]{5}[0-9X]"),
        ("mobile", "13812345678", r"23[0-9]{9}"),
        ("digits", "6222020200112233445", r"[0-9]{19}"),
    ],
)
def test_tokenise_ff1(fmt: str, value: str, pattern: str) -> None:
    operator = build_operator("tokenise", {"mode": "ff1", "format": fmt}, CONTEXT)
    assert operator.name == "tokenise"
    token, missing, misfit = operator.apply([value, None, "x"])
    assert re.fullmatch(pattern, str(token))
    assert token != value
    assert missing is None and misfit is None
    back = detokenise(str(token), MASTER, 1, "民政局", "elder-care-app", format=fmt,  # type: ignore[arg-type]
        dataset=DS, column=COL)
    assert back == value


def test_tokenise_context_that_cannot_derive_a_key() -> None:
    bad = OperatorContext(master_key=MASTER, key_version=1, owner="民政局/低保", recipient="app",
        dataset=DS, column=COL)
    with pytest.raises(KeyMaterialError):
        build_operator("tokenise", {"mode": "siv"}, bad)


# --- generalise -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "column", "expected"),
    [
        (
            {"kind": "age_band"},
            [42, "1983-06-01", "11010519491231002X", None, "bad"],
            ["40-49", "40-49", "70-79", None, None],
        ),
        (
            {"kind": "age_band", "width": 5, "top": 75, "reference_date": "2030-01-01"},
            [42, "1983-06-01", "11010519491231002X"],
            ["40-44", "45-49", "75+"],
        ),
        (
            {"kind": "age_band", "reference_date": dt.date(2030, 1, 1)},
            ["1983-06-01"],
            ["40-49"],
        ),
        ({"kind": "date"}, ["2026-03-15", None], ["2026-03", None]),
        ({"kind": "date", "level": "quarter"}, ["2026-03-15"], ["2026-Q1"]),
        ({"kind": "date", "level": "year"}, ["2026-03-15"], ["2026"]),
        ({"kind": "region"}, ["110105", 440111], ["110100", "440100"]),
        ({"kind": "region", "level": "province"}, ["110105"], ["110000"]),
        (
            {"kind": "address"},
            ["北京市朝阳区幸福街道和平社区3号楼2单元501室"],
            ["北京市朝阳区幸福街道和平社区"],
        ),
        (
            {"kind": "address", "level": "building"},
            ["北京市朝阳区幸福街道和平社区3号楼2单元501室"],
            ["北京市朝阳区幸福街道和平社区3号楼"],
        ),
        (
            {"kind": "bucket", "width": 1000},
            [1234.5, -1, None],
            ["[1000, 2000)", "[-1000, 0)", None],
        ),
        (
            {"kind": "bucket", "width": 1000, "bottom": 0, "top": 3000},
            [1234.5, -1, 5000],
            ["[1000, 2000)", "<0", ">=3000"],
        ),
        ({"kind": "bucket", "edges": [0, 18, 60]}, [5, 18, 60], ["[0, 18)", "[18, 60)", ">=60"]),
    ],
)
def test_generalise(
    params: Mapping[str, object], column: list[object], expected: list[object]
) -> None:
    operator = build_operator("generalise", params, CONTEXT)
    assert operator.name == "generalise"
    assert operator.apply(column) == expected


def test_generalise_mixed_numeric_types_are_not_conflated() -> None:
    # 1 == 1.0 == True share a dict slot; the per-distinct-value cache must not mix them
    operator = build_operator("generalise", {"kind": "age_band"}, CONTEXT)
    assert operator.apply([1, True, 1.0, 1]) == ["0-9", None, "0-9", "0-9"]
    mask = build_operator("mask", {"kind": "generic"}, CONTEXT)
    assert mask.apply([True, 1, 1.0]) == ["T**e", "*", "1*0"]


def test_params_models_are_public_for_policy_checks() -> None:
    assert generalise_params_model({"kind": "bucket"}) is BucketParams
    with pytest.raises(OperatorError):
        generalise_params_model({"kind": SECRET})
    assert TokeniseParams(mode="ff1", format="mobile").format == "mobile"
