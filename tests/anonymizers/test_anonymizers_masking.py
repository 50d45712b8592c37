from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers import (
    ADDRESS_LEVELS,
    COMPOUND_SURNAMES,
    mask_address,
    mask_generic,
    mask_id_number,
    mask_mobile,
    mask_name,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("王小明明", "王***"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳娜", "欧阳*"),
        ("司马相如", "司马**"),
        ("诸葛亮", "诸葛*"),
        ("上官婉儿", "上官**"),
        ("歐陽娜娜", "歐陽**"),
        # a two-character name keeps one character even when it reads as a 复姓
        ("欧阳", "欧*"),
        ("张", "*"),
        ("", ""),
        ("  张三 ", "张*"),
        ("阿卜杜拉·买买提", "阿*******"),
        ("John", "J***"),
    ],
)
def test_mask_name(value: str, expected: str) -> None:
    assert mask_name(value) == expected


def test_compound_surnames_constant() -> None:
    assert 70 <= len(COMPOUND_SURNAMES) <= 100
    assert all(len(surname) == 2 for surname in COMPOUND_SURNAMES)
    assert {"欧阳", "司马", "诸葛", "上官", "慕容", "令狐", "皇甫"} <= COMPOUND_SURNAMES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("0086-13812345678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("19912345678", "199****5678"),
        # not a mainland mobile: generic masking of the normalised form
        ("12812345678", "1*********8"),
        ("010-12345678", "0*********8"),
        ("+852 9123 4567", "+**********7"),
        ("12345", "1***5"),
        ("12", "1*"),
        ("1", "*"),
        ("", ""),
    ],
)
def test_mask_mobile(value: str, expected: str) -> None:
    assert mask_mobile(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "110105************"),
        ("11010519491231002x", "110105************"),
        ("110105 1949 1231 002X", "110105************"),
        ("１１０１０５１９４９１２３１００２Ｘ", "110105************"),
        ("１１０１０５１９４９１２３１００２ｘ", "110105************"),
        ("360426199101010071", "360426************"),
        # an invalid check digit is masked all the same
        ("360426199101010072", "360426************"),
        ("110105491231002", "110105*********"),
        ("１１０１０５４９１２３１００２", "110105*********"),
        # other documents and fragments: generic
        ("E12345678", "E*******8"),
        ("1101051949123100", "1**************0"),
        ("1", "*"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, expected: str) -> None:
    assert mask_id_number(value) == expected


@pytest.mark.parametrize(
    ("value", "show_birth_year", "expected"),
    [
        ("11010519491231002X", False, "110105************"),
        ("11010519491231002X", True, "1101051949********"),
        ("110105491231002", True, "11010549*******"),
        ("E12345678", True, "E*******8"),
    ],
)
def test_mask_id_number_never_shows_sequence_gender_or_check(
    value: str, show_birth_year: bool, expected: str
) -> None:
    masked = mask_id_number(value, show_birth_year=show_birth_year)
    assert masked == expected
    if len(value) == 18:
        assert masked[14:] == "****"  # sequence (with the gender digit) and check character


@pytest.mark.parametrize(
    ("value", "keep_start", "keep_end", "char", "expected"),
    [
        ("abcdef", 1, 1, "*", "a****f"),
        ("abcdef", 2, 3, "*", "ab*def"),
        ("abcdef", 0, 0, "*", "******"),
        ("abcdef", 1, 1, "#", "a####f"),
        ("abcdef", 1, 1, "", "a****f"),
        ("abc", 1, 1, "*", "a*c"),
        ("ab", 1, 1, "*", "a*"),
        ("abc", 5, 5, "*", "ab*"),
        ("abc", 0, 5, "*", "*bc"),
        ("a", 1, 1, "*", "*"),
        ("", 1, 1, "*", ""),
        ("abcdef", -1, -2, "*", "******"),
        ("幸福路五号", 1, 1, "*", "幸***号"),
    ],
)
def test_mask_generic(value: str, keep_start: int, keep_end: int, char: str, expected: str) -> None:
    assert mask_generic(value, keep_start, keep_end, char) == expected


def test_mask_generic_defaults() -> None:
    assert mask_generic("abcdef") == "a****f"


FULL = "北京市朝阳区幸福街道和平社区3号楼2单元501室"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("province", "北京市***"),
        ("city", "北京市***"),
        ("district", "北京市朝阳区***"),
        ("street", "北京市朝阳区幸福街道***"),
        ("community", "北京市朝阳区幸福街道和平社区***"),
        ("building", "北京市朝阳区幸福街道和平社区3号楼***"),
    ],
)
def test_mask_address_levels(level: str, expected: str) -> None:
    assert mask_address(FULL, level) == expected


def test_mask_address_default_level_is_community() -> None:
    assert mask_address(FULL) == "北京市朝阳区幸福街道和平社区***"


@pytest.mark.parametrize(
    ("value", "level", "expected"),
    [
        # provinces, autonomous regions, prefecture cities
        ("广东省广州市天河区林和街道", "province", "广东省***"),
        ("广东省广州市天河区林和街道", "city", "广东省广州市***"),
        ("广东省广州市天河区林和街道", "district", "广东省广州市天河区***"),
        ("广西壮族自治区南宁市青秀区", "district", "广西壮族自治区南宁市青秀区"),
        ("广西壮族自治区南宁市青秀区", "province", "广西壮族自治区***"),
        ("吉林省延边朝鲜族自治州延吉市", "city", "吉林省延边朝鲜族自治州***"),
        ("内蒙古自治区锡林郭勒盟锡林浩特市", "city", "内蒙古自治区锡林郭勒盟***"),
        ("西藏自治区阿里地区噶尔县", "city", "西藏自治区阿里地区***"),
        ("贵州省贵阳市南明区", "city", "贵州省贵阳市***"),
        # county-level city after a prefecture city is district level
        ("江苏省苏州市昆山市玉山镇城北社区", "district", "江苏省苏州市昆山市***"),
        ("江苏省苏州市昆山市玉山镇城北社区", "street", "江苏省苏州市昆山市玉山镇***"),
        ("江苏省苏州市昆山市玉山镇城北社区", "community", "江苏省苏州市昆山市玉山镇城北社区"),
        ("山东省济南市市中区", "district", "山东省济南市市中区"),
        ("上海市浦东新区张江镇", "street", "上海市浦东新区张江镇"),
        ("北京市海淀区中关村街道", "street", "北京市海淀区中关村街道"),
        ("河北省保定市易县某某乡西山村", "community", "河北省保定市易县某某乡西山村"),
        ("河北省保定市易县某某乡西山村", "street", "河北省保定市易县某某乡***"),
        ("杭州市西湖区某某街道某某社区5栋", "building", "杭州市西湖区某某街道某某社区5栋"),
        ("杭州市西湖区某某街道某某社区A幢101", "building", "杭州市西湖区某某街道某某社区A幢***"),
        # a missing level keeps the deepest level above it
        ("北京市朝阳区和平社区3号楼", "street", "北京市朝阳区***"),
        ("北京市朝阳区和平社区3号楼", "community", "北京市朝阳区和平社区***"),
        # a residential compound is not a district, a supermarket not a city
        ("北京市幸福小区3号楼501室", "district", "北京市***"),
        ("广州市天河区华联超市", "district", "广州市天河区***"),
        ("广东省广州市幸福超市3号", "district", "广东省广州市***"),
        # separators between components are kept with them
        ("北京市 朝阳区 幸福街道", "district", "北京市 朝阳区***"),
        # nothing recognised at or above the level: everything is hidden
        ("广州市天河区", "province", "***"),
        ("幸福路5号", "community", "***"),
        ("x", "district", "***"),
        (FULL, "room", "***"),
        (FULL, "", "***"),
        ("", "community", ""),
        ("   ", "community", ""),
    ],
)
def test_mask_address_table(value: str, level: str, expected: str) -> None:
    assert mask_address(value, level) == expected


def test_address_levels_constant() -> None:
    assert ADDRESS_LEVELS == ("province", "city", "district", "street", "community", "building")


@pytest.mark.parametrize("level", ADDRESS_LEVELS)
def test_mask_address_never_keeps_more_at_a_coarser_level(level: str) -> None:
    depth = ADDRESS_LEVELS.index(level)
    kept = mask_address(FULL, level).removesuffix("***")
    for finer in ADDRESS_LEVELS[depth:]:
        assert mask_address(FULL, finer).removesuffix("***").startswith(kept)


MASKS = [mask_name, mask_mobile, mask_id_number, mask_generic]


@pytest.mark.parametrize("mask", MASKS, ids=lambda f: f.__name__)
@given(value=st.text(max_size=40))
def test_masks_never_raise_and_never_return_visible_input(
    mask: Callable[[str], str], value: str
) -> None:
    result = mask(value)
    assert isinstance(result, str)
    if value.strip() and "*" not in value:
        assert result != value


@given(value=st.text(max_size=60), level=st.sampled_from([*ADDRESS_LEVELS, "bogus"]))
def test_mask_address_never_raises(value: str, level: str) -> None:
    result = mask_address(value, level)
    assert isinstance(result, str)
    # whatever is kept is a prefix of the input
    assert value.startswith(result.removesuffix("***"))


@given(
    value=st.text(max_size=30),
    keep_start=st.integers(-3, 40),
    keep_end=st.integers(-3, 40),
)
def test_mask_generic_keeps_length_and_hides_something(
    value: str, keep_start: int, keep_end: int
) -> None:
    result = mask_generic(value, keep_start, keep_end)
    assert len(result) == len(value)
    if value:
        assert "*" in result
