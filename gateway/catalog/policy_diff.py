"""Old against new usage policy, term by term, for the replacement preview.

Purposes are matched by their path; within one, every term is compared as a dotted path
(``columns.age.treatment``, ``dp.epsilon_per_run``), so a department sees exactly which
release terms a new document moves. Lists are compared whole: their order can matter
(grantees, row scope) and they are short.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog.schemas import FieldChange, PolicyDiffOut, PurposeDiffOut
from policies import UsagePolicy, policy_version


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{dotted.path: leaf}``; an empty mapping is a leaf of its own."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def term_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every dotted path whose value differs (absent on one side: ``None`` there)."""
    a, b = flatten(old), flatten(new)
    return [
        FieldChange(field=path, old=a.get(path), new=b.get(path))
        for path in sorted(a.keys() | b.keys())
        if a.get(path) != b.get(path)
    ]


def policy_diff(old: UsagePolicy, new: UsagePolicy) -> PolicyDiffOut:
    old_rules = {r.purpose: r.model_dump(mode="json") for r in old.purposes}
    new_rules = {r.purpose: r.model_dump(mode="json") for r in new.purposes}
    changed = [
        PurposeDiffOut(purpose=p, changes=changes)
        for p in sorted(old_rules.keys() & new_rules.keys())
        if (changes := term_changes(old_rules[p], new_rules[p]))
    ]
    old_version, new_version = policy_version(old), policy_version(new)
    return PolicyDiffOut(
        old_version=old_version,
        new_version=new_version,
        changed=old_version != new_version,
        retention=(
            FieldChange(field="retention", old=old.retention, new=new.retention)
            if old.retention != new.retention
            else None
        ),
        purposes_added=sorted(new_rules.keys() - old_rules.keys()),
        purposes_removed=sorted(old_rules.keys() - new_rules.keys()),
        purposes_changed=changed,
    )
