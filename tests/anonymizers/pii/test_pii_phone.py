import pytest

from anonymizers.pii.recognizers import CnLandlineRecognizer, CnMobileRecognizer

MOBILE = CnMobileRecognizer()
LANDLINE = CnLandlineRecognizer()


def found(recognizer: CnMobileRecognizer | CnLandlineRecognizer, text: str) -> list[str]:
    results = recognizer.analyze(text, recognizer.supported_entities)
    return [text[r.start : r.end] for r in results if r.score >= 0.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", ["13812345678"]),
        ("手机13812345678。", ["13812345678"]),
        ("电话138 1234 5678", ["138 1234 5678"]),
        ("138-1234-5678", ["138-1234-5678"]),
        ("+86 13812345678", ["+86 13812345678"]),
        ("+86 138 1234 5678", ["+86 138 1234 5678"]),
        ("8613812345678", ["8613812345678"]),
        ("0086-13812345678", ["0086-13812345678"]),
        ("(+86)13812345678", ["(+86)13812345678"]),
        ("１３８１２３４５６７８", ["１３８１２３４５６７８"]),
        ("14912345678", ["14912345678"]),  # data-card range, still a number in use
        ("12345678901", []),  # 12x is not a mobile range
        ("15412345678", []),  # 154 is not allocated
        ("19412345678", []),
        ("138123456789", []),  # 12 digits
        ("110105199001011234", []),  # inside an ID number
        ("138****5678", []),  # masked
        ("订单号13812345678", []),  # negative context
        ("QQ号13812345678", []),
        # prefixes outside today's plan, labelled by a contact word: still a mobile
        ("电话12012345678", ["12012345678"]),
        ("手机：10612345678。", ["10612345678"]),
        ("联系方式 11012345678", ["11012345678"]),
        ("联系电话：194 1234 5678", ["194 1234 5678"]),
        ("手机号12345678901", ["12345678901"]),
        ("Tel: 12812345678", ["12812345678"]),
        ("TEL 15412345678", ["15412345678"]),
        ("Mobile +86 16012345678", ["+86 16012345678"]),
        ("联系人王芳，电话16312345678", ["16312345678"]),
        ("请致电 179-1234-5678", ["179-1234-5678"]),
        # the same shapes without a contact word, or with a decoy word after it: left alone
        ("12012345678", []),
        ("订单号12012345678", []),
        ("金额10012345678元", []),
        ("流水号11012345678", []),
        ("电话费金额12012345678", []),  # the nearest label is an amount
        ("联系电话见订单号12012345678", []),
        ("手机壳编码12312345678", []),
        ("电话1201234567", []),  # 10 digits
        ("电话120123456789", []),  # 12 digits
    ],
)
def test_mobile(text: str, expected: list[str]) -> None:
    assert found(MOBILE, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("010-65432100", ["010-65432100"]),
        ("座机01065432100", ["01065432100"]),
        ("(0755)26981234", ["(0755)26981234"]),
        ("0571 8765 4321", ["0571 8765 4321"]),
        ("0312-3456789", ["0312-3456789"]),  # 7-digit subscriber
        ("+86 10 6543 2100", ["+86 10 6543 2100"]),
        ("+86 755 26981234", ["+86 755 26981234"]),
        ("０１０－６５４３２１００", ["０１０－６５４３２１００"]),
        ("电话010-65432100转123", ["010-65432100"]),
        ("010-12345678", []),  # subscribers do not start with 1
        ("2025-11-27", []),
        ("65432100", []),  # no area code
        ("0000-12345678", []),
        ("编号010-65432100", []),  # negative context
    ],
)
def test_landline(text: str, expected: list[str]) -> None:
    assert found(LANDLINE, text) == expected
