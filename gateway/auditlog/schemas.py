"""Response bodies of the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    index: int
    recorded_at: datetime
    leaf_hash: str
    entry: dict[str, Any]
