"""The usage-policy document a department writes for one dataset.

A policy lists purposes. Each purpose names who may ask for it (role and
domain), whether rows or only aggregates are released, which columns are
visible and how each is treated, and a row scope that is always ANDed into
every query. Anything the document does not grant is denied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.purposes import PURPOSE_PATTERN

IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
NAME = r"^[a-z][a-z0-9_-]{1,63}$"  # roles and domains of principals
TEXT = r"^[^\x00]*$"  # free text: anything but NUL, which PostgreSQL cannot store
# Values a policy compares with a column: integers fit a signed 64-bit column on every
# source dialect and numbers are finite, so a row scope can always be bound.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Scalar = str | Int64 | Finite | bool
# ε a run may spend: below the floor the noise scale outgrows what the mechanism accepts
# (and the answer would be noise only); the ceilings are the per-run and per-window limits.
EPSILON_FLOOR = 0.001
EPSILON_PER_RUN_MAX = 10.0
EPSILON_PER_WINDOW_MAX = 100.0
# Caps no window renews: per (app, dataset) and per dataset across all apps. The defaults
# bound what a resident can lose when a department sets no cap of its own.
EPSILON_LIFETIME_DEFAULT = 20.0
EPSILON_DATASET_DEFAULT = 50.0
EPSILON_CAP_MAX = 1000.0
# Clamping bounds of DP sums and means: beyond this a sum's sensitivity divided by ε is no
# longer a noise scale the mechanism can represent.
BOUND_MAX = 1e12
# Grant periods (not_before / not_after) lie in this range of UTC instants.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

TreatmentName = Literal[
    "keep", "redact", "mask", "pseudonymise", "nullify", "tokenise", "generalise", "redact_pii"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRule(_Strict):
    """How one visible column is released."""

    treatment: TreatmentName = "keep"
    params: dict[str, str | int | float | bool | list[int | float]] = Field(default_factory=dict)


class Bounds(_Strict):
    """Clamping bounds of a numeric column in DP aggregates."""

    lower: int | float = Field(ge=-BOUND_MAX, le=BOUND_MAX, allow_inf_nan=False)
    upper: int | float = Field(ge=-BOUND_MAX, le=BOUND_MAX, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if not self.lower <= self.upper:
            raise ValueError("lower must not exceed upper")
        return self


class DifferentialPrivacy(_Strict):
    """How aggregates of one purpose are noised and what they may spend (pure ε-DP)."""

    epsilon_per_run: float = Field(
        ge=EPSILON_FLOOR, le=EPSILON_PER_RUN_MAX, description="Most ε one run may spend."
    )
    epsilon_per_window: float = Field(
        ge=EPSILON_FLOOR,
        le=EPSILON_PER_WINDOW_MAX,
        description="Budget per app and dataset over any rolling window.",
    )
    window: Literal["day", "week", "month"] = Field(
        default="month", description="Length of the rolling window: 1, 7 or 30 days."
    )
    epsilon_lifetime: float = Field(
        default=EPSILON_LIFETIME_DEFAULT,
        ge=EPSILON_FLOOR,
        le=EPSILON_CAP_MAX,
        description="Most ε one app ever spends on this dataset; no window renews it.",
    )
    epsilon_dataset: float = Field(
        default=EPSILON_DATASET_DEFAULT,
        ge=EPSILON_FLOOR,
        le=EPSILON_CAP_MAX,
        description="Most ε all apps together ever spend on this dataset.",
    )
    contribution_limit: int = Field(
        default=1, ge=1, le=1000, description="Most rows one person contributes (L)."
    )
    bounds: dict[str, Bounds] = Field(default_factory=dict, description="For sum and mean.")
    group_keys: dict[str, list[Scalar]] = Field(
        default_factory=dict, description="Public key sets of the columns apps may group by."
    )
    delta: float = Field(
        default=0.0,
        ge=0,
        lt=1e-3,
        description="Allows grouping by undeclared keys, with threshold partition selection.",
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="Level of the intervals.")

    @model_validator(mode="after")
    def _budget(self) -> DifferentialPrivacy:
        if self.epsilon_per_run > self.epsilon_per_window:
            raise ValueError("epsilon_per_run exceeds epsilon_per_window")
        if self.epsilon_per_run > self.epsilon_lifetime:
            raise ValueError("epsilon_per_run exceeds epsilon_lifetime")
        if self.epsilon_lifetime > self.epsilon_dataset:
            raise ValueError("epsilon_lifetime exceeds epsilon_dataset")
        for column, keys in self.group_keys.items():
            if not keys or len(keys) > 1000 or len(set(map(str, keys))) != len(keys):
                raise ValueError(f"group_keys of {column}: 1 to 1000 distinct keys")
        return self


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
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(f"'{self.op}' takes a single value")
        return self


class SensitiveUse(_Strict):
    """Why a row release of one purpose may carry one sensitive column."""

    legal_basis: str = Field(min_length=1, max_length=500, pattern=TEXT)


class Grantee(_Strict):
    """Principals of this role, in one of these domains ("*" = any), may ask."""

    role: str = Field(pattern=NAME)
    domains: list[Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_-]{1,63})$")]] = Field(
        default_factory=lambda: ["*"], min_length=1
    )


class PurposeRule(_Strict):
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    legal_basis: str = Field(min_length=1, max_length=500, pattern=TEXT)
    grantees: list[Grantee] = Field(min_length=1)
    access: Literal["rows", "aggregate"]
    columns: dict[str, ColumnRule] = Field(min_length=1)
    row_scope: list[ScopeCondition] = Field(default_factory=list)
    min_group_size: int = Field(default=10, ge=1, le=1000)
    approval: Literal["manual", "automatic"] = "manual"
    max_rows: int | None = Field(default=None, ge=1, le=1_000_000)
    k_anonymity: int | None = Field(
        default=None,
        ge=2,
        le=1000,
        description="Row releases: suppress quasi-identifier values until every combination "
        "of them is shared by at least k released rows.",
    )
    small_groups: Literal["suppress", "merge"] = Field(
        default="suppress",
        description="Aggregates: drop groups under k persons, or merge them into one 'other' row.",
    )
    max_runs_per_day: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Most runs per app and day (UTC)."
    )
    not_before: datetime | None = Field(default=None, description="The grant starts then.")
    not_after: datetime | None = Field(default=None, description="The grant ends then.")
    sensitive: bool = Field(
        default=False,
        description="Marks a purpose allowed to use sensitive personal information (PIPL Art. 28).",
    )
    withheld: list[str] = Field(
        default_factory=list, description="Columns stated as withheld (documentation, checked)."
    )
    dp: DifferentialPrivacy | None = Field(
        default=None, description="Noise aggregates with differential privacy (aggregate only)."
    )
    sensitive_columns: dict[str, SensitiveUse] = Field(
        default_factory=dict,
        description="Row releases: the sensitive columns this purpose releases, each with the "
        "legal basis for releasing it.",
    )
    allowed_values: dict[str, list[Scalar]] = Field(
        default_factory=dict,
        description="Exact aggregates: the values a filter may compare a column with. Filters "
        "through parameters need a declared set (or a row scope pinning the column).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PurposeRule:
        if self.dp is not None and self.access != "aggregate":
            raise ValueError("dp applies to aggregate access only")
        for moment in (self.not_before, self.not_after):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("not_before and not_after need a time zone")
            if moment is not None and not _within(moment):
                raise ValueError("not_before and not_after lie in 1970-01-01 .. 3000-01-01 (UTC)")
        if self.not_before and self.not_after and self.not_before >= self.not_after:
            raise ValueError("not_before must come before not_after")
        both = sorted(set(self.withheld) & set(self.columns))
        if both:
            raise ValueError(f"columns both released and withheld: {', '.join(both)}")
        if self.sensitive_columns and self.access != "rows":
            raise ValueError("sensitive_columns apply to row releases only")
        unlisted = sorted(set(self.sensitive_columns) - set(self.columns))
        if unlisted:
            raise ValueError(f"sensitive_columns names unlisted columns: {', '.join(unlisted)}")
        for name, values in self.allowed_values.items():
            if not 1 <= len(values) <= 1000 or len(set(map(str, values))) != len(values):
                raise ValueError(f"allowed_values of {name}: 1 to 1000 distinct values")
        return self

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        import re

        bad = [name for name in value if not re.fullmatch(IDENT, name)]
        if bad:
            raise ValueError("column names must be identifiers")
        return value


def _within(moment: datetime) -> bool:
    try:
        return EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:  # an extreme offset at the end of the datetime range
        return False


class UsagePolicy(_Strict):
    version: Literal[1] = 1
    retention: str = Field(default="", max_length=500, pattern=TEXT)
    purposes: list[PurposeRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_purposes(self) -> UsagePolicy:
        names = [p.purpose for p in self.purposes]
        if len(names) != len(set(names)):
            raise ValueError("each purpose may appear once")
        return self


def check_policy(
    policy: UsagePolicy,
    columns: Iterable[str],
    classifications: dict[str, str],
    known_purposes: Container[str] | None = None,
) -> list[str]:
    """Problems of a valid document against the dataset it governs (empty = fine)."""
    known = set(columns)
    problems: list[str] = []
    for rule in policy.purposes:
        if known_purposes is not None and rule.purpose not in known_purposes:
            problems.append(f"purpose {rule.purpose} is not in the purpose hierarchy")
        for name in rule.columns:
            if classifications.get(name) == "sensitive" and not rule.sensitive:
                problems.append(
                    f"purpose {rule.purpose}: sensitive column {name} needs a purpose marked "
                    f"sensitive: true / 敏感字段“{name}”需要标记为 sensitive: true 的用途"
                )
        problems.extend(sensitive_problems(rule, classifications))
        problems.extend(singling_out_problems(rule, classifications))
        for name in rule.allowed_values:
            if name not in rule.columns:
                problems.append(
                    f"purpose {rule.purpose}: allowed_values names column {name}, which it does "
                    f"not list / allowed_values 中的字段“{name}”未列入该用途"
                )
        for name, col in rule.columns.items():
            if name not in known:
                problems.append(f"purpose {rule.purpose}: column {name} is not in the dataset")
            elif col.treatment == "keep" and classifications.get(name) == "direct_identifier":
                # Rows would show it; aggregates could group by it: raw either way.
                problems.append(
                    f"purpose {rule.purpose}: direct identifier {name} cannot be released raw"
                )
        if rule.dp is not None:
            for name in [*rule.dp.bounds, *rule.dp.group_keys]:
                if name not in rule.columns:
                    problems.append(
                        f"purpose {rule.purpose}: dp names column {name}, which it does not list"
                    )
        for cond in rule.row_scope:
            if cond.column not in known:
                problems.append(
                    f"purpose {rule.purpose}: row scope column {cond.column} is not in the dataset"
                )
    return problems


# Treatments whose output still tells one person from another: a pseudonym, a token and a
# masked name or number are (nearly) unique per person, so no class of k persons shares them.
SINGLING_OUT = frozenset({"pseudonymise", "tokenise", "mask"})


def sensitive_problems(rule: PurposeRule, classifications: dict[str, str]) -> list[str]:
    """Sensitive values leave only through DP, or in rows the purpose names with a basis."""
    sensitive = {n for n, c in classifications.items() if c == "sensitive"}
    touched = [n for n in rule.columns if n in sensitive]
    touched += [c.column for c in rule.row_scope if c.column in sensitive]
    problems: list[str] = []
    for name in dict.fromkeys(touched):
        if rule.access == "aggregate" and rule.dp is None:
            # An exact count, sum, group or filter over it would publish it exactly.
            problems.append(
                f"purpose {rule.purpose}: sensitive column {name} may only be aggregated with "
                f"differential privacy (dp), never in exact aggregates / 敏感字段“{name}”只能"
                "用于差分隐私统计, 不得用于精确统计(度量、分组或筛选)"
            )
        elif rule.access == "rows" and name not in rule.sensitive_columns:
            problems.append(
                f"purpose {rule.purpose}: sensitive column {name} is released in rows only when "
                f"sensitive_columns names it with its legal basis / 敏感字段“{name}”须在 "
                "sensitive_columns 中写明法律依据才能按行发布"
            )
    return problems


def singling_out_problems(rule: PurposeRule, classifications: dict[str, str]) -> list[str]:
    """k-anonymity means nothing while a released column still tells the persons apart."""
    if rule.k_anonymity is None:
        return []
    problems: list[str] = []
    for name, col in rule.columns.items():
        per_person = col.treatment in SINGLING_OUT or (
            classifications.get(name) in ("direct_identifier", "free_text")
            and col.treatment not in ("generalise", "nullify", "redact")
        )
        if per_person:
            problems.append(
                f"purpose {rule.purpose}: k_anonymity cannot hold while column {name} is "
                f"released per person ({col.treatment}); generalise, redact or withhold it / "
                f"字段“{name}”按人发布({col.treatment}), 与 k-匿名矛盾; 请泛化、遮蔽或不发布"
            )
    return problems


def policy_version(policy: UsagePolicy) -> str:
    """SHA-256 of the canonical document: the version recorded with every decision."""
    canonical = json.dumps(
        policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
