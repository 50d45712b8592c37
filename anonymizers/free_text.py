"""The ``redact_pii`` operator: personal information found in free text is replaced.

Departments rarely label what citizens write (12345 hotline texts hold names,
phones and ID numbers). The operator runs the Chinese PII detector over each
text and replaces each finding by its entity tag (``<CN_MOBILE>``), by ``*``,
or by a tagged keyed pseudonym (``<PERSON:p1_…>``) so a recipient can still see
that two texts mention the same person without learning who.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from anonymizers.pseudonyms import Pseudonymizer

Style = Literal["tag", "mask", "pseudonym"]


class RedactPiiOperator:
    name: ClassVar[str] = "redact_pii"

    def __init__(self, style: Style, pseudonymizer: Pseudonymizer | None) -> None:
        self.style = style
        self.pseudonymizer = pseudonymizer

    def apply(self, values: Sequence[object]) -> list[object]:
        # Imported here: loading the detector (jieba's dictionary) costs seconds.
        from anonymizers.pii import redact_text, scan_text

        out: list[object] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            text = str(value)
            findings = scan_text(text)
            if self.style == "pseudonym":
                out.append(self._pseudonymise(text, findings))
            else:
                out.append(redact_text(text, findings, style=self.style))
        return out

    def _pseudonymise(self, text: str, findings: Sequence[object]) -> str:
        from anonymizers.pii import Finding
        from anonymizers.pii.findings import resolve_overlaps

        pseudonym: Callable[[object], str | None] = self.pseudonymizer or (lambda _: None)
        parts: list[str] = []
        pos = 0
        for finding in resolve_overlaps([f for f in findings if isinstance(f, Finding)]):
            parts.append(text[pos : finding.start])
            parts.append(f"<{finding.entity}:{pseudonym(text[finding.start : finding.end])}>")
            pos = finding.end
        parts.append(text[pos:])
        return "".join(parts)
