"""What one gateway process holds: settings, store, key ring, source engines."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit import CheckpointSigner
from gateway.access.service import EngineHolder
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.subjects import SubjectRefs
from gateway.auditlog.writer import Appender, AuditLog
from gateway.auth.cache import PrincipalCache
from gateway.catalog.engines import SourceEngines
from gateway.catalog.source_identity import store_identity
from gateway.catalog.source_paths import department_roots
from gateway.keys import KeyRing, load_keyring
from gateway.settings import Settings
from gateway.store.engine import Store
from policies import load_hierarchy


@dataclass
class GatewayContext:
    settings: Settings
    store: Store
    keyring: KeyRing
    engines: SourceEngines
    audit: AuditLog
    subjects: SubjectRefs
    access: EngineHolder
    # What the store's own database says it is, asked once at startup: a source with
    # this identity is refused. None when the store would not say (fail closed).
    store_identity: str | None = None
    # Callers by API-key digest, for the current policy epoch (gateway/auth/cache.py).
    principals: PrincipalCache = field(default_factory=PrincipalCache)

    @classmethod
    def open(cls, settings: Settings) -> GatewayContext:
        department_roots(settings)  # a malformed CDG_SOURCE_DIRS stops startup
        store = Store.from_url(settings.store_url, settings.store_pool_size)
        keyring = load_keyring(settings)
        signer = CheckpointSigner(settings.log_origin, keyring.signer)
        return cls(
            settings=settings,
            store=store,
            keyring=keyring,
            engines=SourceEngines(settings.source_pool_size),
            audit=AuditLog(
                store,
                Appender(
                    settings,
                    signer,
                    EntryMacs(keyring),
                    verifier_keys(keyring, settings.log_origin),
                ),
            ),
            subjects=SubjectRefs(keyring),
            access=EngineHolder(load_hierarchy(settings.purposes_file)),
            store_identity=store_identity(store.engine),
        )

    def close(self) -> None:
        self.audit.close()
        self.engines.dispose()
        self.store.dispose()
