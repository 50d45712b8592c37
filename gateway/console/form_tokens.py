"""The CSRF token of a visitor without a session: the sign-in form and a resident's link page.

It is sent twice (cookie ``cdg_csrf`` and form field), and the gateway signs it: the token
is an issue time, a random nonce and an HMAC of both under a key derived from the master
key (``console-form-csrf``), so every worker and process on one home accepts what another
issued, and a value someone else chose (a cookie planted from a sibling subdomain or an
http page) is refused. A token older than ``MAX_AGE`` is refused too, so one fetched
by an attacker from their own visit cannot be planted for long. A master-key rotation
invalidates the outstanding ones: the next page load issues a new one.

All hex, so it fits the form field and cookie without quoting.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Final

from anonymizers import derive_key
from gateway.context import GatewayContext

MAX_AGE: Final = 2 * 3600  # seconds a form may stay open before it must be reloaded
_CONTEXT: Final = "console-form-csrf"
_STAMP: Final = 10  # hex digits of the issue time (seconds)
_NONCE: Final = 32  # hex digits
_MAC: Final = 64  # hex digits of HMAC-SHA256
LENGTH: Final = _STAMP + _NONCE + _MAC


def _mac(ctx: GatewayContext, body: str) -> str:
    ring = ctx.keyring
    key = derive_key(ring.current, _CONTEXT, version=ring.current_version)
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()


def issue(ctx: GatewayContext, now: float | None = None) -> str:
    stamp = f"{int(time.time() if now is None else now):0{_STAMP}x}"
    body = stamp + secrets.token_hex(_NONCE // 2)
    return body + _mac(ctx, body)


def valid(ctx: GatewayContext, token: str, now: float | None = None) -> bool:
    """Whether ``token`` is one this gateway issued, less than ``MAX_AGE`` ago."""
    if len(token) != LENGTH or not token.isascii():
        return False
    body, mac = token[: _STAMP + _NONCE], token[_STAMP + _NONCE :]
    if not hmac.compare_digest(mac, _mac(ctx, body)):
        return False
    age = (time.time() if now is None else now) - int(body[:_STAMP], 16)
    return -60 <= age <= MAX_AGE  # a minute of clock skew between processes
