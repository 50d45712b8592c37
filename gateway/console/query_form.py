"""A query request built from an HTML form, so an app never writes JSON.

The form (templates/app/request_form.html) has fixed slots: columns to select (rows) or
group keys and up to ``AGGREGATE_SLOTS`` aggregates (aggregate), up to ``FILTER_SLOTS``
filters whose value is either typed in or asked for at each run (a named parameter),
one ordering, a limit and, for DP purposes, ε. ``spec_from_form`` turns the submitted
fields into the API's ``QuerySpec`` (its own validation applies unchanged); what it
cannot read becomes a list of problems shown next to the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway.console.navigation import N_
from gateway.queries.spec import QuerySpec

AGGREGATE_SLOTS = 3
FILTER_SLOTS = 3
OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "between", "prefix")
FUNCTIONS = ("count", "persons", "sum", "mean")
_PARAM_TYPES = {"integer": "integer", "number": "number", "date": "date", "boolean": "boolean"}


@dataclass
class FormData:
    """The submitted fields, as the form shows them again after a problem."""

    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    def many(self, name: str) -> list[str]:
        return self.lists.get(name, [])

    @classmethod
    def of(cls, items: list[tuple[str, str]]) -> FormData:
        data = cls()
        for key, value in items:
            data.fields.setdefault(key, value)
            data.lists.setdefault(key, []).append(value)
        return data


def _typed(text: str, kind: str) -> Any:
    """A typed-in filter value as the column's type wants it (the API checks it again)."""
    text = text.strip()
    if not text:
        return ""
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text.lower() in ("1", "true", "yes", "是")
    return text


def _value(op: str, text: str, kind: str) -> Any:
    if op in ("in", "between"):
        return [_typed(part, kind) for part in text.replace("，", ",").split(",") if part.strip()]
    return _typed(text, kind)


def spec_from_form(
    form: FormData, column_types: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The spec document (as the API takes it) and the problems found (message ids or text)."""
    problems: list[str] = []
    spec: dict[str, Any] = {}
    params: dict[str, Any] = {}
    kind = form.get("kind", "rows")
    if kind == "rows":
        spec["select"] = [c for c in form.many("select") if c in column_types]
        if not spec["select"]:
            problems.append(N_("Choose at least one column to receive."))
    else:
        spec["group_by"] = [c for c in form.many("group_by") if c in column_types]
        aggregates = []
        for i in range(AGGREGATE_SLOTS):
            fn = form.get(f"agg_fn_{i}")
            if fn not in FUNCTIONS:
                continue
            column = form.get(f"agg_column_{i}") or None
            alias = form.get(f"agg_as_{i}").strip() or (f"{fn}_{column}" if column else fn)
            entry: dict[str, Any] = {"fn": fn, "as": alias}
            if column and fn != "persons" and fn != "count":
                entry["column"] = column
            aggregates.append(entry)
        spec["aggregates"] = aggregates
        if not aggregates:
            problems.append(N_("Add at least one measure (count, persons, sum or mean)."))
    filters = []
    for i in range(FILTER_SLOTS):
        column = form.get(f"filter_column_{i}")
        if not column:
            continue
        op = form.get(f"filter_op_{i}", "=")
        if column not in column_types or op not in OPS:
            problems.append(N_("A filter names an unknown column or comparison."))
            continue
        ctype = column_types[column]
        if form.get(f"filter_ask_{i}"):
            # The value typed in becomes the parameter's default: the example the
            # department judges, and what the run form proposes.
            try:
                typed = _value(op, form.get(f"filter_value_{i}"), ctype)
            except ValueError:
                problems.append(N_("A filter value does not fit its column's type."))
                continue
            if typed in ("", []):
                problems.append(N_("Give an example value for each value asked at run time."))
                continue
            ptype = _PARAM_TYPES.get(ctype, "string")
            if op == "between":
                if not isinstance(typed, list) or len(typed) != 2:
                    problems.append(N_("“between” needs two values separated by a comma."))
                    continue
                low, high = f"{column}_from", f"{column}_to"
                params[low] = {"type": ptype, "default": typed[0]}
                params[high] = {"type": ptype, "default": typed[1]}
                value: Any = [{"param": low}, {"param": high}]
            else:
                name = f"{column}_{i}"
                params[name] = {"type": ptype, "many": op == "in", "default": typed}
                value = {"param": name}
        else:
            try:
                value = _value(op, form.get(f"filter_value_{i}"), ctype)
            except ValueError:
                problems.append(N_("A filter value does not fit its column's type."))
                continue
            if value in ("", []):
                problems.append(N_("Give a value for each filter, or leave its column empty."))
                continue
        filters.append({"column": column, "op": op, "value": value})
    if filters:
        spec["filters"] = filters
    order = form.get("order_by")
    if order:
        spec["order_by"] = [{"column": order, "desc": bool(form.get("order_desc"))}]
    if form.get("limit").strip():
        try:
            spec["limit"] = int(form.get("limit"))
        except ValueError:
            problems.append(N_("The row limit must be a whole number."))
    if form.get("epsilon").strip():
        try:
            spec["epsilon"] = float(form.get("epsilon"))
        except ValueError:
            problems.append(N_("ε must be a number."))
    if params:
        spec["params"] = params
    if not problems:
        try:
            QuerySpec.model_validate(spec)
        except ValidationError as exc:
            problems.extend(_readable(exc))
    return spec, problems


def _readable(exc: ValidationError) -> list[str]:
    """pydantic's messages (ours, from QuerySpec's validators), without input values."""
    out = []
    for err in exc.errors()[:10]:
        message = str(err.get("msg", "invalid"))
        out.append(message.removeprefix("Value error, "))
    return out


def run_params(form: FormData, declared: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Parameter values typed in on the run form, converted to their declared types."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, decl in declared.items():
        text = form.get(f"param_{name}").strip()
        if not text:
            continue  # the declared default applies
        kind = str(decl.get("type", "string"))
        try:
            if decl.get("many"):
                values[name] = [
                    _typed(p, kind) for p in text.replace("，", ",").split(",") if p.strip()
                ]
            else:
                values[name] = _typed(text, kind)
        except ValueError:
            problems.append(name)
    return values, problems
