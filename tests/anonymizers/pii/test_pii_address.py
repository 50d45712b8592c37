import pytest

from anonymizers.pii.recognizers import CnAddressRecognizer

RECOGNIZER = CnAddressRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["CN_ADDRESS"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "北京市朝阳区幸福街道和平社区3号楼2单元502室",
            ["北京市朝阳区幸福街道和平社区3号楼2单元502室"],
        ),
        ("家庭住址：广东省广州市天河区天河路385号", ["广东省广州市天河区天河路385号"]),
        ("上海市浦东新区世纪大道100号", ["上海市浦东新区世纪大道100号"]),
        ("我住在和平社区3号楼2单元502，楼上漏水", ["和平社区3号楼2单元502"]),
        ("影响友谊社区3号楼居民睡眠", ["友谊社区3号楼"]),
        ("紫竹院社区5栋", ["紫竹院社区5栋"]),
        ("幸福里小区3号楼", ["幸福里小区3号楼"]),
        ("朝阳区建国路88号院3号楼", ["朝阳区建国路88号院3号楼"]),
        ("江苏省苏州市昆山市玉山镇", ["江苏省苏州市昆山市玉山镇"]),
        ("山东省青岛市市南区香港中路10号", ["山东省青岛市市南区香港中路10号"]),
        ("南京市鼓楼区中山路1号", ["南京市鼓楼区中山路1号"]),
        ("住在张家湾村3组", ["张家湾村3组"]),
        ("张家口市崇礼区太子城村8号", ["张家口市崇礼区太子城村8号"]),
        ("光明社区１２号楼２单元暖气不热", ["光明社区１２号楼２单元"]),
        ("和平社区3号楼2023年装修过", ["和平社区3号楼"]),
        # not addresses: a district or a community alone, a building without a place
        ("北京市朝阳区", []),
        ("和平社区的老年驿站", []),
        ("13号楼602", []),
        ("希望社区处理", []),
        ("小区广场舞音响声音太大", []),
        ("超市3号楼", []),
    ],
)
def test_address(text: str, expected: list[str]) -> None:
    assert found(text) == expected


def test_more_components_score_higher() -> None:
    [short] = RECOGNIZER.analyze("和平社区3号楼", ["CN_ADDRESS"])
    [full] = RECOGNIZER.analyze("北京市朝阳区幸福街道和平社区3号楼2单元502室", ["CN_ADDRESS"])
    assert 0.5 <= short.score < full.score <= 1.0
