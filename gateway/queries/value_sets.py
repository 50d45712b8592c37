"""The values an approved query's filters compare with, for the declared-value check.

Exact aggregates may filter only over value sets the policy declares
(``policies.check_filter_values``); this gathers, per filtered column, the literal
values of the spec and the values bound to its parameters for one run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.queries.spec import ParamRef, QuerySpec
from policies import Decision, Denial, check_filter_values


def filter_values(spec: QuerySpec, bound: Mapping[str, Any]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for f in spec.filters:
        operands = f.value if isinstance(f.value, list) else [f.value]
        for operand in operands:
            value = bound[operand.param] if isinstance(operand, ParamRef) else operand
            values.setdefault(f.column, []).extend(value if isinstance(value, list) else [value])
    return values


def refused_values(spec: QuerySpec, decision: Decision, bound: Mapping[str, Any]) -> Denial | None:
    """A Denial when a filter of an exact aggregate uses a value the policy did not declare."""
    return check_filter_values(decision, filter_values(spec, bound), spec.shape().parameterised)
