"""The usage-policy document a department writes for one dataset.

A policy lists purposes. Each purpose names who may ask for it (role and
domain), whether rows or only aggregates are released, which columns are
visible and how each is treated, and a row scope that is always ANDed into
every query. Anything the document does not grant is denied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.purposes import PURPOSE_PATTERN

IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
Scalar = str | int | float | bool

TreatmentName = Literal["keep", "redact", "mask", "pseudonymise", "nullify"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRule(_Strict):
    """How one visible column is released."""

    treatment: TreatmentName = "keep"
    params: dict[str, str | int] = Field(default_factory=dict)


class ScopeCondition(_Strict):
    """One condition of a row scope; ``principal`` takes the value from the requester."""

    column: str = Field(pattern=IDENT)
    op: Literal["=", "!=", "<", "<=", ">", ">=", "in"]
    value: Scalar | list[Scalar] | None = None
    principal: Literal["domain"] | None = None

    @model_validator(mode="after")
    def _one_value(self) -> ScopeCondition:
        if (self.value is None) == (self.principal is None):
            raise ValueError("a scope condition needs exactly one of value or principal")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("'in' needs a list value")
        return self


class Grantee(_Strict):
    """Principals of this role, in one of these domains ("*" = any), may ask."""

    role: str = Field(min_length=1, max_length=64)
    domains: list[str] = Field(default_factory=lambda: ["*"], min_length=1)


class PurposeRule(_Strict):
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    legal_basis: str = Field(min_length=1, max_length=500)
    grantees: list[Grantee] = Field(min_length=1)
    access: Literal["rows", "aggregate"]
    columns: dict[str, ColumnRule] = Field(min_length=1)
    row_scope: list[ScopeCondition] = Field(default_factory=list)
    min_group_size: int = Field(default=10, ge=1, le=1000)
    approval: Literal["manual", "automatic"] = "manual"
    max_rows: int | None = Field(default=None, ge=1)

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        import re

        bad = [name for name in value if not re.match(IDENT, name)]
        if bad:
            raise ValueError("column names must be identifiers")
        return value


class UsagePolicy(_Strict):
    version: Literal[1] = 1
    retention: str = Field(default="", max_length=500)
    purposes: list[PurposeRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_purposes(self) -> UsagePolicy:
        names = [p.purpose for p in self.purposes]
        if len(names) != len(set(names)):
            raise ValueError("each purpose may appear once")
        return self


def check_policy(
    policy: UsagePolicy, columns: Iterable[str], classifications: dict[str, str]
) -> list[str]:
    """Problems of a valid document against the dataset it governs (empty = fine)."""
    known = set(columns)
    problems: list[str] = []
    for rule in policy.purposes:
        for name, col in rule.columns.items():
            if name not in known:
                problems.append(f"purpose {rule.purpose}: column {name} is not in the dataset")
            elif (
                rule.access == "rows"
                and col.treatment == "keep"
                and classifications.get(name) == "direct_identifier"
            ):
                problems.append(
                    f"purpose {rule.purpose}: direct identifier {name} cannot be released raw"
                )
        for cond in rule.row_scope:
            if cond.column not in known:
                problems.append(
                    f"purpose {rule.purpose}: row scope column {cond.column} is not in the dataset"
                )
    return problems


def policy_version(policy: UsagePolicy) -> str:
    """SHA-256 of the canonical document: the version recorded with every decision."""
    canonical = json.dumps(
        policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
