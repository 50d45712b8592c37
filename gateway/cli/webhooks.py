"""``cdg webhooks deliver``: send what the outbox holds, for operators.

Serving processes deliver by themselves (``CDG_WEBHOOK_WORKER``); this command sends from
any machine with the store, for a gateway run with the worker off or to drain a backlog.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from gateway.cli.common import emit, settings
from gateway.keys import load_keyring
from gateway.store.engine import Store
from gateway.webhooks.delivery import Deliverer
from gateway.webhooks.repository import WebhookRepository

app = typer.Typer(help="Webhook notifications (the outbox).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Webhook notifications (the outbox); see docs/webhooks.md."""


@app.command("deliver")
def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Send what is due now, then exit (else keep running)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Attempt every due webhook message; retries wait their backoff."""
    s = settings()
    store = Store.from_url(s.store_url, 2)
    deliverer = Deliverer(store, load_keyring(s), s)
    attempted = 0
    try:
        while True:
            n = deliverer.deliver_due()
            attempted += n
            if n == 0:
                if once:
                    break
                time.sleep(s.webhook_poll_seconds)
        with store.sessions() as session:
            pending = WebhookRepository(session).pending_count()
    except KeyboardInterrupt:
        pending = -1
    finally:
        deliverer.close()
        store.dispose()
    summary = {"attempted": attempted, "pending": pending}
    if as_json:
        emit(summary, True)
    else:
        emit(f"attempted {attempted}; {pending} message(s) still pending (waiting to retry)", False)
