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
from typing import Any

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


class _RulesAdapter(casbin.persist.Adapter):  # type: ignore[misc]
    """Loads rules in order through casbin's adapter interface (linear, no duplicate scans)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def load_policy(self, model: Model) -> None:
        sections = model.model
        for rule in self.rules:
            sections[rule[0][0]][rule[0]].policy.append(list(rule[1:]))


class PolicyEngine:
    """casbin over stored rules (p, g) plus this process's purpose hierarchy (g2).

    Indexed by dataset: each dataset gets its own enforcer holding only its grants
    and the role assignments of the roles those grants name, built on first use.
    A decision then scans a dataset's few rules, not every rule of the gateway;
    results are cached per request key. Engines are immutable, so neither the
    index nor the cache can go stale: a change builds a new engine.
    """

    def __init__(self, rules: Iterable[Rule], hierarchy: PurposeHierarchy) -> None:
        self._text = model_text()
        self._grants: dict[str, list[Rule]] = {}
        self._assignments: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule[0] == "p":
                self._grants.setdefault(rule[3], []).append(rule)
            elif rule[0] == "g":
                self._assignments.setdefault(rule[2], []).append(rule)
        self._edges: list[Rule] = [("g2", child, parent) for child, parent in hierarchy.edges()]
        self._enforcers: dict[str, Any] = {}
        self._cache: dict[tuple[str, str, str, str], tuple[str, ...] | None] = {}
        self._lock = threading.Lock()

    def _enforcer(self, dataset_id: str) -> Any:
        enforcer = self._enforcers.get(dataset_id)
        if enforcer is None:
            grants = self._grants.get(dataset_id, [])
            roles = sorted({g[1] for g in grants})
            assignments = [a for role in roles for a in self._assignments.get(role, [])]
            model = Model()
            model.load_model_from_text(self._text)
            enforcer = casbin.Enforcer(model, _RulesAdapter([*grants, *assignments, *self._edges]))
            self._enforcers[dataset_id] = enforcer
        return enforcer

    def matched_rule(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> tuple[str, ...] | None:
        """The p rule (role, domain, dataset, purpose) that grants this request, or None."""
        key = (principal, domain, dataset_id, purpose)
        if key in self._cache:
            return self._cache[key]
        result: tuple[str, ...] | None = None
        if dataset_id in self._grants:
            with self._lock:  # casbin enforcers are not thread-safe
                allowed, explain = self._enforcer(dataset_id).enforce_ex(
                    principal, domain, dataset_id, purpose
                )
            result = tuple(str(v) for v in explain) if allowed and explain else None
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = result
        return result

    def granted_purpose(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> str | None:
        """The purpose node of the grant that lets this request through, or None."""
        rule = self.matched_rule(principal, domain, dataset_id, purpose)
        return rule[3] if rule else None


_CACHE_LIMIT = 100_000  # decisions remembered per engine (bounded: keys come from requests)
