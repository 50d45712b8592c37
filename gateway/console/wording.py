"""Names people read for codes the gateway uses: purposes, treatments, statuses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.console.navigation import N_
from gateway.console.repository import ConsoleRepository
from gateway.context import GatewayContext
from gateway.i18n import Translator

TREATMENTS = {
    "keep": N_("shown as is"),
    "mask": N_("masked"),
    "pseudonymise": N_("pseudonym"),
    "tokenise": N_("reversible token"),
    "generalise": N_("generalised"),
    "redact_pii": N_("personal details removed"),
    "aggregate": N_("aggregate"),
    "dp": N_("differential privacy"),
    "drop": N_("withheld"),
}
STATUSES = {
    "pending": N_("pending"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "denied": N_("denied"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
}
ACCESS = {"rows": N_("rows"), "aggregate": N_("aggregates only")}
APPROVAL = {"manual": N_("approved by the department"), "automatic": N_("approved automatically")}
WINDOWS = {"day": N_("day"), "week": N_("week"), "month": N_("month")}
CLASSES = {
    "direct_identifier": N_("direct identifier"),
    "quasi_identifier": N_("quasi-identifier"),
    "sensitive": N_("sensitive"),
    "attribute": N_("attribute"),
}


def word(t: Translator, table: dict[str, str], code: str) -> str:
    """The translated word for ``code``, or the code itself when it has none."""
    return t.gettext(table[code]) if code in table else code


def purpose_name(ctx: GatewayContext, t: Translator, path: str) -> str:
    """The purpose's name in the reader's language (the hierarchy has zh and en)."""
    node = ctx.access.hierarchy.nodes.get(path)
    if node is None:
        return path
    return str(node.zh if t.locale == "zh_CN" else node.en)


FUNCTIONS = (N_("count"), N_("persons"), N_("sum"), N_("mean"))


def display_names(session: Session) -> dict[str, str]:
    """Principal name -> the name people use (区民政局, 和平社区居委会), where one is set."""
    return ConsoleRepository(session).display_names()


def who_label(names: dict[str, str], name: str) -> str:
    """``和平社区居委会 (heping-committee)``, or the bare name without a display name."""
    shown = names.get(name)
    return f"{shown} ({name})" if shown and shown != name else name
