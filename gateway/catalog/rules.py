"""The casbin policy lines (``p``), kept in step with the live datasets' usage policies.

Registering a dataset, replacing its policy or retiring it rebuilds them in the same
transaction and moves the policy epoch on, so every process's engine
(gateway/access/service.py) sees the change at its next decision. The role lines derive
from the principals alone (gateway/auth/rules.py): each side replaces only its own lines.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.access.repository import AccessRepository
from gateway.auth.rules import replace_role_rules
from gateway.catalog.repository import CatalogRepository
from policies import UsagePolicy, derive_rules


def _replace_policy_rules(session: Session) -> None:
    # A retired dataset grants nothing: no request on it can be filed or run.
    datasets = CatalogRepository(session).datasets(live=True)
    rules = derive_rules({d.id: UsagePolicy.model_validate(d.policy) for d in datasets}, [])
    AccessRepository(session).replace_rules(rules, ptype="p")


def rebuild_policy_rules(session: Session) -> None:
    AccessRepository(session).bump()  # locks the epoch row first: rebuilds take turns
    _replace_policy_rules(session)


def rebuild_rules(session: Session) -> None:
    """Every line, policy and role, under one move of the epoch (``cdg init``: the rules
    derive from the store, and a new version may add some)."""
    AccessRepository(session).bump()
    _replace_policy_rules(session)
    replace_role_rules(session)
