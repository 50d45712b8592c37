"""Refresh the catalogues from the code: ``python -m gateway.i18n.extract [--check]``.

Collects every message the console marks for translation (``_()``, ``gettext``,
``ngettext`` in Python; ``{{ _("...") }}`` and ``{% trans %}`` in templates) and merges it
into each locale's ``messages.po``: new ids are added untranslated, ids no longer used
are dropped, translations already written are kept. ``--check`` changes nothing and exits
1 when a message is missing from a catalogue or has no Chinese translation (tests run it).
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from gateway.i18n.catalogues import DEFAULT_DOMAIN, DEFAULT_LOCALE, LOCALES, catalogue_path

_GATEWAY = Path(__file__).resolve().parents[1]
# Folders whose messages belong to the console's domain; others may add their own domain.
SOURCES = (_GATEWAY / "console",)
_METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
}
_FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)  # keeps the header stable between runs


def extracted() -> Catalog:
    """Every message marked in ``SOURCES``."""
    template = Catalog(domain=DEFAULT_DOMAIN, creation_date=_FIXED_DATE, fuzzy=False)
    for root in SOURCES:
        if not root.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            root, _METHODS, _OPTIONS, keywords=_KEYWORDS, strip_comment_tags=True
        ):
            template.add(
                message,
                None,
                [(str(Path(root.name) / filename), lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def _read(locale: str) -> Catalog:
    path = catalogue_path(locale)
    if not path.is_file():
        return Catalog(locale=locale, domain=DEFAULT_DOMAIN, creation_date=_FIXED_DATE)
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DEFAULT_DOMAIN)


def _render(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, no_location=True)
    return buffer.getvalue()


def _translated(string: object) -> bool:
    if isinstance(string, tuple):
        return bool(string) and all(string)
    return bool(string)


def missing(template: Catalog) -> dict[str, list[str]]:
    """Per locale: ids used in the code that the catalogue lacks (zh_CN: or leaves empty)."""
    gaps: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalog = _read(locale)
        lacking: list[str] = []
        for message in template:
            if not message.id:
                continue
            key = str(message.id[0] if isinstance(message.id, tuple) else message.id)
            found = catalog.get(key, message.context)
            if found is None or (locale == DEFAULT_LOCALE and not _translated(found.string)):
                lacking.append(key)
        if lacking:
            gaps[locale] = lacking
    return gaps


def update() -> None:
    template = extracted()
    for locale in LOCALES:
        catalog = _read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.revision_date = _FIXED_DATE
        catalog.creation_date = _FIXED_DATE
        path = catalogue_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_render(catalog))


def main(argv: list[str]) -> int:
    template = extracted()
    if "--check" in argv:
        gaps = missing(template)
        for locale, ids in gaps.items():
            for key in ids:
                print(f"{locale}: untranslated: {key!r}")
        return 1 if gaps else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
