"""One Jinja2 environment for every console page, and ``render`` to answer with a page.

Templates live in ``gateway/console/templates/`` (package data). Autoescaping is on for
every template. Each render installs the viewer's translator, so templates write
``{{ _("Sign in") }}``, ``{{ ngettext("%(num)d row", "%(num)d rows", n) }}`` or
``{% trans %}...{% endtrans %}``; ``localtime(dt)`` shows an instant in ``CDG_TIME_ZONE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from gateway.console.messages import rows_label
from gateway.console.navigation import N_, nav_for
from gateway.console.viewer import Visitor
from gateway.i18n import format_time

ENV = Environment(
    loader=PackageLoader("gateway.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    undefined=StrictUndefined,  # a misspelt name fails the page's test, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)

# Words templates look up by a value (message ids, translated where shown).
ENV.globals.update(
    rows_label=rows_label,
    kind_labels={
        "department": N_("department"),
        "app": N_("community app"),
        "auditor": N_("auditor"),
    },
    kind_intros={
        "department": N_(
            "Register your datasets and their usage policies, and decide on the requests "
            "community apps file."
        ),
        "app": N_(
            "See what the departments' datasets offer your app, file query requests and run "
            "the approved ones."
        ),
        "auditor": N_("Search the access log, check its proofs and export it."),
    },
    status_titles={
        401: N_("Please sign in"),
        403: N_("Not allowed"),
        404: N_("Not found"),
        409: N_("Conflict"),
        422: N_("Please check the form"),
        503: N_("Temporarily unavailable"),
    },
)


def _is_htmx(request: Request) -> bool:
    """htmx sends HX-Request on its own requests (not on history restores)."""
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" not in (
        request.headers
    )


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` for ``visitor``, in their language.

    Every template gets: ``visitor`` (principal or None, locale, csrf token), ``nav``
    (links this visitor may follow), ``localtime``, ``csrf_field`` (the hidden input every
    form must hold), ``htmx`` (True when htmx asked: a template may render a fragment only),
    ``request_path``.
    """
    t = visitor.t

    def localtime(value: datetime | None, with_zone: bool = False) -> str:
        return format_time(value, visitor.time_zone, visitor.locale, with_zone=with_zone)

    values: dict[str, Any] = {
        "visitor": visitor,
        "nav": nav_for(visitor),
        "localtime": localtime,
        "htmx": _is_htmx(request),
        "request_path": request.url.path,
        # Where the language switch returns: this page, or for an answer to a POST (which
        # cannot be fetched again) the page the template names as ``page_path``.
        "page_path": request.url.path if request.method == "GET" else "/console/",
        "lang": t.lang,
        **(context or {}),
    }
    tmpl = ENV.get_template(template)
    # The i18n extension takes the callables per render: one environment, many languages.
    html = tmpl.render(
        values,
        gettext=t.gettext,
        ngettext=t.ngettext,
        _=t.gettext,
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "Cookie, Accept-Language, HX-Request"
    return response
