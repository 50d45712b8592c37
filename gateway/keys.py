"""The key ring: key files live outside the database.

``cdg init`` writes ``home/keys/master-v1.key`` (32 random bytes, base64, mode 0600)
and ``home/keys/log-signing-v1.key`` (an Ed25519 seed that signs audit checkpoints).
``cdg keys rotate`` adds the next version of either; the highest version is current
and older versions stay, so earlier ciphertexts, pseudonyms and checkpoints can
still be read and verified. Every use of the master key derives its own key with
HKDF (``anonymizers.derive_key``).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.home import private_dir
from gateway.settings import Settings

_KEY_FILE = re.compile(r"^master-v(\d+)\.key$")
_SIGNING_FILE = re.compile(r"^log-signing-v(\d+)\.key$")


class KeyFileError(RuntimeError):
    """The key ring is missing or unreadable; run `cdg init`."""


@dataclass(frozen=True)
class KeyRing:
    masters: dict[int, bytes]
    signing: dict[int, Ed25519PrivateKey]

    @property
    def current_version(self) -> int:
        return max(self.masters)

    @property
    def current(self) -> bytes:
        return self.masters[self.current_version]

    @property
    def signer(self) -> Ed25519PrivateKey:
        if not self.signing:
            raise KeyFileError("no log signing key; run `cdg init`")
        return self.signing[max(self.signing)]

    def master(self, version: int) -> bytes:
        try:
            return self.masters[version]
        except KeyError:
            raise KeyFileError(f"master key version {version} is not available") from None


def keys_dir(settings: Settings) -> Path:
    return settings.home / "keys"


def _write_next(settings: Settings, pattern: re.Pattern[str], stem: str) -> Path:
    private_dir(settings.home)
    directory = private_dir(keys_dir(settings))
    version = max(_versions(directory, pattern), default=0) + 1
    path = directory / f"{stem}-v{version}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
    return path


def create_master_key(settings: Settings) -> Path:
    """Write the next master key version; returns its path."""
    return _write_next(settings, _KEY_FILE, "master")


def create_signing_key(settings: Settings) -> Path:
    """Write the next log-signing key version (an Ed25519 seed); returns its path."""
    return _write_next(settings, _SIGNING_FILE, "log-signing")


def ensure_keys(settings: Settings) -> list[Path]:
    """Create whichever key is missing; returns the files written."""
    created = []
    directory = keys_dir(settings)
    if not settings.master_key and not _versions(directory, _KEY_FILE):
        created.append(create_master_key(settings))
    if not settings.log_signing_key and not _versions(directory, _SIGNING_FILE):
        created.append(create_signing_key(settings))
    return created


def _versions(directory: Path, pattern: re.Pattern[str] = _KEY_FILE) -> list[int]:
    if not directory.is_dir():
        return []
    found = (pattern.match(p.name) for p in directory.iterdir())
    return [int(m.group(1)) for m in found if m]


def _decode(text: str) -> bytes:
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) < 32:
        raise KeyFileError("a master key must hold at least 32 bytes")
    return raw


def _load(directory: Path, pattern: re.Pattern[str], stem: str) -> dict[int, bytes]:
    return {
        v: _decode((directory / f"{stem}-v{v}.key").read_text(encoding="ascii"))
        for v in _versions(directory, pattern)
    }


def load_keyring(settings: Settings) -> KeyRing:
    directory = keys_dir(settings)
    if settings.master_key:
        masters = {1: _decode(settings.master_key)}
    else:
        masters = _load(directory, _KEY_FILE, "master")
    if not masters:
        raise KeyFileError(f"no master key in {directory}; run `cdg init`")
    if settings.log_signing_key:
        seeds = {1: _decode(settings.log_signing_key)}
    else:
        seeds = _load(directory, _SIGNING_FILE, "log-signing")
    signing = {v: Ed25519PrivateKey.from_private_bytes(seed[:32]) for v, seed in seeds.items()}
    return KeyRing(masters, signing)
