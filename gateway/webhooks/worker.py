"""The delivery worker: a daemon thread in each serving process, started by the app.

It delivers what is due, then sleeps ``CDG_WEBHOOK_POLL_SECONDS`` when nothing was; a
message written by any process of the gateway (or by the CLI) is picked up within that
time. Several processes share the outbox safely (see ``delivery.py``).
"""

from __future__ import annotations

import logging
import threading

from gateway.keys import KeyRing
from gateway.settings import Settings
from gateway.store.engine import Store
from gateway.webhooks.delivery import Deliverer

log = logging.getLogger("cdg.webhooks")


class DeliveryWorker:
    def __init__(self, store: Store, keyring: KeyRing, settings: Settings) -> None:
        self.deliverer = Deliverer(store, keyring, settings)
        self.poll = settings.webhook_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cdg-webhook-delivery", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliverer.deliver_due() > 0
            except Exception as exc:  # a store hiccup must not end deliveries for good
                log.error("webhook delivery round failed: %s", type(exc).__name__)
                busy = False
            if not busy:
                self._stop.wait(self.poll)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.deliverer.close()
