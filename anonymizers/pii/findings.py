"""What a scan returns: :class:`Finding`, the entity names, and the one rule
for overlapping findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["ENTITIES", "Finding", "resolve_overlaps"]

#: Every entity the Chinese recognizer set reports, in a stable order.
ENTITIES: Final[tuple[str, ...]] = (
    "CN_RESIDENT_ID",
    "CN_MOBILE",
    "CN_LANDLINE",
    "CN_USCC",
    "BANK_CARD",
    "CN_PLATE",
    "CN_PASSPORT",
    "CN_TRAVEL_PERMIT",
    "EMAIL",
    "PERSON",
    "CN_ADDRESS",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One entity found in a text: ``text[start:end]`` in the original text
    (code points, end exclusive), with a confidence score in [0, 1]."""

    entity: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``cdg pii scan``: entity, start, end, score."""
        return {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep a set of non-overlapping findings, sorted by start.

    Greedy by priority: higher score first, then the longer span, then the
    earlier start, then the entity name (so the result never depends on the
    input order). A finding is dropped when it overlaps one already kept.
    """
    ranked = sorted(
        set(findings),
        key=lambda f: (-f.score, -(f.end - f.start), f.start, f.entity),
    )
    kept: list[Finding] = []
    for finding in ranked:
        if finding.end <= finding.start:
            continue
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    kept.sort(key=lambda f: (f.start, f.end))
    return kept
