"""Request and response bodies of the catalog (sources and datasets)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from gateway.queries.spec import IDENT, ParamType
from policies import UsagePolicy
from policies.document import TEXT

NAME = r"^[a-z][a-z0-9_-]{1,63}$"
TABLE = r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$"
Classification = Literal[
    "direct_identifier", "quasi_identifier", "sensitive", "attribute", "free_text"
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceCreate(_In):
    name: str = Field(pattern=NAME, description="Short name, unique in the gateway.")
    url: SecretStr = Field(
        description="SQLAlchemy URL of the department's database; stored encrypted, never returned."
    )


class SourceOut(BaseModel):
    id: str
    name: str
    owner: str
    dialect: str
    created_at: datetime


class ColumnIn(_In):
    name: str = Field(pattern=IDENT)
    type: ParamType
    classification: Classification
    description: str = Field(default="", max_length=500, pattern=TEXT)


class DatasetCreate(_In):
    name: str = Field(pattern=NAME)
    source: str = Field(pattern=NAME, description="Name of a source the department registered.")
    table: str = Field(pattern=TABLE)
    description: str = Field(default="", max_length=2000, pattern=TEXT)
    privacy_unit: str = Field(pattern=IDENT, description="Column identifying one resident.")
    resident_id: str | None = Field(
        default=None,
        pattern=IDENT,
        description="Column holding the resident's ID number (身份证号), by which residents' "
        "access history is found; default: the privacy unit.",
    )
    columns: list[ColumnIn] = Field(min_length=1, max_length=500)
    policy: UsagePolicy

    @model_validator(mode="after")
    def _unit_is_a_column(self) -> DatasetCreate:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError("column names must be unique")
        if self.privacy_unit not in names:
            raise ValueError("privacy_unit must be one of the columns")
        if self.resident_id is not None and self.resident_id not in names:
            raise ValueError("resident_id must be one of the columns")
        return self


class PolicyUpdate(_In):
    policy: UsagePolicy


class ColumnOut(BaseModel):
    name: str
    type: str
    classification: str
    description: str = ""


class PurposeOut(BaseModel):
    """What one purpose offers to the principal reading the catalog."""

    purpose: str
    legal_basis: str
    access: str
    approval: str
    columns: dict[str, str]


class DatasetOut(BaseModel):
    id: str
    name: str
    owner: str
    description: str
    privacy_unit: str
    resident_id: str | None = None
    columns: list[ColumnOut]
    policy_version: str
    retention: str
    purposes: list[PurposeOut]
    policy: UsagePolicy | None = Field(
        default=None, description="The full policy document, shown to the owning department."
    )
    pii_findings: list[ColumnFindingOut] | None = Field(
        default=None,
        description="At registration: columns whose sampled content contradicts their class.",
    )
    created_at: datetime
    updated_at: datetime


class ColumnFindingOut(BaseModel):
    """What the PII scan found in one column's sample (counts only, never values)."""

    column: str
    classification: str
    sampled: int
    entities: dict[str, int]
    severity: str
    message: str
