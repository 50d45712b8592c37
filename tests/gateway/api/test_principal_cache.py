"""The principal cache: a hit skips the key lookup; any revocation ends it at once, and a
key's expiry ends it on time (tests/gateway/auth/test_key_lifecycle.py: over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.access.repository import AccessRepository
from gateway.auth.cache import PrincipalCache
from gateway.auth.service import add_principal, digest, revoke_principal
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from tests.conftest import Gateway


def test_a_key_revoked_by_another_process_stops_working_at_the_next_request(
    gateway: Gateway,
) -> None:
    with gateway.ctx.store.transaction() as session:
        _, key = add_principal(
            session, name="youyi-care", kind="app", domain="youyi", role="elder-care"
        )
    gateway.keys["youyi-care"] = key
    assert gateway.get("youyi-care", "/v1/datasets").status_code == 200
    assert gateway.get("youyi-care", "/v1/datasets").status_code == 200
    # Remembered after the first request: the second was answered from the cache.
    with gateway.ctx.store.transaction() as session:
        epoch = AccessRepository(session).epoch()
    cached = gateway.ctx.principals.get(digest(key), epoch)
    assert cached is not None and cached.name == "youyi-care"
    # Another gateway process on the same store revokes the principal.
    other = GatewayContext.open(gateway.ctx.settings)
    try:
        with other.store.transaction() as session:
            revoke_principal(session, "youyi-care")
    finally:
        other.close()
    refused = gateway.get("youyi-care", "/v1/datasets")
    assert refused.status_code == 401 and refused.json()["error"] == "Unauthenticated"
    # Other callers keep working, now looked up afresh under the new epoch.
    assert gateway.get("heping-committee", "/v1/datasets").status_code == 200


def test_an_unknown_key_is_never_remembered(gateway: Gateway) -> None:
    wrong = "cdg_" + "A" * 43
    for _ in range(2):
        r = gateway.client.get("/v1/datasets", headers={"Authorization": f"Bearer {wrong}"})
        assert r.status_code == 401
    with gateway.ctx.store.transaction() as session:
        epoch = AccessRepository(session).epoch()
    assert gateway.ctx.principals.get(digest(wrong), epoch) is None


def test_a_remembered_key_is_never_served_at_or_past_its_expiry() -> None:
    cache = PrincipalCache()
    who = AuthPrincipal("p", "heping-committee", "app", "neighbourhood-committee", "heping")
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    cache.put("d-expiring", 7, who, now + timedelta(seconds=30))
    cache.put("d-lasting", 7, who)
    assert cache.get("d-expiring", 7, now) == who
    assert cache.get("d-expiring", 7, now + timedelta(seconds=30)) is None
    assert cache.get("d-expiring", 7, now + timedelta(days=1)) is None
    assert cache.get("d-lasting", 7, now + timedelta(days=3650)) == who
    assert cache.get("d-lasting", 8, now) is None  # another epoch: read afresh
