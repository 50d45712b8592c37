"""Request and response bodies of the catalog (sources and datasets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

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
    retired_at: datetime | None = Field(
        default=None, description="Set once retired (soft: the row stays, it serves nothing)."
    )
    retired_by: str | None = Field(default=None, description="The principal that retired it.")
    retire_reason: str | None = None


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


class PurposeNodeOut(BaseModel):
    """One node of the purpose hierarchy (用途层级); a grant for it covers its descendants."""

    purpose: str = Field(description="Dotted path, e.g. public-service.elderly-care.home-visit.")
    zh: str
    en: str
    parent: str | None = Field(description="The node above it; None for a top-level purpose.")
    depth: int = Field(description="0 for a top-level purpose.")


class ScopeOut(BaseModel):
    """One row-scope condition: rows where ``column op value`` (or the caller's domain)."""

    column: str
    op: str
    value: Any = None
    principal: str | None = Field(
        default=None, description="`domain`: compared with the calling app's domain."
    )


class PrivacyBudgetOut(BaseModel):
    """A purpose's differential-privacy terms, and what the calling app has left."""

    epsilon_per_run: float
    epsilon_per_window: float
    window: str
    epsilon_lifetime: float
    epsilon_dataset: float
    epsilon_left: float | None = Field(
        default=None,
        description="What the calling app may still spend in the current window (and under "
        "its lifetime and the dataset's caps); only shown to apps.",
    )


class PurposeOut(BaseModel):
    """What one purpose offers to the principal reading the catalog."""

    purpose: str
    legal_basis: str
    access: str
    approval: str
    columns: dict[str, str]
    row_scope: list[ScopeOut] = Field(default_factory=list)
    min_group_size: int = Field(default=10, description="Smallest group an aggregate shows.")
    k_anonymity: int | None = None
    max_rows: int | None = None
    max_runs_per_day: int | None = Field(default=None, description="Daily quota of runs.")
    dp: PrivacyBudgetOut | None = None


class ClosedQueryOut(BaseModel):
    """An approved query revoked, or a pending request rejected, by a lifecycle change."""

    id: str
    app: str
    purpose: str
    status: Literal["revoked", "rejected"]
    reason: str


class FieldChange(BaseModel):
    """One term that differs: ``field`` is a dotted path (``columns.name.treatment``)."""

    field: str
    old: Any = None
    new: Any = None


class PurposeDiffOut(BaseModel):
    purpose: str
    changes: list[FieldChange]


class PolicyDiffOut(BaseModel):
    """Old against new policy, by purpose; ``changed`` is false for the same document."""

    old_version: str
    new_version: str
    changed: bool
    retention: FieldChange | None = None
    purposes_added: list[str]
    purposes_removed: list[str]
    purposes_changed: list[PurposeDiffOut]


class QueryImpactOut(BaseModel):
    """What a new policy does to one approved query.

    ``breaks``: the new policy refuses it (``reason_code`` as at a run); the replacement
    revokes it with ``reason``. ``changes``: it still runs, under changed terms.
    """

    id: str
    app: str
    purpose: str
    effect: Literal["breaks", "changes"]
    reason_code: str | None = None
    reason: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)


class PolicyPreviewOut(BaseModel):
    """A policy replacement's effect, computed without changing anything."""

    dataset: str
    diff: PolicyDiffOut
    breaks: list[QueryImpactOut]
    changes: list[QueryImpactOut]
    unchanged: int = Field(description="Approved queries the new policy leaves as they are.")


class Retirement(_In):
    reason: str = Field(min_length=1, max_length=2000, pattern=TEXT)


class DatasetRetirementOut(BaseModel):
    id: str
    name: str
    owner: str
    retired_at: datetime | None = Field(
        default=None, description="Set once retired (soft: the row stays, it serves nothing)."
    )
    retired_by: str | None = Field(default=None, description="The principal that retired it.")
    retire_reason: str | None = None
    closed: list[ClosedQueryOut] = Field(
        description="Approved queries revoked and pending requests rejected, with the reason."
    )


class SourceRetirementOut(BaseModel):
    source: SourceOut
    datasets: list[DatasetRetirementOut] = Field(description="Its datasets, retired with it.")


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
    revoked_queries: list[QueryImpactOut] | None = Field(
        default=None,
        description="On a policy replacement: the approved queries it broke, now revoked.",
    )
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = Field(
        default=None, description="Set once retired (soft: the row stays, it serves nothing)."
    )
    retired_by: str | None = Field(default=None, description="The principal that retired it.")
    retire_reason: str | None = None


class ColumnFindingOut(BaseModel):
    """What the PII scan found in one column's sample (counts only, never values)."""

    column: str
    classification: str
    sampled: int
    entities: dict[str, int]
    severity: str
    message: str
