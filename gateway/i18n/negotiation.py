"""Which locale a person reads: their language switch (a cookie), else Accept-Language."""

from __future__ import annotations

from typing import Final

from gateway.i18n.catalogues import DEFAULT_LOCALE, LOCALES

LOCALE_COOKIE: Final[str] = "cdg_lang"
_MAX_HEADER = 500  # a longer Accept-Language is not a browser's; read only its start
_MAX_TAGS = 20


def _match(tag: str) -> str | None:
    """The supported locale a language tag asks for, if any.

    Every Chinese tag (zh, zh-CN, zh-Hans, zh-TW, ...) gets zh_CN: the only Chinese the
    catalogues hold, and better for a Chinese reader than English.
    """
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "zh":
        return "zh_CN"
    if parts[0] == "en":
        return "en"
    return None


def _accept_language(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (q=0 left out)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_TAGS]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The switch wins when it names a supported locale; then the browser's order; else zh_CN."""
    if cookie in LOCALES:
        return cookie
    for tag in _accept_language(accept_language or ""):
        if (found := _match(tag)) is not None:
            return found
    return DEFAULT_LOCALE
