"""The casbin role lines (``g``), kept in step with the active principals.

Adding or revoking a principal rebuilds them in the same transaction and moves the policy
epoch on, so every process's engine (gateway/access/service.py) sees the change at its next
decision. The policy lines derive from the datasets alone (gateway/catalog/rules.py): each
side replaces only its own lines.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.access.repository import AccessRepository
from gateway.auth.repository import AuthRepository
from policies import RoleAssignment, derive_rules


def replace_role_rules(session: Session) -> None:
    """The role lines from the active principals, without moving the epoch."""
    principals = AuthRepository(session).active()
    rules = derive_rules({}, [RoleAssignment(p.name, p.role, p.domain) for p in principals])
    AccessRepository(session).replace_rules(rules, ptype="g")


def rebuild_role_rules(session: Session) -> None:
    AccessRepository(session).bump()  # locks the epoch row first: rebuilds take turns
    replace_role_rules(session)
