"""Which URLs an endpoint may have.

The gateway sits inside a government intranet and would POST wherever a principal
asks: without limits, registering ``http://10.0.0.5:8080/admin`` and reading the
delivery log's status codes and timings would let any API key probe the intranet (SSRF).
So: only ``http``/``https``; no user name or password in the URL (it would be shown back
in listings); and the host must be one the operator listed in ``CDG_WEBHOOK_HOSTS``
(exact names or address literals, compared case-insensitively), on the ports the entry
names: ``host`` alone allows only 80 and 443, ``host:8443`` that port, ``host:*`` any
port (otherwise a listed host could be port-scanned through the delivery log). The
default list is
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


DEFAULT_PORTS = frozenset({80, 443})
ANY_PORT = -1


def _entry(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``host:*``, ``[v6]:port`` or a bare IPv6 literal."""
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if port_text == "*":
        return host, ANY_PORT
    return host, int(port_text) if port_text.isdigit() else None


def allowed_hosts(setting: str) -> frozenset[tuple[str, int | None]]:
    return frozenset(_entry(h) for h in setting.split(",") if h.strip())


def _allowed(host: str, port: int, hosts: frozenset[tuple[str, int | None]]) -> bool:
    return (
        (host, ANY_PORT) in hosts
        or (host, port) in hosts
        or ((host, None) in hosts and port in DEFAULT_PORTS)
    )


def refusal(url: str, hosts: frozenset[tuple[str, int | None]]) -> str | None:
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
    effective = port if port is not None else (443 if parts.scheme == "https" else 80)
    if not _allowed(host, effective, hosts):
        return (
            "the webhook URL's host and port are not in the operator's allow-list "
            "(CDG_WEBHOOK_HOSTS)"
        )
    return None


def check_url(url: str, hosts: frozenset[tuple[str, int | None]]) -> None:
    reason = refusal(url, hosts)
    if reason is not None:
        raise InvalidRequest(reason)
