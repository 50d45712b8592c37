"""Which released columns form the equivalence class of a k-anonymous row release.

Every released column that can single a person out belongs to the class: the
dataset's quasi-identifiers, and also any direct identifier or free text that is
still released, and any column whose treatment keeps one value per person
(pseudonyms, tokens, masked names and numbers). A policy combining these with k
is refused at registration; counting them here keeps a release k-anonymous even
under a policy stored before that rule.

Columns that the row scope or the query's filters fix to a single value are
known to the recipient whatever the release shows: they are left out of the
class (hiding them would protect nothing), and the release as a whole, the class
"matches this query", must hold k persons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.queries.binding import DatasetView
from gateway.queries.spec import ParamRef, QuerySpec
from policies import Decision
from policies.document import SINGLING_OUT

IDENTIFYING = frozenset({"quasi_identifier", "direct_identifier", "free_text"})


def _pinned(spec: QuerySpec, decision: Decision, bound: Mapping[str, Any]) -> set[str]:
    pinned = {s.column for s in decision.row_scope if s.op == "="}
    for f in spec.filters:
        operands = f.value if isinstance(f.value, list) else [f.value]
        values = [bound[v.param] if isinstance(v, ParamRef) else v for v in operands]
        flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
        if f.op == "=" or (f.op in ("in", "between") and len(set(map(str, flat))) == 1):
            pinned.add(f.column)
    return pinned


def class_columns(
    view: DatasetView, decision: Decision, spec: QuerySpec, bound: Mapping[str, Any]
) -> set[str]:
    """The released columns whose combined values must be shared by k persons."""
    pinned = _pinned(spec, decision, bound)
    return {
        name
        for name, rule in decision.columns.items()
        if name not in pinned
        and (view.columns[name].classification in IDENTIFYING or rule.treatment in SINGLING_OUT)
    }
