"""Holding released values to their column's declared type.

A dataset declares each column's type, and registration checks that the source's
column type fits it. Storage does not always hold to it: SQLite keeps any value in
any column ('yes' in an INTEGER column, a name in a REAL one), MariaDB keeps 2 or -1
in a BOOLEAN (TINYINT) column. A stored value that is not of the declared type is
released as null, never as stored, and counted (``withheld_values``): a policy that
only expected numbers must not pass free text.

The planner reads released columns raw (``raw``), without SQLAlchemy's result
processing, which would turn any stored value of a Boolean column into true and
fail the whole release on a DATE text that does not parse: the check here sees
what the source holds. Sums and means read only numeric values (``numeric_only``):
on SQLite a text value is left out like a NULL, where SQLite's SUM would read it
as 0 and a DP clamp would read it as the upper bound.

Values a driver cannot read are read as their bytes (``gateway.catalog.engines``:
PostgreSQL dates Python cannot hold, SQLite text that is not UTF-8), which no declared
type accepts: withheld like the rest, where the driver's error failed the whole run.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

INT64 = 2**63  # the integers a source column can hold on every supported dialect

# ISO 8601 calendar date, optionally with a time and offset: what a date column kept as
# text is documented to hold. The regex fixes the shape; the parse below rejects 2024-13-45.
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)


class _Withheld:
    """What a non-conforming value becomes until the release is final (then null).

    One hashable marker, so group keys holding it still group, and the values withheld
    can be counted in what is finally released (after suppression dropped groups)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "WITHHELD"


WITHHELD = _Withheld()


def _is_iso_date_text(value: str) -> bool:
    if _ISO_DATE.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def conform(value: Any, declared: str) -> Any:
    """``value`` as read from the source, held to ``declared``: the value to release
    (booleans kept as 0/1 become true/false), None for None, or WITHHELD."""
    if value is None:
        return None
    kind = type(value)
    if declared == "boolean":
        if kind is bool:
            return value
        # SQLite and MariaDB keep booleans as 0 and 1; nothing else is a boolean.
        return bool(value) if kind is int and value in (0, 1) else WITHHELD
    if declared == "integer":
        if kind is bool:  # a boolean source column may be declared integer
            return value
        if kind is decimal.Decimal and value.is_finite() and value == value.to_integral_value():
            value, kind = int(value), int
        return value if kind is int and -INT64 <= value < INT64 else WITHHELD
    if declared == "number":
        if kind is int:
            return value
        if kind is float:
            # NaN and infinities are numbers JSON cannot hold: null, as before (not counted).
            return value if math.isfinite(value) else None
        if kind is decimal.Decimal:
            return value if value.is_finite() else None
        return WITHHELD
    if declared == "date":
        if kind is date or kind is datetime:
            return value
        return value if kind is str and _is_iso_date_text(value) else WITHHELD
    # string
    return value if kind is str else WITHHELD


def plain(value: Any) -> Any:
    """A value as JSON holds it (the answer and its result digest agree on it)."""
    if isinstance(value, float):
        # JSON has no NaN or infinity (a PostgreSQL float or numeric can hold them): the
        # answer says null, and so does the result digest computed from it.
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def conform_all(values: Sequence[Any], declared: str | None) -> list[Any]:
    """Every value of one column held to its declared type (None: not a dataset column)."""
    if declared is None:
        return list(values)
    return [conform(v, declared) for v in values]


def count_withheld(rows: Sequence[list[Any]]) -> int:
    """Replace WITHHELD by None in ``rows`` (in place) and return how many there were."""
    withheld = 0
    for row in rows:
        for i, v in enumerate(row):
            if v is WITHHELD:
                row[i] = None
                withheld += 1
    return withheld


def raw(column: ColumnElement[Any], label: str) -> ColumnElement[Any]:
    """``column`` selected as the driver returns it (no SQLAlchemy result processing)."""
    return type_coerce(column, NullType()).label(label)


class _NumericOnly(FunctionElement[Any]):
    """A numeric column's value when the stored value is a number of its declared type,
    else NULL: on SQLite, text or (in an integer column) a real; on PostgreSQL, NaN,
    which sorts above every number and so would be clamped to a DP bound's upper end.
    MariaDB holds neither in a numeric column."""

    inherit_cache = True
    integer = False

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


class _IntegerOnly(_NumericOnly):
    # A subclass, not an instance flag: the compiled form is cached per class.
    inherit_cache = True
    integer = True


def numeric_only(column: ColumnElement[Any], declared: str) -> ColumnElement[Any]:
    """``column`` for a sum or mean: NULL where it holds no number of the declared type."""
    return _IntegerOnly(column) if declared == "integer" else _NumericOnly(column)


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


@compiles(_NumericOnly)
def _numeric_only_default(element: _NumericOnly, compiler: SQLCompiler, **kw: Any) -> str:
    return _argument(element, compiler, **kw)


@compiles(_NumericOnly, "sqlite")
def _numeric_only_sqlite(element: _NumericOnly, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    kinds = "('integer')" if element.integer else "('integer', 'real')"
    return f"CASE WHEN typeof({column}) IN {kinds} THEN {column} END"


@compiles(_NumericOnly, "postgresql")
def _numeric_only_postgresql(element: _NumericOnly, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    # An integer column holds no NaN. Compared as text: a column declared number may be
    # stored as an integer, where the literal 'NaN' would not parse.
    if element.integer:
        return column
    return f"CASE WHEN CAST({column} AS TEXT) <> 'NaN' THEN {column} END"


class _Sum(FunctionElement[Any]):
    """The sum of a numeric column's values of its declared type (``numeric_only``)."""

    inherit_cache = True
    integer = False

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


class _IntegerSum(_Sum):
    inherit_cache = True
    integer = True


def exact_sum(column: ColumnElement[Any], declared: str) -> ColumnElement[Any]:
    """SUM of ``column``'s numbers of the declared type, which on SQLite never fails.

    SQLite's SUM raises on a 64-bit integer overflow, failing the whole statement: the
    error would tell of a group that suppression then hides. There the integers are
    summed as their high and low 32 bits (neither sum can overflow below 2**31 rows) and
    recombined with SQLite's arithmetic, which turns an overflow into a REAL: exact in
    range, approximate beyond it. Other dialects widen integer sums themselves
    (PostgreSQL to numeric, MariaDB to DECIMAL)."""
    return _IntegerSum(column) if declared == "integer" else _Sum(column)


@compiles(_Sum)
def _sum_default(element: _Sum, compiler: SQLCompiler, **kw: Any) -> str:
    column = next(iter(element.clauses))
    declared = "integer" if element.integer else "number"
    return str(compiler.process(func.sum(numeric_only(column, declared)), **kw))


@compiles(_Sum, "sqlite")
def _sum_sqlite(element: _Sum, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    ints = f"CASE WHEN typeof({column}) = 'integer' THEN {column} END"
    high, low = f"sum(({ints}) >> 32)", f"sum(({ints}) & 4294967295)"
    # The low sum's carry joins the high sum first: (high + carry) * 2**32 is the total
    # rounded down to a multiple of 2**32, in range whenever the total is.
    exact = f"(({high} + ({low} >> 32)) * 4294967296 + ({low} & 4294967295))"
    if element.integer:
        return exact
    reals = f"CASE WHEN typeof({column}) = 'real' THEN {column} END"
    # SQLite's sum of integers and reals together is a real: so is this one.
    return (
        f"CASE WHEN count({reals}) = 0 THEN {exact} WHEN count({ints}) = 0 THEN sum({reals})"
        f" ELSE {exact} + sum({reals}) END"
    )
