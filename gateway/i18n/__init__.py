"""Message catalogues for every surface a person reads: the console, and CLI messages.

Catalogues are Babel ``.po`` files under ``gateway/i18n/locales/<locale>/LC_MESSAGES/
<domain>.po``, read at run time with ``babel.messages.pofile`` (there is no compile step
and no ``.mo`` file in the tree). Message ids are English; ``zh_CN`` (the default locale)
translates them, ``en`` holds only what English needs beyond the id (plural forms).

    from gateway.i18n import translator
    t = translator("zh_CN")
    t.gettext("Sign in")                       # "登录"
    t.ngettext("%(n)d row", "%(n)d rows", 3)   # "%(n)d 行"

``negotiate(cookie, accept_language)`` picks the locale for a request; ``format_time``
shows an instant in the configured zone (setting ``CDG_TIME_ZONE``). See docs/console.md.
"""

from __future__ import annotations

from gateway.i18n.catalogues import (
    DEFAULT_DOMAIN,
    DEFAULT_LOCALE,
    LOCALES,
    Translator,
    catalogue_path,
    translator,
)
from gateway.i18n.negotiation import LOCALE_COOKIE, negotiate
from gateway.i18n.times import format_time, zone

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_LOCALE",
    "LOCALES",
    "LOCALE_COOKIE",
    "Translator",
    "catalogue_path",
    "format_time",
    "negotiate",
    "translator",
    "zone",
]
