"""The public functions: `scan_text`, `scan_lines` (JSON Lines, the format of
``cdg pii scan``) and `redact_text`.

The recognizers, presidio and jieba are imported and built on the first scan,
not when this module is imported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator
from typing import Final, Literal

from anonymizers.errors import PiiError
from anonymizers.pii.findings import ENTITIES, Finding, resolve_overlaps

__all__ = [
    "DEFAULT_MIN_SCORE",
    "MAX_TEXT_LENGTH",
    "RedactionStyle",
    "redact_text",
    "scan_lines",
    "scan_text",
]

#: Findings scoring below this are not reported by default.
DEFAULT_MIN_SCORE: Final = 0.5
#: Longer texts are refused by `scan_lines` (a line is one record, not a file).
MAX_TEXT_LENGTH: Final = 100_000

RedactionStyle = Literal["tag", "mask"]
_STYLES: Final = ("tag", "mask")
_MASK_CHAR: Final = "*"


def scan_text(
    text: str,
    *,
    entities: Collection[str] | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> list[Finding]:
    """Chinese PII in `text`: non-overlapping findings sorted by start.

    Offsets are code-point offsets in `text` as given (full-width digits are
    matched as digits without shifting offsets). `entities` restricts the scan
    to some of `ENTITIES`; `min_score` drops weaker findings.
    """
    if not isinstance(text, str):
        raise PiiError("text must be a string")
    wanted = _check_entities(entities)
    if isinstance(min_score, bool) or not isinstance(min_score, int | float):
        raise PiiError("min_score must be a number")
    if not 0.0 <= min_score <= 1.0:
        raise PiiError("min_score must be between 0 and 1")
    if not text:
        return []
    from anonymizers.pii.engine import get_engine

    return get_engine().analyze(text, entities=wanted, min_score=float(min_score))


def scan_lines(
    lines: Iterable[str],
    *,
    entities: Collection[str] | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> Iterator[str]:
    """JSON Lines in, JSON Lines out (one output line per non-blank input line).

    In: ``{"id": ..., "text": "..."}``. Out: ``{"id": ..., "findings": [{"entity":
    ..., "start": ..., "end": ..., "score": ...}]}``. A line that cannot be read
    gives ``{"id": <id or null>, "error": "..."}``; the error never quotes the
    line, so the output can be logged without leaking the text. Output lines
    have no trailing newline.
    """
    wanted = _check_entities(entities)
    for line in lines:
        if not line.strip():
            continue
        record_id, text, error = _read_record(line)
        if error is not None:
            yield _dump({"id": record_id, "error": error})
            continue
        assert text is not None
        findings = scan_text(text, entities=wanted, min_score=min_score)
        yield _dump({"id": record_id, "findings": [f.to_dict() for f in findings]})


def redact_text(text: str, findings: Iterable[Finding], style: RedactionStyle = "tag") -> str:
    """`text` with each finding replaced: ``<ENTITY>`` ("tag") or one ``*`` per
    character ("mask"). Overlapping findings are resolved first: the higher
    score wins, then the longer span."""
    if style not in _STYLES:
        raise PiiError(f"unknown redaction style; expected one of {', '.join(_STYLES)}")
    kept = resolve_overlaps(findings)
    for finding in kept:
        if not 0 <= finding.start < finding.end <= len(text):
            raise PiiError("finding outside the text")
    parts: list[str] = []
    pos = 0
    for finding in kept:
        parts.append(text[pos : finding.start])
        if style == "tag":
            parts.append(f"<{finding.entity}>")
        else:
            parts.append(_MASK_CHAR * (finding.end - finding.start))
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts)


def _check_entities(entities: Collection[str] | None) -> frozenset[str] | None:
    if entities is None:
        return None
    if isinstance(entities, str):
        raise PiiError("entities must be a collection of entity names, not one string")
    wanted = frozenset(entities)
    unknown = wanted - frozenset(ENTITIES)
    if unknown:
        raise PiiError(f"unknown entities: {', '.join(sorted(unknown))}")
    return wanted


def _read_record(line: str) -> tuple[object, str | None, str | None]:
    """(id, text, error) of one JSON Lines record."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None, None, "line is not valid JSON"
    if not isinstance(record, dict):
        return None, None, "line is not a JSON object"
    record_id = record.get("id")
    if record_id is not None and (
        isinstance(record_id, bool)
        or not isinstance(record_id, str | int | float)
        or (isinstance(record_id, float) and not math.isfinite(record_id))
    ):
        return None, None, "id must be a string, a number or null"
    text = record.get("text")
    if not isinstance(text, str):
        return record_id, None, "text is missing or not a string"
    if len(text) > MAX_TEXT_LENGTH:
        return record_id, None, f"text is longer than {MAX_TEXT_LENGTH} characters"
    return record_id, text, None


def _dump(payload: dict[str, object]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
