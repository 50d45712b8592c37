"""gateway.i18n: catalogues read at run time, locale negotiation, times in the zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    catalogue_path,
    format_time,
    negotiate,
    translator,
)
from gateway.i18n.extract import extracted, missing


def test_chinese_is_the_default_and_translates() -> None:
    assert DEFAULT_LOCALE == "zh_CN"
    assert translator().gettext("Sign in") == "登录"
    assert translator("zh_CN").lang == "zh-CN"


def test_english_keeps_the_id_and_its_plural() -> None:
    en = translator("en")
    assert en.gettext("Sign in") == "Sign in"
    assert en.ngettext("%(n)d row", "%(n)d rows", 1) == "%(n)d row"
    assert en.ngettext("%(n)d row", "%(n)d rows", 2) == "%(n)d rows"


def test_chinese_plural_has_one_form() -> None:
    zh = translator("zh_CN")
    assert zh.ngettext("%(n)d row", "%(n)d rows", 1) == zh.ngettext("%(n)d row", "%(n)d rows", 5)


def test_unknown_locale_gets_the_default_and_unknown_ids_come_back() -> None:
    assert translator("fr").locale == "zh_CN"
    assert translator("en").gettext("no such message id") == "no such message id"


def test_catalogues_are_po_files_only() -> None:
    for locale in LOCALES:
        folder = catalogue_path(locale).parent
        assert catalogue_path(locale).is_file()
        assert not list(folder.glob("*.mo")), "catalogues are read from .po at run time"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "zh_CN"),
        (None, "", "zh_CN"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh_CN"),
        (None, "fr-FR, de;q=0.7", "zh_CN"),
        (None, "en;q=0.3, zh-CN;q=0.8", "zh_CN"),
        (None, "zh;q=0, en", "en"),
        (None, "en;q=abc, zh", "zh_CN"),
        ("en", "zh-CN", "en"),
        ("zh_CN", "en", "zh_CN"),
        ("klingon", "en", "en"),
        (None, "x," * 5000, "zh_CN"),
    ],
)
def test_negotiation(cookie: str | None, header: str | None, expected: str) -> None:
    assert negotiate(cookie, header) == expected


def test_times_are_shown_in_the_configured_zone() -> None:
    instant = datetime(2026, 1, 1, 16, 30, tzinfo=UTC)
    assert format_time(instant, "Asia/Shanghai") == "2026年01月02日 00:30:00"
    assert format_time(instant, "Europe/London", "en") == "2026-01-01 16:30:00"
    # Naive values come from the store in UTC.
    assert format_time(instant.replace(tzinfo=None), "Asia/Shanghai", "en", with_zone=True) == (
        "2026-01-02 00:30:00 CST"
    )
    assert format_time(None, "Asia/Shanghai") == ""


def test_every_console_message_is_in_the_catalogues() -> None:
    gaps = missing(extracted())
    assert not gaps, f"run `python -m gateway.i18n.extract` and translate: {gaps}"
