"""casbin underneath: who may ask for which purpose on which dataset.

Rules are derived from the usage-policy documents (p: role, domain, dataset,
purpose) and the principals' role assignments (g: principal, role, domain), and
kept in the gateway store; the purpose hierarchy (g2: purpose, parent) is
configuration each process loads. The model file (``model.conf``, package
data) is RBAC with domains plus purpose inheritance. ``PolicyEngine`` answers as
casbin does for that model, from indexes built once per set of rules (a decision,
the first on a dataset included, is a few set look-ups); ``casbin_enforcer`` is the
plain casbin reference it is tested against. An engine is immutable: a change builds
a new one, so nothing in it goes stale.
"""

from __future__ import annotations

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


def casbin_enforcer(rules: Iterable[Rule], hierarchy: PurposeHierarchy) -> Any:
    """A plain casbin enforcer over ``model.conf``: the reference ``PolicyEngine`` agrees with.

    Tests compare the two key by key; the gateway decides with ``PolicyEngine``.
    """
    model = Model()
    model.load_model_from_text(model_text())
    edges: list[Rule] = [("g2", child, parent) for child, parent in hierarchy.edges()]
    return casbin.Enforcer(model, _RulesAdapter([*rules, *edges]))


class PolicyEngine:
    """The answer casbin gives for ``model.conf``, from indexes instead of a scan.

    ``model.conf`` matches a request (principal, domain, dataset, purpose) against a
    grant (role, domain or "*", dataset, purpose) when the datasets are equal, the grant's
    domain is "*" or the request's, the principal has the role in the request's domain
    (g, transitively, or is named like it) and the grant's purpose is the requested one or
    one of its ancestors (g2); the first matching grant in rule order is reported. Here the
    grants are indexed by dataset in rule order, each (principal, domain)'s roles and each
    purpose's ancestors are computed once, so a decision (the first one on a dataset
    included) is a few set look-ups, not an enforcer built and scanned. Immutable: a
    change builds a new engine. tests/policies/test_engine_agrees_with_casbin.py checks
    it against ``casbin_enforcer`` key by key.
    """

    def __init__(self, rules: Iterable[Rule], hierarchy: PurposeHierarchy) -> None:
        self._grants: dict[str, list[tuple[str, str, str, str]]] = {}
        links: dict[tuple[str, str], set[str]] = {}
        for rule in rules:
            if rule[0] == "p":
                role, domain, dataset, purpose = rule[1:5]
                self._grants.setdefault(dataset, []).append((role, domain, dataset, purpose))
            elif rule[0] == "g":
                name, role, domain = rule[1:4]
                links.setdefault((name, domain), set()).add(role)
        self._roles: dict[tuple[str, str], frozenset[str]] = {}
        for (name, domain), direct in links.items():
            closure, todo = set(direct), list(direct)
            while todo:  # a role may itself hold roles in the same domain
                for parent in links.get((todo.pop(), domain), ()):
                    if parent not in closure:
                        closure.add(parent)
                        todo.append(parent)
            self._roles[(name, domain)] = frozenset(closure)
        parents = dict(hierarchy.edges())
        self._covering: dict[str, frozenset[str]] = {}
        for path in hierarchy.nodes:
            chain, node = {path}, path
            while node in parents:
                node = parents[node]
                chain.add(node)
            self._covering[path] = frozenset(chain)

    def matched_rule(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> tuple[str, ...] | None:
        """The p rule (role, domain, dataset, purpose) that grants this request, or None."""
        grants = self._grants.get(dataset_id)
        if not grants:
            return None
        # casbin's has_link(a, b) also holds when a == b (a principal named like a role).
        roles = self._roles.get((principal, domain), frozenset()) | {principal}
        covering = self._covering.get(purpose) or frozenset((purpose,))
        for grant in grants:
            if grant[0] in roles and grant[1] in ("*", domain) and grant[3] in covering:
                return grant
        return None

    def granted_purpose(
        self, principal: str, domain: str, dataset_id: str, purpose: str
    ) -> str | None:
        """The purpose node of the grant that lets this request through, or None."""
        rule = self.matched_rule(principal, domain, dataset_id, purpose)
        return rule[3] if rule else None
