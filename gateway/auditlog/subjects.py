"""SubjectRefs: keyed pseudonyms of residents, used only inside the access log.

One key for the whole log (derived from the first master key version, so a
master-key rotation does not split a resident's history), separate from the
per-app pseudonym keys: a SubjectRef links log entries, never app results.
"""

from __future__ import annotations

import base64
import re
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from anonymizers import derive_key, normalise_identifier
from gateway.keys import KeyRing

# What ``SubjectRefs.ref`` makes: "s_" and 16 bytes in lower-case base32 (26 characters).
SUBJECT_REF = re.compile(r"s_[a-z2-7]{26}")

# Residents released again (the same home-visit list every week) are not keyed again: the
# process remembers this many refs. It holds nothing the process does not hold anyway (the
# key is in memory), and it is emptied when full.
_REMEMBERED = 50_000


class SubjectRefs:
    def __init__(self, keyring: KeyRing) -> None:
        first = min(keyring.masters)
        self._mac = crypto_hmac.HMAC(
            derive_key(keyring.masters[first], "subject-ref", version=first), hashes.SHA256()
        )
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def ref(self, value: object) -> str:
        text = str(value)
        known = self._known.get(text)
        if known is not None:
            return known
        mac = self._mac.copy()
        mac.update(normalise_identifier(text).encode("utf-8"))
        made = "s_" + base64.b32encode(mac.finalize()[:16]).decode("ascii").rstrip("=").lower()
        with self._lock:
            if len(self._known) >= _REMEMBERED:
                self._known = {}
            self._known[text] = made
        return made

    def refs(self, values: list[object]) -> list[str]:
        return sorted({self.ref(v) for v in values if v is not None and str(v)})
