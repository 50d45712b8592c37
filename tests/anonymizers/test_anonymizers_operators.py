from collections.abc import Mapping

import pytest

from anonymizers import (
    KeyMaterialError,
    OperatorContext,
    OperatorError,
    Pseudonymizer,
    build_operator,
    derive_key,
    operator_names,
)

MASTER = bytes(range(32, 64))
SECRET = "13812345678"  # stands for a data value that must never reach a message
CONTEXT = OperatorContext(
    master_key=MASTER, key_version=1, owner="民政局", recipient="elder-care-app"
)
COLUMN: list[object] = ["张三丰", None, "欧阳娜娜", 12345]


def test_operator_names() -> None:
    assert operator_names() == frozenset({"keep", "redact", "nullify", "mask", "pseudonymise"})


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
            ["110105********002X", None, "110105******002"],
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
            }  # type: ignore[arg-type]
        )
        return build_operator("pseudonymise", {}, context).apply([SECRET])[0]

    base = pseudonym()
    assert base == pseudonym()
    assert base != pseudonym(recipient="property-company")
    assert base != pseudonym(owner="卫健委")
    assert base != pseudonym(key_version=2)
    assert str(pseudonym(key_version=2)).startswith("p2_")


def test_pseudonymise_context_that_cannot_derive_a_key() -> None:
    bad = OperatorContext(master_key=MASTER, key_version=1, owner="民政局/低保", recipient="app")
    with pytest.raises(KeyMaterialError):
        build_operator("pseudonymise", {}, bad)
    short = OperatorContext(master_key=b"short", key_version=1, owner="o", recipient="r")
    with pytest.raises(ValueError):
        build_operator("pseudonymise", {}, short)


def test_operators_accept_empty_columns_and_tuples() -> None:
    for name, params in [
        ("keep", {}),
        ("redact", {}),
        ("nullify", {}),
        ("mask", {"kind": "name"}),
        ("pseudonymise", {}),
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
