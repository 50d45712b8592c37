"""psycopg loaders for date, timestamp and timestamptz that do not fail on a value
Python's datetime cannot hold (``infinity``, ``-infinity``, BC dates, years past 9999).

Each wraps the standard loader (psycopg's C loader when it is installed): a value
it reads is returned as before; one it raises on is returned as its raw bytes, which
conformance (``gateway.queries.conformance``) withholds under every declared type
and ``plain`` releases as null. Only source connections register them.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import abc
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format

_TYPES = ("date", "timestamp", "timestamptz")


def _lenient(base: type[abc.Loader]) -> type[Loader]:
    class Lenient(Loader):
        format = base.format

        def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
            super().__init__(oid, context)
            # Built with the connection as context: timestamptz reads its time zone.
            self._load = base(oid, context).load

        def load(self, data: Buffer) -> Any:
            try:
                return self._load(data)
            except (psycopg.DataError, ValueError, OverflowError):
                return bytes(data)

    Lenient.__name__ = Lenient.__qualname__ = f"Lenient{base.__name__}"
    return Lenient


def _build() -> list[tuple[int, type[Loader]]]:
    defaults = psycopg.adapters
    loaders: list[tuple[int, type[Loader]]] = []
    for name in _TYPES:
        info = defaults.types[name]
        for fmt in (Format.TEXT, Format.BINARY):
            base = defaults.get_loader(info.oid, fmt)
            if base is not None:
                loaders.append((info.oid, _lenient(base)))
    return loaders


_LOADERS = _build()


def register_lenient_date_loaders(adapters: AdaptersMap) -> None:
    for oid, loader in _LOADERS:
        adapters.register_loader(oid, loader)
