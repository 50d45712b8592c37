import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from anonymizers import PiiError
from anonymizers.pii import (
    ENTITIES,
    Finding,
    build_analyzer,
    build_registry,
    redact_text,
    scan_lines,
    scan_text,
)
from anonymizers.pii.findings import resolve_overlaps

TEXT = (
    "我叫欧阳娜娜，手机＋８６ １３８ １２３４ ５６７８，身份证11010519491231002X，"
    "住在北京市朝阳区幸福街道和平社区3号楼2单元502室。车牌京AD12345，邮箱nana@example.com，"
    "银行卡6222021234567890128，公司代码91110000600037341L，座机010-65432100，"
    "护照号E12345678，港澳通行证C12345678。订单号202511270001234567。"
)
EXPECTED = [
    ("PERSON", "欧阳娜娜"),
    ("CN_MOBILE", "＋８６ １３８ １２３４ ５６７８"),
    ("CN_RESIDENT_ID", "11010519491231002X"),
    ("CN_ADDRESS", "北京市朝阳区幸福街道和平社区3号楼2单元502室"),
    ("CN_PLATE", "京AD12345"),
    ("EMAIL", "nana@example.com"),
    ("BANK_CARD", "6222021234567890128"),
    ("CN_USCC", "91110000600037341L"),
    ("CN_LANDLINE", "010-65432100"),
    ("CN_PASSPORT", "E12345678"),
    ("CN_TRAVEL_PERMIT", "C12345678"),
]


def test_scan_text_finds_every_entity_with_original_offsets() -> None:
    findings = scan_text(TEXT)
    assert [(f.entity, TEXT[f.start : f.end]) for f in findings] == EXPECTED
    assert {f.entity for f in findings} == set(ENTITIES)
    assert all(0.5 <= f.score <= 1.0 for f in findings)


def test_scan_text_options() -> None:
    only = scan_text(TEXT, entities=["CN_MOBILE", "PERSON"])
    assert [f.entity for f in only] == ["PERSON", "CN_MOBILE"]
    assert scan_text("") == []
    assert scan_text("护照号E12345678", min_score=0.95) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"entities": ["NOT_AN_ENTITY"]},
        {"entities": "PERSON"},
        {"min_score": 1.5},
        {"min_score": -0.1},
        {"min_score": True},
    ],
)
def test_scan_text_validates_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(PiiError):
        scan_text("张伟", **kwargs)


def test_scan_text_rejects_non_strings() -> None:
    with pytest.raises(PiiError):
        scan_text(b"13812345678")  # type: ignore[arg-type]


def test_scan_lines() -> None:
    secret = "联系人张伟，电话13812345678"
    lines = [
        json.dumps({"id": 1, "text": secret}, ensure_ascii=False),
        "",
        "not json " + secret,
        "[1, 2]",
        json.dumps({"id": [1], "text": "x"}),
        json.dumps({"id": "a"}),
        json.dumps({"id": "b", "text": 5}),
        json.dumps({"id": "c", "text": "x" * 100_001}),
        json.dumps({"text": "没有个人信息"}, ensure_ascii=False),
    ]
    out = [json.loads(line) for line in scan_lines(lines)]
    assert out[0] == {
        "id": 1,
        "findings": [
            {"entity": "PERSON", "start": 3, "end": 5, "score": 0.95},
            {"entity": "CN_MOBILE", "start": 8, "end": 19, "score": 1.0},
        ],
    }
    assert out[1] == {"id": None, "error": "line is not valid JSON"}
    assert out[2] == {"id": None, "error": "line is not a JSON object"}
    assert out[3] == {"id": None, "error": "id must be a string, a number or null"}
    assert out[4] == {"id": "a", "error": "text is missing or not a string"}
    assert out[5] == {"id": "b", "error": "text is missing or not a string"}
    assert out[6] == {"id": "c", "error": "text is longer than 100000 characters"}
    assert out[7] == {"id": None, "findings": []}
    assert len(out) == len(lines) - 1  # the blank line is skipped
    assert all("张伟" not in json.dumps(o, ensure_ascii=False) for o in out)


def test_redact_text() -> None:
    text = "联系人张伟，电话13812345678。"
    findings = scan_text(text)
    assert redact_text(text, findings) == "联系人<PERSON>，电话<CN_MOBILE>。"
    assert redact_text(text, findings, style="mask") == "联系人**，电话***********。"
    assert redact_text(text, []) == text


def test_redact_text_resolves_overlaps_by_score_then_length() -> None:
    text = "abcdefghij"
    findings = [
        Finding("PERSON", 0, 4, 0.8),
        Finding("CN_ADDRESS", 2, 8, 0.8),  # same score, longer: wins over PERSON
        Finding("EMAIL", 7, 10, 0.9),  # higher score: wins over CN_ADDRESS
    ]
    # EMAIL is kept first, CN_ADDRESS overlaps it, PERSON then overlaps nothing kept
    assert redact_text(text, findings) == "<PERSON>efg<EMAIL>"
    assert redact_text(text, findings[:2]) == "ab<CN_ADDRESS>ij"


def test_resolve_overlaps_is_order_independent() -> None:
    findings = [Finding("A", 0, 3, 0.5), Finding("B", 0, 3, 0.5), Finding("C", 5, 6, 0.1)]
    assert resolve_overlaps(findings) == resolve_overlaps(reversed(findings))
    assert [f.entity for f in resolve_overlaps(findings)] == ["A", "C"]


@pytest.mark.parametrize(
    ("findings", "style"),
    [
        ([Finding("PERSON", 0, 99, 1.0)], "tag"),
        ([Finding("PERSON", -1, 1, 1.0)], "tag"),
        ([], "stars"),
    ],
)
def test_redact_text_validates(findings: list[Finding], style: str) -> None:
    with pytest.raises(PiiError):
        redact_text("张伟", findings, style=style)  # type: ignore[arg-type]


def test_recognizers_plug_into_presidio() -> None:
    registry = build_registry()
    assert registry.supported_languages == ["zh"]
    assert set(registry.get_supported_entities(["zh"])) == set(ENTITIES)
    analyzer = build_analyzer()
    results = analyzer.analyze(TEXT, language="zh", score_threshold=0.5)
    spans = sorted((r.entity_type, TEXT[r.start : r.end]) for r in results)
    assert spans == sorted(EXPECTED)


def test_nothing_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import tldextract

    from anonymizers.pii.engine import ChinesePiiEngine

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(tldextract, "extract", refuse)
    assert [f.entity for f in ChinesePiiEngine().analyze(TEXT)] == [e for e, _ in EXPECTED]
    assert len(build_analyzer().analyze(TEXT, language="zh", score_threshold=0.5)) == len(EXPECTED)


def test_importing_the_package_loads_neither_presidio_nor_jieba() -> None:
    code = (
        "import sys, anonymizers, anonymizers.pii; "
        "print(sorted(m for m in ('presidio_analyzer', 'jieba', 'spacy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_presidio_predefined_recognizers_are_not_shadowed() -> None:
    """presidio finds predefined recognizers by class name among all subclasses:
    ours must not reuse one of those names (EmailRecognizer did)."""
    from presidio_analyzer import RecognizerRegistry

    import anonymizers.pii.recognizers as ours

    registry = RecognizerRegistry(supported_languages=["zh"])
    registry.load_predefined_recognizers(languages=["zh"])
    loaded = {type(r).__module__ for r in registry.recognizers}
    assert all(module.startswith("presidio_analyzer") for module in loaded)
    assert all(name.startswith(("Cn", "Chinese")) for name in ours.__all__)


def test_country_tags() -> None:
    registry = build_registry()
    assert registry.get_country_codes() == ["cn"]
    untagged = [r.name for r in registry.recognizers if not r.is_country_specific()]
    assert untagged == ["CnEmailRecognizer"]
