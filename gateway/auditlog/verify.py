"""Verifying the access log from the store or from an export, without trusting either.

Reads entries in index order once and checks, for each one: its position (no gap,
no duplicate), the index it claims, its leaf hash, and the previous-leaf hash it
carries (a chain that locates edits, insertions, removals and swaps). A streaming
RFC 6962 accumulator recomputes the root at every checkpoint size, and every
checkpoint must carry a valid signature by a published log key and match that
root (which also makes consecutive checkpoints consistent). A checkpoint saved by
an auditor earlier (``since``) must match the recomputed root at its size.
Witness cosignatures on any checkpoint must verify, and the newest checkpoint must
carry as many as are required: without the witnesses' keys a rewritten history
cannot get them, because a witness only cosigns trees consistent with what it saw.
The first problem found, by index, is what ``cdg audit verify`` reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from audit import CheckpointError, RootAccumulator, leaf_hash, open_checkpoint
from audit.cosignatures import verified_cosigners


class LoggedEntry:
    """One entry as read. A slotted class, not a frozen dataclass: a million of them are
    made per verification, and a frozen dataclass's ``__init__`` costs several times more."""

    __slots__ = ("digest", "entry", "index", "leaf_hash", "node", "parsed")

    def __init__(
        self,
        index: int,
        entry: str,
        leaf_hash: str,
        node: bytes | None = None,  # the tree's stored leaf, when reading from the store
        parsed: object = None,  # the entry's JSON, when the reader has parsed it already
        digest: bytes | None = None,  # leaf_hash(entry), when the reader computed it already
    ) -> None:
        self.index = index
        self.entry = entry
        self.leaf_hash = leaf_hash
        self.node = node
        self.parsed = parsed
        self.digest = digest


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Problem:
    index: int
    kind: str
    message: str


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    signed_size: int = 0  # entries covered by the newest valid signed checkpoint
    # When the oldest entry not yet under a signed checkpoint was recorded (store only).
    oldest_unsigned: datetime | None = None
    witnessed_size: int = 0  # entries covered by the newest checkpoint with enough cosignatures
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.index) if self.problems else None


def _claimed(text: str, parsed: object = None) -> tuple[int | None, str | None]:
    try:
        data = json.loads(text) if parsed is None else parsed
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    index, prev = data.get("index"), data.get("prev")
    return (index if isinstance(index, int) else None, prev if isinstance(prev, str) else None)


def note_problem(exc: CheckpointError) -> str:
    """A note we cannot parse is malformed; one that parses but fails a signature is forged."""
    return "malformed_checkpoint" if "malformed" in str(exc) else "forged_checkpoint"


@dataclass(frozen=True)
class WitnessPolicy:
    """Witness verifier keys (type 0x04) and how many cosignatures the newest checkpoint needs."""

    keys: Sequence[str] = ()
    required: int = 0


def check_cosignatures(
    note: str, size: int, witnesses: WitnessPolicy, report: Report, *, newest: bool
) -> bool:
    """Every configured witness's line must verify; the newest needs ``required`` of them."""
    if not witnesses.keys and not witnesses.required:
        return True
    try:
        found = verified_cosigners(note, witnesses.keys)
    except CheckpointError as exc:
        report.problems.append(Problem(size, "forged_cosignature", f"checkpoint {size}: {exc}"))
        return False
    if len(found) >= witnesses.required:
        report.witnessed_size = max(report.witnessed_size, size)
        return True
    if newest:
        report.problems.append(
            Problem(
                size,
                "missing_cosignatures",
                f"checkpoint at size {size} carries {len(found)} valid witness cosignatures, "
                f"{witnesses.required} required",
            )
        )
    return False


def _check_checkpoints(
    checkpoints: Sequence[StoredCheckpoint],
    verifier_keys: Sequence[str],
    origin: str,
    report: Report,
    witnesses: WitnessPolicy,
) -> dict[int, bytes]:
    """Signature and self-consistency of each stored checkpoint; returns size -> signed root."""
    signed: dict[int, bytes] = {}
    newest = max((cp.size for cp in checkpoints), default=None)
    for cp in checkpoints:
        check_cosignatures(cp.note, cp.size, witnesses, report, newest=cp.size == newest)
        try:
            opened = open_checkpoint(cp.note, verifier_keys, origin=origin)
        except CheckpointError as exc:
            report.problems.append(
                Problem(cp.size, "forged_checkpoint", f"checkpoint at size {cp.size}: {exc}")
            )
            continue
        if opened.size != cp.size or opened.root != cp.root:
            report.problems.append(
                Problem(
                    cp.size,
                    "altered_checkpoint",
                    f"checkpoint row at size {cp.size} does not match its signed note",
                )
            )
            continue
        signed[cp.size] = opened.root
    report.checkpoints = len(checkpoints)
    return signed


def verify(
    entries: Iterable[LoggedEntry],
    checkpoints: Sequence[StoredCheckpoint],
    verifier_keys: Sequence[str],
    origin: str,
    *,
    expected_size: int | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    witnesses: WitnessPolicy | None = None,
) -> Report:
    report = Report()
    targets = checkpoint_targets(checkpoints, verifier_keys, origin, report, since, witnesses)
    acc = RootAccumulator()
    prev = ""
    position = 0
    for logged in entries:
        if logged.index != position:
            kind = "missing_entry" if logged.index > position else "reordered_entries"
            report.problems.append(
                Problem(
                    position,
                    kind,
                    f"entry {position}: expected next, found index {logged.index}",
                )
            )
            break
        digest = logged.digest or leaf_hash(logged.entry.encode("utf-8"))
        claimed_index, claimed_prev = _claimed(logged.entry, logged.parsed)
        if digest.hex() != logged.leaf_hash:
            report.problems.append(
                Problem(
                    position,
                    "changed_entry",
                    f"entry {position}: content does not match its leaf hash",
                )
            )
        elif claimed_index != position:
            report.problems.append(
                Problem(
                    position,
                    "reordered_entries",
                    f"entry {position}: it was written as entry {claimed_index}",
                )
            )
        elif logged.node is not None and logged.node != digest:
            report.problems.append(
                Problem(
                    position,
                    "changed_entry",
                    f"entry {position}: the Merkle tree holds another entry here",
                )
            )
        elif claimed_prev != prev:
            report.problems.append(
                Problem(
                    position,
                    "broken_chain",
                    f"entry {position}: the entry before it was changed, removed or inserted",
                )
            )
        acc.add(digest)
        prev = digest.hex()
        position += 1
        if position in targets and acc.root() != targets[position]:
            report.problems.append(
                Problem(
                    position - 1,
                    "checkpoint_mismatch",
                    f"entries 0..{position - 1} do not hash to the signed checkpoint "
                    f"at size {position}",
                )
            )
        if progress is not None:
            progress(position)
        if report.problems and len(report.problems) > 100:
            break
    close_report(report, position, targets, expected_size)
    return report


def checkpoint_targets(
    checkpoints: Sequence[StoredCheckpoint],
    verifier_keys: Sequence[str],
    origin: str,
    report: Report,
    since: str | None = None,
    witnesses: WitnessPolicy | None = None,
) -> dict[int, bytes]:
    """Checks the checkpoints (and an auditor's saved one) into ``report``; returns
    size -> root for every genuine one: the roots the entries must hash to."""
    policy = witnesses or WitnessPolicy()
    signed = _check_checkpoints(checkpoints, verifier_keys, origin, report, policy)
    saved = None
    if since is not None:
        try:
            saved = open_checkpoint(since, verifier_keys, origin=origin)
        except CheckpointError as exc:
            report.problems.append(Problem(0, note_problem(exc), f"saved checkpoint: {exc}"))
        else:
            # An auditor's own copy needs no quorum, but a cosignature on it must be genuine.
            check_cosignatures(since, saved.size, WitnessPolicy(policy.keys), report, newest=False)
    targets = dict(signed)
    if saved is not None:
        targets.setdefault(saved.size, saved.root)
    return targets


def close_report(
    report: Report, position: int, targets: dict[int, bytes], expected_size: int | None
) -> None:
    """After the entries (``position`` of them in order): what the checkpoints and the
    sequencer say should be there."""
    report.entries = position
    report.signed_size = max((s for s in targets if s <= position), default=0)
    for size in sorted(targets):
        if size > position:
            report.problems.append(
                Problem(
                    position,
                    "truncated_tail",
                    f"a signed checkpoint covers {size} entries but the log holds {position}",
                )
            )
            break
    if expected_size is not None and expected_size != position and not report.problems:
        report.problems.append(
            Problem(
                position,
                "truncated_tail" if expected_size > position else "missing_entry",
                f"the log's sequencer counts {expected_size} entries but {position} are stored",
            )
        )
