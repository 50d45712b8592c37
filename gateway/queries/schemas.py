"""Bodies of query runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict, max_length=50)


class ReceiptOut(BaseModel):
    """A proof bundle a client can keep and verify offline (cf. C2SP tlog-proof)."""

    entry_index: int = Field(description="Index of this run's entry in the access log.")
    leaf_hash: str = Field(description="RFC 6962 leaf hash of the entry (hex).")
    recorded_at: datetime
    tree_size: int = Field(description="Size of the tree the proof and checkpoint refer to.")
    inclusion_proof: list[str] = Field(description="RFC 6962 audit path, base64 hashes.")
    checkpoint: str = Field(description="Signed checkpoint (C2SP signed note) at tree_size.")
    entry: str = Field(description="The entry's canonical JSON: the bytes the leaf hashes.")


class DPInfo(BaseModel):
    """How a differentially private release was made and what it cost."""

    epsilon: float = Field(description="ε this run spent (0 when answered from a stored release).")
    delta: float
    mechanism: str
    confidence: float = Field(description="Level of every interval, e.g. 0.95.")
    scales: dict[str, float] = Field(description="Noise scale of each released measure.")
    intervals: list[list[list[float] | None]] = Field(
        description="Per row and column: [low, high] at the stated level; null for group keys."
    )
    cached: bool = Field(description="True when an identical earlier run's answer was returned.")
    window_start: str = Field(description="Start of the period whose identical runs share it.")
    budget_total: float = Field(description="ε per rolling window (the tightest window).")
    budget_spent: float = Field(description="ε this app spent on the dataset in that window.")
    budget_remaining: float
    budget_lifetime_remaining: float = Field(description="ε left of this app's lifetime cap.")
    budget_dataset_remaining: float = Field(description="ε left of the dataset's cap (all apps).")
    budget_available: float = Field(description="Most ε a next run may spend (every cap held).")


class RunResult(BaseModel):
    query_id: str
    kind: str
    purpose: str
    policy_version: str
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    treatments: dict[str, str]
    suppressed_cells: int = Field(
        default=0, description="Quasi-identifier cells withheld so the rows are k-anonymous."
    )
    withheld_values: int = Field(
        default=0,
        description="Stored values not of their column's declared type, released as null.",
    )
    truncated: bool = Field(description="True when the row cap cut the result.")
    retention: str
    receipt: ReceiptOut
    dp: DPInfo | None = Field(
        default=None, description="Present on differentially private releases."
    )
