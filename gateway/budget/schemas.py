"""Budget views."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BudgetOut(BaseModel):
    """One app's spend on one dataset against every cap (ε)."""

    app: str
    dataset: str = Field(description="Dataset name.")
    dataset_id: str
    window: str = Field(description="Rolling window whose budget has least left: day/week/month.")
    total: float = Field(description="ε per rolling window.")
    spent: float = Field(description="ε spent by this app in the last window length.")
    remaining: float
    lifetime_total: float = Field(description="ε this app may ever spend on the dataset.")
    lifetime_spent: float
    lifetime_remaining: float
    dataset_total: float = Field(description="ε all apps together may ever spend on the dataset.")
    dataset_spent: float
    dataset_remaining: float
    available: float = Field(description="Most ε the app's next run may spend (every cap held).")
