"""Messages the CLI prints, in Chinese under a Chinese locale.

The locale comes from the environment as gettext reads it: the first of ``LANGUAGE``
(a colon-separated list), ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set; any
``zh*`` value (``zh_CN.UTF-8``, ``zh_TW``, ``zh``) chooses Chinese, anything else English.
Translations live in the shared catalogues of gateway/i18n, domain ``cli``
(``gateway/i18n/locales/zh_CN/LC_MESSAGES/cli.po``); message ids are the English text.
Command help stays English: it is also what docs/cli.md is generated from.
"""

from __future__ import annotations

import os

from gateway.i18n import translator

DOMAIN = "cli"


def cli_locale() -> str:
    """``zh_CN`` when the environment asks for Chinese, else ``en``."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        first = value.split(":")[0].lower()
        return "zh_CN" if first.startswith("zh") else "en"
    return "en"


def _(msgid: str, /, **values: object) -> str:
    """``msgid`` translated for the current locale, with ``%(name)s`` values filled in."""
    text = translator(cli_locale(), DOMAIN).gettext(msgid)
    return text % values if values else text
