"""Message ids the console shows that are not written in a template.

Error details of ``GatewayError`` (fixed English texts of the API) and form problems,
marked here so extraction puts them in the catalogues and pages can translate them.
"""

from __future__ import annotations

from gateway.console.navigation import N_
from gateway.i18n import Translator

MESSAGES = (
    N_("no such resource"),
    N_("no such dataset"),
    N_("no such source"),
    N_("no such query request"),
    N_("no such approved query"),
    N_("invalid API key"),
    N_("The API key was not accepted."),
    N_("Some fields of the form are not valid."),
    N_("This form has expired or did not come from this console. Reload the page and try again."),
    N_("Something went wrong"),
    N_("Say why the app needs this data."),
    N_("the dataset offers this app no such purpose"),
    N_("the policy document does not pass the check"),
    N_("no such app"),
    N_("no such page"),
)


def rows_label(t: Translator, n: int) -> str:
    """ "12 rows" / "12 行": the size of a result table."""
    return t.ngettext("%(n)d row", "%(n)d rows", n) % {"n": n}
