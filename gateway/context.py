"""What one gateway process holds: settings, store, key ring, source engines."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.engines import SourceEngines
from gateway.keys import KeyRing, load_keyring
from gateway.settings import Settings
from gateway.store.engine import Store


@dataclass
class GatewayContext:
    settings: Settings
    store: Store
    keyring: KeyRing
    engines: SourceEngines

    @classmethod
    def open(cls, settings: Settings) -> GatewayContext:
        return cls(
            settings=settings,
            store=Store.from_url(settings.store_url),
            keyring=load_keyring(settings),
            engines=SourceEngines(settings.source_pool_size),
        )

    def close(self) -> None:
        self.engines.dispose()
        self.store.dispose()
