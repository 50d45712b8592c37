"""What a source answered to one planned statement: the columns and at most the row cap.

Release code composes it; the engines on department databases (gateway/catalog/engines.py)
produce it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
