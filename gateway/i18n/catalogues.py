"""Reading ``.po`` catalogues at run time and handing out gettext/ngettext per locale."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES: Final[tuple[str, ...]] = ("zh_CN", "en")
DEFAULT_LOCALE: Final[str] = "zh_CN"
DEFAULT_DOMAIN: Final[str] = "messages"  # the console; other surfaces may add their own

_ROOT = Path(__file__).resolve().parent / "locales"


def catalogue_path(locale: str, domain: str = DEFAULT_DOMAIN) -> Path:
    """Where the ``.po`` file of ``locale`` and ``domain`` lives (it may not exist)."""
    if locale not in LOCALES:
        raise ValueError("unknown locale")
    return _ROOT / locale / "LC_MESSAGES" / f"{domain}.po"


class Translator:
    """gettext and ngettext for one locale; unknown or untranslated ids come back as given."""

    def __init__(self, locale: str, translations: NullTranslations) -> None:
        self.locale = locale
        self._t = translations

    @property
    def lang(self) -> str:
        """The value for HTML ``lang`` (BCP 47: ``zh-CN``, ``en``)."""
        return self.locale.replace("_", "-")

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    # Jinja2's i18n extension looks these names up on the object it is given.
    def pgettext(self, context: str, message: str) -> str:
        return str(self._t.pgettext(context, message))

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self._t.npgettext(context, singular, plural, n)


def _load(locale: str, domain: str) -> NullTranslations:
    path = catalogue_path(locale, domain)
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=domain)
    # gettext reads the binary form only: build it in memory from the catalogue just read,
    # so the .po file stays the single source and nothing is compiled into the tree.
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=domain)


@lru_cache(maxsize=16)
def _translator(locale: str, domain: str) -> Translator:
    return Translator(locale, _load(locale, domain))


def translator(locale: str = DEFAULT_LOCALE, domain: str = DEFAULT_DOMAIN) -> Translator:
    """The translator of ``locale`` (an unknown locale gets the default) for ``domain``."""
    return _translator(locale if locale in LOCALES else DEFAULT_LOCALE, domain)
