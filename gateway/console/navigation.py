"""The console's menu: each entry names the permission action that guards its page.

A visitor sees an entry when ``gateway.access.permissions`` allows them its action (with
no resource: the listing form of the question), so the menu never shows a page the
page itself would refuse. To add a page to the menu, append a ``NavItem`` to ``NAV``
(labels are message ids: English, translated through the catalogues; mark them with
``N_`` so extraction finds them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.access import permissions

if TYPE_CHECKING:
    from gateway.console.viewer import Visitor


def N_(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


@dataclass(frozen=True)
class NavItem:
    label: str  # message id
    path: str  # under /console
    action: str  # permission action of the page
    kinds: tuple[str, ...]  # principal kinds the page is built for


NAV: list[NavItem] = [
    NavItem(N_("Home"), "/console/", "console.home", ("department", "app", "auditor")),
    NavItem(N_("Datasets"), "/console/department/datasets", "dataset.register", ("department",)),
    NavItem(N_("Requests"), "/console/department/requests", "request.approve", ("department",)),
    NavItem(N_("Budgets"), "/console/department/budgets", "budget.read", ("department",)),
    NavItem(N_("Catalogue"), "/console/app/catalogue", "request.file", ("app",)),
    NavItem(N_("My requests"), "/console/app/requests", "request.list", ("app",)),
    NavItem(
        N_("Resident links"),
        "/console/department/resident-links",
        "resident_link.list",
        ("department",),
    ),
    NavItem(N_("Audit overview"), "/console/audit", "log.verify", ("auditor",)),
    NavItem(N_("Access log"), "/console/audit/entries", "log.read", ("auditor",)),
]


@dataclass(frozen=True)
class NavLink:
    label: str  # translated
    path: str


def nav_for(visitor: Visitor) -> list[NavLink]:
    who = visitor.principal
    if who is None:
        return []
    return [
        NavLink(visitor.t.gettext(item.label), item.path)
        for item in NAV
        if who.kind in item.kinds and permissions.may_ever(item.action, who)
    ]
