"""QuerySpec + Decision -> one SQLAlchemy Core SELECT.

Identifiers come only from the registered schema; every value is a bound
parameter. The policy's row scope is ANDed with the app's filters, so no
filter can widen it. Aggregates also count distinct privacy units per group,
which the gateway uses to suppress groups smaller than the policy's k.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    and_,
    bindparam,
    column,
    func,
    select,
    table,
)
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.types import TypeEngine

from gateway.queries.binding import DatasetView
from gateway.queries.conformance import exact_sum, numeric_only, raw
from gateway.queries.spec import Filter, ParamRef, QuerySpec
from policies import Decision

# The gateway's own columns: always the last column of the statement, and found there by
# position (never by these labels, which only name them in SQL). Apps cannot use the prefix.
PERSONS = "cdg_persons"  # hidden per-group count of distinct privacy units
SUBJECT = "cdg_subject"  # hidden privacy-unit value of each released row, for the access index
RESIDENT = "cdg_resident"  # hidden ID number of each released row, when not the privacy unit

_STORAGE: dict[str, TypeEngine[Any]] = {
    "string": String(),
    "integer": BigInteger(),  # PostgreSQL casts binds to it: 32 bits is too narrow
    "number": Float(),
    "date": Date(),
    "boolean": Boolean(),
}


def table_of(view: DatasetView) -> TableClause:
    schema, _, name = view.table.rpartition(".")
    cols = [column(c.name, _STORAGE[c.storage]) for c in view.columns.values()]
    return table(name, *cols, schema=schema or None)


def _as_stored(value: Any, storage: str) -> Any:
    # Dates kept as ISO text in the source compare as text.
    if isinstance(value, date) and storage == "string":
        return value.isoformat()
    return value


_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _escape_like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _condition(col: ColumnClause[Any], op: str, value: Any, storage: str) -> ColumnElement[bool]:
    def bound(v: Any) -> Any:
        return bindparam(None, _as_stored(v, storage), type_=col.type, unique=True)

    comparison = _COMPARISONS.get(op)
    if comparison is not None:
        return comparison(col, bound(value))
    if op == "in":
        return col.in_([_as_stored(v, storage) for v in value])
    if op == "between":
        return col.between(bound(value[0]), bound(value[1]))
    if op == "prefix":
        pattern = bindparam(None, _escape_like(str(value)) + "%", type_=String(), unique=True)
        return col.like(pattern, escape="!")
    raise ValueError(f"unsupported operator {op}")


def _resolve(f: Filter, params: Mapping[str, Any]) -> Any:
    def one(v: Any) -> Any:
        return params[v.param] if isinstance(v, ParamRef) else v

    if isinstance(f.value, list):
        return [one(v) for v in f.value]
    return one(f.value)


def _coerce_literal(value: Any, kind: str) -> Any:
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, list):
        return [_coerce_literal(v, kind) for v in value]
    return value


def _takes_params(f: Filter) -> bool:
    values = f.value if isinstance(f.value, list) else [f.value]
    return any(isinstance(v, ParamRef) for v in values)


def _named_condition(col: ColumnClause[Any], op: str, name: str) -> ColumnElement[bool]:
    """The condition of a filter whose value comes with each run: bound by ``name``."""
    comparison = _COMPARISONS.get(op)
    if comparison is not None:
        return comparison(col, bindparam(name, type_=col.type))
    if op == "in":
        return col.in_(bindparam(name, type_=col.type, expanding=True))
    if op == "between":
        return col.between(
            bindparam(f"{name}_low", type_=col.type), bindparam(f"{name}_high", type_=col.type)
        )
    if op == "prefix":
        return col.like(bindparam(name, type_=String()), escape="!")
    raise ValueError(f"unsupported operator {op}")


def where_clause(
    t: TableClause,
    view: DatasetView,
    spec: QuerySpec,
    decision: Decision,
    params: Mapping[str, Any] | None,
) -> list[ColumnElement[bool]]:
    """The policy's row scope AND every filter of the app: a conjunction, nothing else.

    ``params`` None: filters that take run parameters get named bind parameters
    (``run_values`` gives their values), so one statement serves every run.
    """
    conditions: list[ColumnElement[bool]] = []
    for scope in decision.row_scope:
        info = view.columns[scope.column]
        value = _coerce_literal(scope.value, info.type)
        conditions.append(_condition(t.c[scope.column], scope.op, value, info.storage))
    for n, f in enumerate(spec.filters):
        info = view.columns[f.column]
        if params is None and _takes_params(f):
            conditions.append(_named_condition(t.c[f.column], f.op, f"run_{n}"))
            continue
        value = _coerce_literal(_resolve(f, params or {}), info.type)
        conditions.append(_condition(t.c[f.column], f.op, value, info.storage))
    return conditions


def run_values(view: DatasetView, spec: QuerySpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The bind values of one run for a statement planned with ``params=None``."""
    values: dict[str, Any] = {}
    for n, f in enumerate(spec.filters):
        if not _takes_params(f):
            continue
        info = view.columns[f.column]
        value = _coerce_literal(_resolve(f, params), info.type)
        name = f"run_{n}"
        if f.op == "in":
            values[name] = [_as_stored(v, info.storage) for v in value]
        elif f.op == "between":
            values[f"{name}_low"] = _as_stored(value[0], info.storage)
            values[f"{name}_high"] = _as_stored(value[1], info.storage)
        elif f.op == "prefix":
            values[name] = _escape_like(str(value)) + "%"
        else:
            values[name] = _as_stored(value, info.storage)
    return values


def plan(
    view: DatasetView,
    spec: QuerySpec,
    decision: Decision,
    params: Mapping[str, Any] | None,
    fetch_limit: int,
) -> Select[Any]:
    """The statement; with ``params`` None, one for every run (see ``run_values``)."""
    t = table_of(view)
    conditions = where_clause(t, view, spec, decision, params)

    if spec.kind == "rows":
        subject = t.c[view.privacy_unit].label(SUBJECT)
        # Layout: the selected columns, the resident's ID number when the dataset declares
        # another column for it than the privacy unit, then the privacy unit.
        hidden = [subject]
        if view.resident_id is not None:
            hidden = [t.c[view.resident_id].label(RESIDENT), subject]
        # Released columns are read as stored: the release holds them to their declared type.
        stmt = select(*[raw(t.c[name], name) for name in spec.select], *hidden)
        order_cols: dict[str, ColumnElement[Any]] = {name: t.c[name] for name in spec.select}
    else:
        keys = [t.c[name] for name in spec.group_by]
        # Sums (``exact_sum``) and means read numbers only (a text value in a SQLite numeric
        # column is left out, not read as 0); group keys are read as stored, like released
        # columns.
        numeric = {
            name: numeric_only(t.c[name], view.columns[name].type)
            for name in {a.column for a in spec.aggregates if a.fn == "mean"}
            if name is not None
        }
        # Layout: group keys, the aggregates in the spec's order, then the person count.
        outputs: dict[str, ColumnElement[Any]] = {}
        for agg in spec.aggregates:
            target = t.c[agg.column] if agg.column else None
            if agg.fn == "count":
                expr: ColumnElement[Any] = (
                    func.count(target) if target is not None else func.count()
                )
            elif agg.fn == "persons":
                expr = func.count(t.c[view.privacy_unit].distinct())
            elif agg.fn == "sum":
                column = str(agg.column)
                expr = exact_sum(t.c[column], view.columns[column].type)
            else:
                expr = func.avg(numeric[str(agg.column)])
            outputs[agg.alias] = expr.label(agg.alias)
        persons = func.count(t.c[view.privacy_unit].distinct()).label(PERSONS)
        if len(outputs) != len(spec.aggregates):
            raise ValueError("aggregate names must be unique")  # the layout would shift
        stmt = select(*(raw(k, k.name) for k in keys), *outputs.values(), persons)
        if keys:
            stmt = stmt.group_by(*keys)
        order_cols = {**{name: t.c[name] for name in spec.group_by}, **outputs}
    if conditions:
        stmt = stmt.where(and_(*conditions))
    for order in spec.order_by:
        target_col = order_cols[order.column]
        stmt = stmt.order_by(target_col.desc() if order.desc else target_col.asc())
    return stmt.limit(fetch_limit)
