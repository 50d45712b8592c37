"""``cdg webhooks deliver``: send what the outbox holds, for operators; ``cdg webhooks
add|list|remove|deliveries``: a principal's endpoints, through a running gateway.

Serving processes deliver by themselves (``CDG_WEBHOOK_WORKER``); this command sends from
any machine with the store, for a gateway run with the worker off or to drain a backlog.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from gateway.cli.common import emit, existing_home
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
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
    s = existing_home()
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
    except KeyboardInterrupt:  # the way to stop the long-running form
        pass
    finally:
        deliverer.close()
    try:
        with store.sessions() as session:
            pending = WebhookRepository(session).pending_count()
    finally:
        store.dispose()
    summary = {"attempted": attempted, "pending": pending}
    if as_json:
        emit(summary, True)
    else:
        emit(f"attempted {attempted}; {pending} message(s) still pending (waiting to retry)", False)


# -- endpoints, through a running gateway (as the key's principal) -------------------------

_WEBHOOK_COLUMNS = ["id", "url", "created_at"]


@app.command("add")
def add(
    endpoint: Annotated[str, typer.Argument(help="http(s) URL on a host in CDG_WEBHOOK_HOSTS")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an endpoint for the key's principal; prints its signing secret once."""
    with connected(url, key, as_json) as gw:
        show(gw.add_webhook(endpoint), as_json)


@app.command("list")
def listing(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """The key's principal's endpoints (never their secrets)."""
    with connected(url, key, as_json) as gw:
        show(gw.webhooks(), as_json, _WEBHOOK_COLUMNS)


@app.command("remove")
def remove(
    webhook_id: Annotated[str, typer.Argument(help="The endpoint's id")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete one of the key's principal's endpoints."""
    with connected(url, key, as_json) as gw:
        gw.delete_webhook(webhook_id)
    show({"removed": webhook_id}, as_json)


@app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="The endpoint's id")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delivery attempts to one endpoint, newest first (never response bodies)."""
    with connected(url, key, as_json) as gw:
        rows = gw.deliveries(webhook_id, limit)
    show(rows, as_json, ["attempted_at", "event", "attempt", "outcome", "status_code", "error"])
