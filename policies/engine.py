"""casbin underneath: who may ask for which purpose on which dataset.

Rules are derived from the usage-policy documents (p: role, domain, dataset,
purpose) and the principals' role assignments (g: principal, role, domain), and
kept in the gateway store; the purpose hierarchy (g2: purpose, parent) is
configuration each process loads. The model file (``model.conf``, package
data) is RBAC with domains plus purpose inheritance. An engine is immutable: a
change builds a new one, so its decision cache never goes stale.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

import casbin
from casbin.model import Model

from policies.document import UsagePolicy
from policies.hierarchy import PurposeHierarchy

Rule = tuple[str, ...]


@dataclass(frozen=True)
class RoleAssignment:
    principal: str
    role: str
    domain: str


def model_text() -> str:
    return resources.files("policies").joinpath("model.conf").read_text(encoding="utf-8")


def derive_rules(
    policies: Mapping[str, UsagePolicy], assignments: Iterable[RoleAssignment]
) -> list[Rule]:
    """Every casbin rule, most specific purposes first (casbin reports the first match)."""
    grants: list[tuple[int, Rule]] = []
    for dataset_id, policy in sorted(policies.items()):
        for rule in policy.purposes:
            for grantee in rule.grantees:
                for domain in grantee.domains:
                    grants.append(
                        (
                            -rule.purpose.count("."),
                            ("p", grantee.role, domain, dataset_id, rule.purpose),
                        )
                    )
    rules = [r for _, r in sorted(grants)]
    rules += sorted({("g", a.principal, a.role, a.domain) for a in assignments})
    return rules


class PolicyEngine:
    """casbin enforcer over stored rules (p, g) plus this process's purpose hierarchy (g2)."""

    def __init__(self, rules: Iterable[Rule], hierarchy: PurposeHierarchy) -> None:
        model = Model()
        model.load_model_from_text(model_text())
        self._enforcer = casbin.Enforcer(model)
        by_type: dict[str, list[list[str]]] = {"p": [], "g": [], "g2": []}
        for rule in rules:
            by_type[rule[0]].append(list(rule[1:]))
        by_type["g2"] = [[child, parent] for child, parent in hierarchy.edges()]
        if by_type["p"]:
            self._enforcer.add_policies(by_type["p"])
        for ptype in ("g", "g2"):
            if by_type[ptype]:
                self._enforcer.add_named_grouping_policies(ptype, by_type[ptype])
        self._cache: dict[tuple[str, str, str, str], tuple[str, ...] | None] = {}
        self._lock = threading.Lock()

    def matched_rule(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> tuple[str, ...] | None:
        """The p rule (role, domain, dataset, purpose) that grants this request, or None."""
        key = (principal, domain, dataset_id, purpose)
        if key in self._cache:
            return self._cache[key]
        with self._lock:  # the casbin enforcer is not thread-safe
            allowed, explain = self._enforcer.enforce_ex(principal, domain, dataset_id, purpose)
        result = tuple(str(v) for v in explain) if allowed and explain else None
        self._cache[key] = result
        return result

    def granted_purpose(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> str | None:
        """The purpose node of the grant that lets this request through, or None."""
        rule = self.matched_rule(principal, domain, dataset_id, purpose)
        return rule[3] if rule else None
