"""Instants shown in the configured zone (setting ``CDG_TIME_ZONE``, default Asia/Shanghai).

The store keeps UTC; people read local time. A naive datetime is taken as UTC, which is
how the store hands times back on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

_FORMATS = {"zh_CN": "%Y年%m月%d日 %H:%M:%S", "en": "%Y-%m-%d %H:%M:%S"}


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name; raises ``ZoneInfoNotFoundError`` if unknown)."""
    return ZoneInfo(name)


def format_time(
    value: datetime | None, zone_name: str, locale: str = "zh_CN", *, with_zone: bool = False
) -> str:
    """``value`` in ``zone_name``, written the way ``locale`` writes dates; "" for None."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone(zone_name))
    text = local.strftime(_FORMATS.get(locale, _FORMATS["en"]))
    return f"{text} {local.tzname()}" if with_zone else text
