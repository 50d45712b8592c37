"""QuerySpec: the structured query an app files (no SQL text anywhere).

Column names are identifiers checked against the registered schema; values are
literals or named parameters, always bound, never spliced into SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from policies import QueryShape
from policies.document import EPSILON_FLOOR, EPSILON_PER_RUN_MAX

IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
# Every name the gateway adds to a statement it builds (hidden counts, labels, subqueries)
# starts with one of these. An app may not use them, so no name it chooses can stand for
# one of the gateway's own columns.
RESERVED_PREFIXES = ("cdg_", "_")
RESERVED_RULE = "names starting with 'cdg_' or '_' are reserved for the gateway"
MAX_LIMIT = 100_000

ParamType = Literal["string", "integer", "number", "date", "boolean"]
Scalar = str | int | float | bool
Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "between", "prefix"]


def is_reserved(name: str) -> bool:
    return name.casefold().startswith(RESERVED_PREFIXES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamRef(_Strict):
    param: str = Field(pattern=IDENT)


class ParamDecl(_Strict):
    type: ParamType
    many: bool = False  # the parameter takes a list (for "in")
    default: Scalar | list[Scalar] | None = None


Operand = Scalar | ParamRef


class Filter(_Strict):
    column: str = Field(pattern=IDENT)
    op: Op
    value: Operand | list[Operand]

    @model_validator(mode="after")
    def _arity(self) -> Filter:
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("'between' needs a list of two values")
        if self.op == "in" and isinstance(self.value, list) and not 1 <= len(self.value) <= 1000:
            raise ValueError("'in' needs 1 to 1000 values")
        if self.op not in ("in", "between") and isinstance(self.value, list):
            raise ValueError(f"'{self.op}' takes a single value")
        return self


class Aggregate(_Strict):
    fn: Literal["count", "persons", "sum", "mean"]  # persons: distinct privacy units
    column: str | None = Field(default=None, pattern=IDENT)
    alias: str = Field(alias="as", pattern=IDENT)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _column(self) -> Aggregate:
        if self.fn in ("sum", "mean") and self.column is None:
            raise ValueError(f"'{self.fn}' needs a column")
        if self.fn == "persons" and self.column is not None:
            raise ValueError("'persons' counts distinct residents and takes no column")
        return self


class OrderBy(_Strict):
    column: str = Field(pattern=IDENT)
    desc: bool = False


class QuerySpec(_Strict):
    select: list[str] = Field(default_factory=list, max_length=200)
    aggregates: list[Aggregate] = Field(default_factory=list, max_length=50)
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    group_by: list[str] = Field(default_factory=list, max_length=10)
    order_by: list[OrderBy] = Field(default_factory=list, max_length=10)
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    params: dict[str, ParamDecl] = Field(default_factory=dict, max_length=50)
    epsilon: float | None = Field(
        default=None,
        ge=EPSILON_FLOOR,
        le=EPSILON_PER_RUN_MAX,
        description="ε one run spends (DP purposes; default: policy's).",
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> QuerySpec:
        import re

        for name in [*self.select, *self.group_by, *self.params]:
            if not re.fullmatch(IDENT, name):
                raise ValueError("column and parameter names must be identifiers")
        # A spec filed before the rule is still loaded to run: its release finds the
        # gateway's columns by position, so a reserved name in it changes nothing.
        if not (isinstance(info.context, dict) and info.context.get("stored")):
            self._no_reserved_names()
        for names in (self.select, self.group_by):
            if len(set(names)) != len(names):
                raise ValueError("a column may be named once in select and once in group_by")
        if bool(self.select) == bool(self.aggregates):
            raise ValueError("a query selects columns or computes aggregates, exactly one of them")
        if self.group_by and not self.aggregates:
            raise ValueError("group_by needs aggregates")
        # Compared case-folded: some databases match result names regardless of case.
        aliases = [a.alias.casefold() for a in self.aggregates]
        keys = {k.casefold() for k in self.group_by}
        if len(set(aliases)) != len(aliases) or set(aliases) & keys:
            raise ValueError("aggregate names must be unique and differ from group keys")
        aliases = [a.alias for a in self.aggregates]
        outputs = set(self.select) | set(self.group_by) | set(aliases)
        for order in self.order_by:
            if order.column not in outputs:
                raise ValueError("order_by may only name output columns")
        used = {ref.param for ref in self.param_refs()}
        if used - set(self.params):
            raise ValueError("a filter uses an undeclared parameter")
        return self

    def _no_reserved_names(self) -> None:
        named = {
            "select": list(self.select),
            "group_by": list(self.group_by),
            "aggregate": [a.alias for a in self.aggregates],
            "parameter": [*self.params, *(ref.param for ref in self.param_refs())],
        }
        for what, names in named.items():
            if any(is_reserved(name) for name in names):
                raise ValueError(f"{what} names: {RESERVED_RULE}")

    @property
    def kind(self) -> Literal["rows", "aggregate"]:
        return "aggregate" if self.aggregates else "rows"

    def param_refs(self) -> list[ParamRef]:
        refs: list[ParamRef] = []
        for f in self.filters:
            values = f.value if isinstance(f.value, list) else [f.value]
            refs.extend(v for v in values if isinstance(v, ParamRef))
        return refs

    def columns_used(self) -> set[str]:
        used = set(self.select) | set(self.group_by) | {f.column for f in self.filters}
        used |= {a.column for a in self.aggregates if a.column}
        return used

    def shape(self, sensitive: Collection[str] = ()) -> QueryShape:
        """The columns touched, by how; ``sensitive``: the dataset's columns classed so."""
        aliases = {a.alias for a in self.aggregates}
        parameterised = {
            f.column
            for f in self.filters
            for v in (f.value if isinstance(f.value, list) else [f.value])
            if isinstance(v, ParamRef)
        }
        return QueryShape(
            kind=self.kind,
            selected=tuple(self.select),
            aggregated=tuple(a.column for a in self.aggregates if a.column),
            filtered=tuple(f.column for f in self.filters),
            grouped=tuple(self.group_by),
            ordered=tuple(o.column for o in self.order_by if o.column not in aliases),
            summed=tuple(a.column for a in self.aggregates if a.fn in ("sum", "mean") and a.column),
            epsilon=self.epsilon,
            parameterised=tuple(sorted(parameterised)),
            sensitive=tuple(sorted(self.columns_used() & set(sensitive))),
        )
