"""What an entry records about residents: SubjectRefs and the digest of a justification.

The justification is free text an app wrote, so the log keeps its SHA-256 digest rather
than the text (the text stays where it can be corrected or erased); a resident's history
(gateway/oversight/residents.py) shows whether it is still the text the entry recorded.
"""

from __future__ import annotations

import hashlib

from gateway.auditlog.subjects import SUBJECT_REF


def is_subject_ref(value: str) -> bool:
    return SUBJECT_REF.fullmatch(value) is not None


def justification_digest(text: str) -> str:
    """What a run's entry records of the app's justification: SHA-256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
