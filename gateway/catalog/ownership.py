"""One database, one department: claiming a source's identity at registration.

The claim is a row keyed by the identity, so two departments registering the same
database at the same moment cannot both succeed: the second insert fails on the key.
A department may register its own database again (under another source name).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.catalog.catalog_context import CatalogContext
from gateway.catalog.credentials import decrypt_url
from gateway.catalog.engines import make_source_engine
from gateway.catalog.models import SourceIdentity
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.source_identity import database_identity
from gateway.errors import Conflict, GatewayError, InvalidRequest

log = logging.getLogger("gateway.catalog")


def claim_identity(
    repo: CatalogRepository, ctx: CatalogContext, department: str, dialect: str, identity: str
) -> None:
    """Refuse the store and other departments' databases; record ``department`` as owner."""
    store_family = make_url(ctx.settings.store_url).get_backend_name()
    if ctx.store_identity is None and dialect == store_family:
        # Without the store's identity a source on its server could be the store itself.
        raise InvalidRequest(
            "the gateway could not read its own store's identity, so it accepts no source "
            "of the same kind / 网关无法确认自身存储库的身份，因此不接受同类数据源"
        )
    if identity == ctx.store_identity:
        raise InvalidRequest(
            "a source cannot be the gateway's own store / 数据源不能是网关自身的存储库",
            reason="source_is_store",
        )
    backfill_identities(repo, ctx)
    owner = repo.identity_owner(identity)
    if owner is not None and owner != department:
        raise Conflict(
            "this database is already registered by another department / 该数据库已由其他部门登记",
            reason="source_owned_elsewhere",
        )
    if owner is None:
        try:
            with repo.session.begin_nested():
                repo.add(SourceIdentity(identity=identity, owner=department))
        except IntegrityError:
            raise Conflict(
                "this database is already registered by another department "
                "/ 该数据库已由其他部门登记",
                reason="source_owned_elsewhere",
            ) from None


def backfill_identities(repo: CatalogRepository, ctx: CatalogContext) -> None:
    """Give sources registered before identities existed theirs, so they count too."""
    for source in repo.sources_without_identity():
        try:
            url = decrypt_url(ctx.keyring, source.name, source.url_ciphertext, source.key_version)
            engine = make_source_engine(url, 1)
            try:
                identity = database_identity(engine)
            finally:
                engine.dispose()
        except (GatewayError, SQLAlchemyError, OSError, ValueError):
            # Unreachable now: it stays unclaimed until a later registration reaches it.
            log.warning("a source registered earlier could not be identified yet")
            continue
        source.identity = identity
        if repo.identity_owner(identity) is None:
            repo.add(SourceIdentity(identity=identity, owner=source.owner))
        elif repo.identity_owner(identity) != source.owner:
            log.warning("two departments registered one database before identities existed")
