"""Getting stored checkpoints cosigned by the configured witnesses.

The witnesses' keys never enter the gateway: it sends each witness the signed
checkpoint and a consistency proof from the size the witness last cosigned, and
keeps the cosignature lines it gets back in the checkpoint's note. A witness
that is down or refuses leaves its line out; the refusal is logged without the
note (which is public anyway) and ``cdg audit verify`` reports a newest
checkpoint that lacks the required cosignatures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from audit import CheckpointError
from audit.cosignatures import add_cosignatures, parse_cosigner_key
from audit.witness import WitnessRefusal, request_cosignature
from gateway.auditlog.verify import WitnessPolicy
from gateway.settings import Settings

log = logging.getLogger("cdg.audit.witness")


@dataclass(frozen=True)
class WitnessConfig:
    url: str
    key: str  # the witness's cosignature verifier key (type 0x04)
    name: str


def configured_witnesses(settings: Settings) -> list[WitnessConfig]:
    """``CDG_WITNESSES``: comma-separated ``URL verifier-key`` pairs; bad ones fail loudly."""
    out = []
    for item in settings.witnesses.split(","):
        if not item.strip():
            continue
        parts = item.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ValueError("CDG_WITNESSES: each witness is 'URL verifier-key'")
        try:
            name, _, _ = parse_cosigner_key(parts[1])
        except CheckpointError as exc:
            raise ValueError(f"CDG_WITNESSES: {exc}") from None
        out.append(WitnessConfig(url=parts[0], key=parts[1], name=name))
    return out


def witness_keys(settings: Settings) -> list[str]:
    return [w.key for w in configured_witnesses(settings)]


def required_cosignatures(settings: Settings) -> int:
    configured = len(configured_witnesses(settings))
    wanted = settings.witnesses_required
    return configured if wanted is None else wanted


def witness_policy(settings: Settings) -> WitnessPolicy:
    """What verification requires of checkpoints on this gateway's configuration."""
    return WitnessPolicy(witness_keys(settings), required_cosignatures(settings))


def cosign(
    settings: Settings,
    note: str,
    last_size: int,
    proof_from: Callable[[int], Sequence[bytes]],
) -> str:
    """The note with the cosignature of every witness that agreed to cosign it."""
    lines: list[str] = []
    for witness in configured_witnesses(settings):
        try:
            lines.append(
                request_cosignature(
                    witness.url,
                    note,
                    witness.key,
                    proof_from,
                    last_size,
                    settings.witness_timeout_seconds,
                )
            )
        except WitnessRefusal as refusal:
            log.warning("witness %s refused a checkpoint: %s", witness.name, refusal.status)
        except (OSError, CheckpointError, ValueError) as exc:
            log.warning("witness %s did not cosign: %s", witness.name, type(exc).__name__)
    return add_cosignatures(note, lines) if lines else note
