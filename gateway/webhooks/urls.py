"""Which URLs an endpoint may have.

The gateway sits inside a government intranet and would POST wherever a principal
asks: without limits, registering ``http://10.0.0.5:8080/admin`` and reading the
delivery log's status codes and timings would let any API key probe the intranet (SSRF).
So: only ``http``/``https``; no user name or password in the URL (it would be shown back
in listings); and the host must be one the operator listed in ``CDG_WEBHOOK_HOSTS``
(exact names or address literals, compared case-insensitively). The default list is
empty, so webhooks are off until an operator names the receivers. The check is repeated
before every delivery (the list may have shrunk since registration), and redirects are
never followed, so a listed host cannot bounce a delivery elsewhere.

A listed *name* is trusted to keep resolving where the operator meant: the list names
hosts the operator controls, so DNS answers are not re-checked here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.errors import InvalidRequest

MAX_URL_LENGTH = 2048


def allowed_hosts(setting: str) -> frozenset[str]:
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


def refusal(url: str, hosts: frozenset[str]) -> str | None:
    """Why ``url`` may not receive webhooks (a fixed text that never echoes it), or None."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        return "the webhook URL is too long or contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return "the webhook URL cannot be parsed"
    if parts.scheme not in ("http", "https"):
        return "a webhook URL must start with http:// or https://"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "a webhook URL may not carry a user name or password"
    host = (parts.hostname or "").lower()
    if not host:
        return "the webhook URL names no host"
    if port == 0:
        return "the webhook URL's port is invalid"
    if host not in hosts:
        return "the webhook URL's host is not in the operator's allow-list (CDG_WEBHOOK_HOSTS)"
    return None


def check_url(url: str, hosts: frozenset[str]) -> None:
    reason = refusal(url, hosts)
    if reason is not None:
        raise InvalidRequest(reason)
