"""Checking a QuerySpec against a dataset's schema, and binding parameter values.

Errors name the offending column or parameter (names come from the schema or
the spec's identifiers), never a supplied value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from gateway.errors import InvalidRequest
from gateway.queries.spec import Filter, ParamDecl, ParamRef, QuerySpec

MAX_STRING = 1000
INT64 = 2**63  # integers must fit a signed 64-bit column on every source dialect


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    storage: str
    classification: str


class RegisteredDataset(Protocol):
    """What a view is made of: a registered dataset (gateway/catalog/models.py's Dataset).

    A protocol, so that planning sits below the catalogue, which plans and binds.
    """

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def table_name(self) -> str: ...

    @property
    def privacy_unit(self) -> str: ...

    @property
    def resident_id(self) -> str | None: ...

    @property
    def columns(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class DatasetView:
    """What planning needs of a registered dataset."""

    id: str
    name: str
    owner: str
    table: str
    privacy_unit: str
    columns: Mapping[str, ColumnInfo]
    resident_id: str | None = None  # the ID-number column, when it is not the privacy unit

    @classmethod
    def of(cls, dataset: RegisteredDataset) -> DatasetView:
        return cls(
            id=dataset.id,
            name=dataset.name,
            owner=dataset.owner,
            table=dataset.table_name,
            privacy_unit=dataset.privacy_unit,
            resident_id=(
                dataset.resident_id if dataset.resident_id != dataset.privacy_unit else None
            ),
            columns={
                c["name"]: ColumnInfo(
                    c["name"], c["type"], c.get("storage", c["type"]), c["classification"]
                )
                for c in dataset.columns
            },
        )


def _bindable_text(value: str) -> bool:
    """Short text every source can bind: no NUL (PostgreSQL refuses it), valid UTF-8."""
    if len(value) > MAX_STRING or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        return False
    return True


def coerce(value: Any, kind: str) -> Any:
    """A supplied value as the Python value of a declared type; ValueError if it is not."""
    if kind == "string" and isinstance(value, str) and _bindable_text(value):
        return value
    if (
        kind == "integer"
        and isinstance(value, int)
        and not isinstance(value, bool)
        and -INT64 <= value < INT64
    ):
        return value
    if (
        kind == "number"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (isinstance(value, float) or -INT64 <= value < INT64)
    ):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    raise ValueError(kind)


def _operands(f: Filter) -> list[Any]:
    return list(f.value) if isinstance(f.value, list) else [f.value]


def check_spec(spec: QuerySpec, view: DatasetView) -> None:
    for name in sorted(spec.columns_used()):
        if name not in view.columns:
            raise InvalidRequest(f"unknown column: {name}")
    for agg in spec.aggregates:
        numeric = agg.column is None or view.columns[agg.column].type in ("integer", "number")
        if agg.fn in ("sum", "mean") and not numeric:
            raise InvalidRequest(f"{agg.fn} needs a numeric column: {agg.column}")
    for f in spec.filters:
        column = view.columns[f.column]
        if f.op == "prefix" and column.type != "string":
            raise InvalidRequest(f"prefix filters need a text column: {f.column}")
        for operand in _operands(f):
            if isinstance(operand, ParamRef):
                decl = spec.params[operand.param]
                if decl.type != column.type:
                    raise InvalidRequest(
                        f"parameter {operand.param} is {decl.type} but {f.column} is {column.type}"
                    )
                if decl.many != (f.op == "in" and not isinstance(f.value, list)):
                    raise InvalidRequest(f"parameter {operand.param}: list use does not match")
                continue
            try:
                coerce(operand, column.type)
            except ValueError:
                raise InvalidRequest(
                    f"a value for {f.column} is not a valid {column.type}"
                ) from None
        if f.op == "in" and not isinstance(f.value, list | ParamRef):
            raise InvalidRequest(f"'in' on {f.column} needs a list or a list parameter")
    for name, decl in spec.params.items():  # a default is bound whenever a run omits it
        if decl.default is not None:
            _bind_one(name, decl, decl.default)


def _bind_one(name: str, decl: ParamDecl, value: Any) -> Any:
    try:
        if decl.many:
            if not isinstance(value, list) or not 1 <= len(value) <= 1000:
                raise ValueError("list")
            return [coerce(v, decl.type) for v in value]
        return coerce(value, decl.type)
    except ValueError:
        expected = f"list of {decl.type}" if decl.many else decl.type
        raise InvalidRequest(f"parameter {name} must be of type {expected}") from None


def bind_params(spec: QuerySpec, supplied: Mapping[str, Any]) -> dict[str, Any]:
    if set(supplied) - set(spec.params):
        # The names are the caller's text; they are not echoed back.
        raise InvalidRequest("a supplied parameter is not declared by the query")
    bound: dict[str, Any] = {}
    for name, decl in spec.params.items():
        if name in supplied:
            bound[name] = _bind_one(name, decl, supplied[name])
        elif decl.default is not None:
            bound[name] = _bind_one(name, decl, decl.default)
        else:
            raise InvalidRequest(f"parameter {name} is required")
    return bound
