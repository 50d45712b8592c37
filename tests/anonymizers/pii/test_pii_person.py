import pytest

from anonymizers.pii.recognizers import CnPersonNameRecognizer

RECOGNIZER = CnPersonNameRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["PERSON"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # cue words
        ("我叫王秀英，手机13812345678", ["王秀英"]),
        ("联系人杨岩，电话", ["杨岩"]),
        ("来电人曹波，联系电话", ["曹波"]),
        ("姓名：李娜 电话：138", ["李娜"]),
        ("我是和平社区的居民张海燕，", ["张海燕"]),
        ("邻居孙强（住13号楼602）", ["孙强"]),
        ("车主吴丽华占用我的固定车位", ["吴丽华"]),
        ("社区书记严静表示会尽快处理", ["严静"]),
        # compound surnames
        ("我叫欧阳娜娜。", ["欧阳娜娜"]),
        ("本人上官燕，身份证号", ["上官燕"]),
        ("请司马娜明天来一趟", ["司马娜"]),
        # where the given name ends
        ("8号楼603的王淑英家每天晚上", ["王淑英"]),
        ("邻居刘雪家的狗整夜叫", ["刘雪"]),
        ("5号楼的刘建国家的狗", ["刘建国"]),
        ("1号楼的刘建军长期把车停在通道上", ["刘建军"]),
        ("请张伟明天上午来社区一趟", ["张伟"]),
        ("请刘兰英明天上午来社区一趟", ["刘兰英"]),
        # whole values
        ("张伟", ["张伟"]),
        ("诸葛亮", ["诸葛亮"]),
        ("  李秀英 ", ["李秀英"]),
        # not names
        ("老人白天没地方活动", []),
        ("早晚高峰堵得出不去", []),
        ("小区门口有车辆长期占道停放", []),
        ("向阳社区4号楼2单元电梯又坏了", []),
        ("影响红星村居民睡眠", []),
        ("持港澳居民居住证的市民", []),
        ("有结果请打电话告诉我，谢谢。", []),
        ("高温天气请注意防暑", []),
        ("朱红色的大门已经锈了", []),
        ("阳光", []),
        ("王先生反映，他于2024年3月购买了一台冰箱", []),  # a title, not a given name
        ("李老师说", []),
        ("高龄", []),
        ("", []),
    ],
)
def test_person(text: str, expected: list[str]) -> None:
    assert found(text) == expected


def test_full_width_text_keeps_offsets() -> None:
    text = "电话１３８，联系人王芳，"
    [result] = RECOGNIZER.analyze(text, ["PERSON"])
    assert text[result.start : result.end] == "王芳"


def test_scores_follow_the_evidence() -> None:
    [cue] = RECOGNIZER.analyze("联系人王芳，", ["PERSON"])
    [whole] = RECOGNIZER.analyze("王芳", ["PERSON"])
    assert cue.score > whole.score >= 0.5
