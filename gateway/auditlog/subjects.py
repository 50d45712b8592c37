"""SubjectRefs: keyed pseudonyms of residents, used only inside the access log.

One key for the whole log (derived from the first master key version, so a
master-key rotation does not split a resident's history), separate from the
per-app pseudonym keys: a SubjectRef links log entries, never app results.
"""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from anonymizers import derive_key, normalise_identifier
from gateway.keys import KeyRing

# What ``SubjectRefs.ref`` makes: "s_" and 16 bytes in lower-case base32 (26 characters).
SUBJECT_REF = re.compile(r"s_[a-z2-7]{26}")


class SubjectRefs:
    def __init__(self, keyring: KeyRing) -> None:
        first = min(keyring.masters)
        self._mac = crypto_hmac.HMAC(
            derive_key(keyring.masters[first], "subject-ref", version=first), hashes.SHA256()
        )

    def ref(self, value: object) -> str:
        mac = self._mac.copy()
        mac.update(normalise_identifier(str(value)).encode("utf-8"))
        return "s_" + base64.b32encode(mac.finalize()[:16]).decode("ascii").rstrip("=").lower()

    def refs(self, values: list[object]) -> list[str]:
        return sorted({self.ref(v) for v in values if v is not None and str(v)})
