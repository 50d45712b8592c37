"""Sending what the outbox holds: sign, POST, log the attempt, retry later or give up.

Each due message is first *taken* (its next attempt moved past a lease in a short
transaction), so several processes can deliver from one store without sending a message
twice at once. A process that dies mid-delivery leaves the message due again when the
lease ends: delivery is at least once, and receivers drop repeats by ``webhook-id``.

Only what an operator needs is logged per attempt: the attempt number, the status code,
the duration and the class of a transport error. Response bodies are never read.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from cryptography.exceptions import InvalidTag

from gateway.keys import KeyFileError, KeyRing
from gateway.metrics import WEBHOOK_DELIVERIES
from gateway.settings import Settings
from gateway.store.base import utcnow
from gateway.store.engine import Store
from gateway.webhooks.models import WebhookDelivery, WebhookMessage
from gateway.webhooks.repository import WebhookRepository
from gateway.webhooks.secrets_at_rest import unseal
from gateway.webhooks.signing import headers
from gateway.webhooks.urls import allowed_hosts, refusal

log = logging.getLogger("cdg.webhooks")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random.

        After attempt n the wait is between ½ and 1 × base·2^(n−1) (capped), so waits
        grow with every attempt while receivers that failed together do not retry together.
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_max_attempts,
            settings.webhook_backoff_seconds,
            settings.webhook_backoff_max_seconds,
        )


@dataclass(frozen=True)
class _Taken:
    id: str
    endpoint_id: str
    event: str
    body: bytes
    attempt: int


def body_of(message: WebhookMessage) -> bytes:
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


class Deliverer:
    """Delivers due messages from the store; one per process (the worker, or the CLI)."""

    def __init__(self, store: Store, keyring: KeyRing, settings: Settings) -> None:
        self.store = store
        self.keyring = keyring
        self.settings = settings
        self.retry = RetryPolicy.of(settings)
        self.rng = random.Random()  # noqa: S311 - jitter spreads retries, it guards nothing
        # No redirects: a listed host must not bounce a delivery to one that is not.
        self.client = httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        )

    def close(self) -> None:
        self.client.close()

    def deliver_due(self, limit: int = 50) -> int:
        """Attempt messages due now, one at a time (up to ``limit``); returns how many."""
        attempted = 0
        while attempted < limit:
            message = self._take_next()
            if message is None:
                break
            self._attempt(message)
            attempted += 1
        return attempted

    def _take_next(self) -> _Taken | None:
        """Take one due message, leased for as long as one attempt can take (and a margin).

        One at a time: a batch taken at once could outlive its lease behind slow receivers
        and be taken again by another process.
        """
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 30)
        with self.store.writing() as session:
            repo = WebhookRepository(session)
            for m in repo.due(now, 5):
                if repo.take(m.id, now, lease):
                    return _Taken(m.id, m.endpoint_id, m.event, body_of(m), m.attempts + 1)
        return None

    def _attempt(self, message: _Taken) -> None:
        with self.store.sessions() as session:
            found = WebhookRepository(session).endpoint_and_owner(message.endpoint_id)
        if found is None or found[0].deleted_at is not None:
            self._settle(message, "dropped", None, 0, "EndpointDeleted")
            return
        endpoint, owner_active = found
        if not owner_active:
            self._settle(message, "dropped", None, 0, "PrincipalRevoked")
            return
        if refusal(endpoint.url, allowed_hosts(self.settings.webhook_hosts)) is not None:
            # The operator took the host off the list: never send there again.
            self._settle(message, "failed", None, 0, "HostNotAllowed")
            return
        try:
            secret = unseal(self.keyring, endpoint.id, endpoint.secret_sealed, endpoint.key_version)
        except (InvalidTag, KeyFileError):  # its master-key version is gone
            self._settle(message, "failed", None, 0, "SecretUnreadable")
            return
        sent = headers(secret, message.id, int(time.time()), message.body)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            with self.client.stream("POST", endpoint.url, content=message.body, headers=sent) as r:
                status = r.status_code  # the body is never read
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        ms = int((time.perf_counter() - started) * 1000)
        if status is not None and 200 <= status < 300:
            self._settle(message, "delivered", status, ms, None)
        elif message.attempt >= self.retry.max_attempts:
            self._settle(message, "failed", status, ms, error)
        else:
            self._settle(message, "retry", status, ms, error)

    def _settle(
        self, message: _Taken, outcome: str, status: int | None, ms: int, error: str | None
    ) -> None:
        now = utcnow()
        state = "pending" if outcome == "retry" else outcome
        next_at: datetime = now
        if outcome == "retry":
            next_at = now + timedelta(seconds=self.retry.delay(message.attempt, self.rng))
        logged = "failed" if outcome == "dropped" else outcome  # the owner sees: no more tries
        with self.store.writing() as session:
            repo = WebhookRepository(session)
            repo.log(
                WebhookDelivery(
                    message_id=message.id,
                    endpoint_id=message.endpoint_id,
                    attempt=message.attempt,
                    attempted_at=now,
                    status_code=status,
                    duration_ms=ms,
                    error=error,
                    outcome=logged,
                )
            )
            repo.settle(message.id, state=state, attempts=message.attempt, next_attempt_at=next_at)
        WEBHOOK_DELIVERIES.labels(event=message.event, outcome=outcome).inc()
        if outcome == "failed":
            # Event type, counts and classes only: no URL (it may name an internal host).
            log.warning(
                "a %s webhook gave up after attempt %d (status %s, error %s)",
                message.event,
                message.attempt,
                status,
                error,
                extra={"event": message.event, "outcome": outcome, "attempt": message.attempt},
            )
