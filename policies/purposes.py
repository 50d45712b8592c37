"""Purpose hierarchy by dotted paths: ``elderly-care`` covers ``elderly-care.home-visit``.

A grant for a parent covers its children, never the reverse.
"""

from __future__ import annotations

import re

PURPOSE_PATTERN = r"^[a-z][a-z0-9-]{0,39}(\.[a-z][a-z0-9-]{0,39}){0,5}$"
_PURPOSE = re.compile(PURPOSE_PATTERN)


def is_purpose(text: str) -> bool:
    return bool(_PURPOSE.fullmatch(text))


def covers(granted: str, requested: str) -> bool:
    """True when a grant for ``granted`` covers a request for ``requested``."""
    return requested == granted or requested.startswith(granted + ".")
