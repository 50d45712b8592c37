"""Which database servers a source may live on: the operator's allow-list of hosts.

The host is checked after DNS resolution, so a name that points at an address outside
the list (or an alias of one inside it) is judged by where it really leads. Connection
targets can also hide in URL query parameters (libpq ``host``/``hostaddr``/``service``,
MySQL ``unix_socket``, ...); only a short list of harmless parameters is accepted, so a
target is only ever taken from the URL's host part.
"""

from __future__ import annotations

import ipaddress
import socket

from sqlalchemy.engine import URL, make_url

from gateway.errors import InvalidRequest
from gateway.settings import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LOOPBACK = ("127.0.0.0/8", "::1/128")
# Query parameters that choose no connection target and read no local file.
_HARMLESS = {
    "postgresql": {"options", "sslmode", "connect_timeout", "application_name",
                   "client_encoding", "target_session_attrs"},
    "mysql": {"charset", "connect_timeout", "read_timeout", "write_timeout", "binary_prefix"},
    "mariadb": {"charset", "connect_timeout", "read_timeout", "write_timeout", "binary_prefix"},
}


def _addresses(host: str) -> set[str]:
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise InvalidRequest("the source's host name does not resolve") from None
    return {str(info[4][0]).split("%")[0] for info in found}


def allowed_networks(settings: Settings) -> list[IPNetwork]:
    """The allow-list: CDG_SOURCE_HOSTS, else loopback plus the store's own server."""
    entries = [e.strip() for e in settings.source_hosts.split(",") if e.strip()]
    if not entries:
        entries = list(_LOOPBACK)
        store = make_url(settings.store_url)
        if store.host:
            entries.append(store.host)
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            networks += [ipaddress.ip_network(a) for a in _addresses(entry)]
    return networks


def vet_host(url: URL, settings: Settings) -> None:
    """Refuse a server URL whose target is hidden, missing or outside the allow-list."""
    family = url.get_backend_name()
    unexpected = set(url.query) - _HARMLESS.get(family, set())
    if unexpected:
        raise InvalidRequest(
            "the source URL carries a query parameter the gateway does not accept; "
            "give the server only as the URL's host and port"
        )
    if not url.host:
        raise InvalidRequest("the source URL must name its server's host (no local sockets)")
    networks = allowed_networks(settings)
    addresses = _addresses(url.host)
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip.is_unspecified or not any(ip in net for net in networks):
            raise InvalidRequest(
                "the source's server is not on the operator's list of allowed hosts"
            )
