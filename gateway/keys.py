"""The master key ring: key files live outside the database.

``cdg init`` writes ``home/keys/master-v1.key`` (32 random bytes, base64, mode 0600).
``cdg keys rotate`` adds ``master-v2.key``; the highest version is current and
older versions stay readable so earlier ciphertexts and pseudonyms can be checked.
Every use derives its own key with HKDF (``anonymizers.derive_key``).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from gateway.settings import Settings

_KEY_FILE = re.compile(r"^master-v(\d+)\.key$")


class KeyFileError(RuntimeError):
    """The key ring is missing or unreadable; run `cdg init`."""


@dataclass(frozen=True)
class KeyRing:
    masters: dict[int, bytes]

    @property
    def current_version(self) -> int:
        return max(self.masters)

    @property
    def current(self) -> bytes:
        return self.masters[self.current_version]

    def master(self, version: int) -> bytes:
        try:
            return self.masters[version]
        except KeyError:
            raise KeyFileError(f"master key version {version} is not available") from None


def keys_dir(settings: Settings) -> Path:
    return settings.home / "keys"


def create_master_key(settings: Settings) -> Path:
    """Write the next master key version; returns its path."""
    directory = keys_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    existing = _versions(directory)
    version = max(existing, default=0) + 1
    path = directory / f"master-v{version}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
    return path


def _versions(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    found = (_KEY_FILE.match(p.name) for p in directory.iterdir())
    return [int(m.group(1)) for m in found if m]


def _decode(text: str) -> bytes:
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) < 32:
        raise KeyFileError("a master key must hold at least 32 bytes")
    return raw


def load_keyring(settings: Settings) -> KeyRing:
    if settings.master_key:
        return KeyRing({1: _decode(settings.master_key)})
    directory = keys_dir(settings)
    versions = _versions(directory)
    if not versions:
        raise KeyFileError(f"no master key in {directory}; run `cdg init`")
    masters = {
        v: _decode((directory / f"master-v{v}.key").read_text(encoding="ascii")) for v in versions
    }
    return KeyRing(masters)
