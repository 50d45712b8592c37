"""Response bodies of the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    index: int
    recorded_at: datetime
    leaf_hash: str
    entry: dict[str, Any]


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str = Field(description="Base64 RFC 6962 root hash.")
    note: str = Field(description="The C2SP signed note.")
    verifier_keys: list[str] = Field(description="Note verifier keys of every signing key version.")


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str] = Field(description="Base64 hashes, RFC 9162 order.")


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    proof: list[str]


class SummaryRow(BaseModel):
    key: str | None = Field(description="Dataset id or principal name.")
    runs: int
    denials: int
    rows_released: int
    privacy_spent: float


class SubjectLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=1, max_length=64, description="A resident's ID number.")


class SubjectRefOut(BaseModel):
    subject_ref: str


class SubjectAccess(BaseModel):
    index: int = Field(description="The entry's index: pass the last one as `after` for more.")
    time: str
    app: str = Field(description="Name of the app that received the rows.")
    purpose: str | None
    legal_basis: str | None
    dataset: str | None = Field(description="Dataset id.")
    dataset_name: str | None = None
    justification: str | None = Field(
        default=None, description="The justification the app stated when it filed the query."
    )
    columns: list[dict[str, Any]]
