"""Budget views."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BudgetOut(BaseModel):
    app: str
    dataset: str = Field(description="Dataset name.")
    dataset_id: str
    window_start: str
    total: float = Field(description="ε available in this window.")
    spent: float
    remaining: float
