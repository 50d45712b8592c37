"""Checking one aligned range of stored entries: the per-entry half of ``verify_store``.

A range starts at a multiple of its length ``2**level``, so every tree node its leaves
complete (up to ``level``) lies inside it, and the root of any prefix of the log is the
fold of the perfect subtrees before the range with the range's own partial root. A range
can therefore be checked on its own, in another process, and the results joined in index
order (``gateway.auditlog.store_verify``): only the chain link into the range's first
entry, the time order across the boundary and the nodes above ``level`` are left to the
join.

Per entry, in this order (the same checks and problem kinds as ``verify`` and
``DerivedChecks``, which read the log in one stream): its position, its leaf hash, the
index it claims, the tree's leaf, the previous-leaf link, the indexed columns, the time
order, the subject index rows and the entry MAC. The entry text is read for the dozen
fields these checks need with a typed decoder that skips the rest; an entry that decoder
refuses (a field of another type, no JSON) is parsed whole, as before, so nothing is
decided on a partial reading.

The tree nodes above the leaves are checked after the entries, level by level: each level
is hashed from the one below in one pass and compared with the stored level as a whole;
only a level that differs (a node missing, changed, or not a hash) is then walked node by
node. Problems are reported in the order the per-entry stream found them (by the entry
whose leaf completes the node, lower levels first). The rows come from
``gateway.auditlog.verify_repository``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from typing import Any

import msgspec
import orjson
from sqlalchemy import Connection

from audit import node_hash
from gateway.auditlog.derived import (
    column_mismatches,
    indexed_values,
    stored_text,
    subject_mismatch,
    subjects_digest,
)
from gateway.auditlog.derived_checks import (
    CHANGED_COLUMN,
    CHANGED_NODE,
    CHANGED_SUBJECT_INDEX,
    FORGED_ENTRY_MAC,
)
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.time_order import CLOCK_SKEW, TIME_REVERSED, reversed_message
from gateway.auditlog.verify import Problem
from gateway.auditlog.verify_repository import RangeRows, read_range

_PROBLEM_CAP = 101  # as the one-stream verifier: past 100 problems the rest is noise
_UNREADABLE_TIME = "(a time that does not read back)"  # equals no entry's time
_NO_SUBJECTS = subjects_digest([])  # most entries: a commitment to no residents


class _Head(msgspec.Struct, gc=False):
    """The fields of an entry that verification reads, typed as the writer writes them;
    the decoder skips all others. A field of another type fails the decoder, and the
    entry is then parsed whole (``_parse_whole``), so every check sees the value as the
    JSON holds it either way."""

    index: int | None = None
    prev: str | None = None
    recorded_at: str | None = None
    principal: str | None = None
    dataset: str | None = None
    purpose: str | None = None
    event: str | None = None
    decision: dict[str, Any] | None = None
    row_count: int | None = None
    privacy_cost: str | None = None
    subjects_digest: str | None = None
    subject_count: int | None = None


_DECODE_HEAD = msgspec.json.Decoder(_Head).decode
_AS_DICT = msgspec.structs.asdict


@dataclass(frozen=True)
class RangeJob:
    start: int  # first position of the range (a multiple of 2**level)
    stop: int  # one past its last position
    level: int  # log2 of the range length: nodes up to this level are checked here
    targets: tuple[int, ...]  # checkpoint sizes in (start, stop] whose roots are wanted
    first: bool = False  # the first range also reads entries at negative indexes
    last: bool = False  # the last range also reads entries past ``stop``
    # Every index below ``stop`` is stored in an intact log (it is at most the highest
    # stored index + 1): a range that ends short has lost its last entries, or all of them.
    filled: bool = False


@dataclass
class RangeResult:
    start: int
    position: int  # one past the last entry checked
    gap: Problem | None = None  # the log stops being contiguous here (nothing after counts)
    core: list[Problem] = field(default_factory=list)  # kinds of ``verify``
    derived: list[Problem] = field(default_factory=list)  # kinds of ``DerivedChecks``
    # (index, claimed prev) of the first entry when it got as far as the chain check.
    chain: tuple[int, str | None] | None = None
    last_digest: str = ""
    roots: dict[int, bytes] = field(default_factory=dict)  # size -> root of [start, size)
    top: bytes | None = None  # root of the whole range from the entries (a full range)
    node_top: bytes | None = None  # the same node from the tree's stored leaves
    first_time: tuple[int, datetime] | None = None
    last_time: tuple[int, datetime] | None = None
    unmacked: list[list[int]] = field(default_factory=list)
    missing: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, idx, hash)


def _blob(value: object) -> bytes:
    """A stored hash as bytes; a value of another type (text) becomes bytes that match nothing."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "replace")


def _float(value: object) -> object:
    """A stored real as the writer stores it (an integer only where SQLite kept one)."""
    return float(value) if type(value) is int else value


def _parse_whole(data: bytes) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # orjson refuses some valid JSON (integers past 64 bits)
            entry = json.loads(data.decode("utf-8"))
        except ValueError:  # no JSON, or no UTF-8
            return None  # the leaf hash check reports a damaged entry
    return entry if isinstance(entry, dict) else None


def _read(data: bytes) -> dict[str, Any] | None:
    """The entry's fields (those verification reads), or None when it is no JSON object.

    Reading a missing field and a null one is the same for every check (``get``), so the
    typed decoder's defaults stand for absent fields.
    """
    try:
        return _AS_DICT(_DECODE_HEAD(data))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _parse_whole(data)


def _columns_ok(values: tuple[Any, ...], stored: tuple[Any, ...], naive: datetime | None) -> bool:
    """True when the stored columns certainly equal the entry's ``indexed_values``;
    False means ``column_mismatches`` must decide. ``naive`` is the entry's time without
    its zone (UTC)."""
    if values[1:] != stored[1:]:
        return False
    when, have = values[0], stored[0]
    if when is None:
        return True
    if isinstance(have, datetime):
        # A naive stored time is UTC (how the store keeps it); equal means the same instant.
        return bool(have == (naive if have.tzinfo is None else when))
    return isinstance(have, str) and have == stored_text(when)


def check_range(conn: Connection, job: RangeJob, macs: EntryMacs | None) -> RangeResult:
    """Read and check the entries of ``job`` on ``conn`` (one pass, streamed)."""
    with read_range(conn, job.start, job.stop, job.level, first=job.first, last=job.last) as rows:
        return _check_rows(rows, job, macs)


def _check_rows(  # one tight loop, run a million times: kept in one piece
    rows: RangeRows, job: RangeJob, macs: EntryMacs | None
) -> RangeResult:
    result = RangeResult(start=job.start, position=job.start)
    core = result.core
    found: list[Problem] = []  # derived kinds, in entry order
    tree_problems: list[tuple[int, int, Problem]] = []  # (entry index, level, problem)
    targets = set(job.targets)
    subjects = rows.subjects
    idxs, hashes = rows.nodes.get(0, ([], []))
    leaves = dict(zip(idxs, hashes, strict=True))
    mac_valid = macs.checker() if macs is not None else None
    digests: list[bytes] = []  # the entries' leaf hashes, in order
    differing: dict[int, bytes] = {}  # offset -> the tree's leaf where it is another hash
    prev: str | None = "" if job.start == 0 else None  # unknown before a later range
    position = start = job.start
    utf8, typed = rows.utf8, rows.typed
    last_when: datetime | None = None  # the time order: the latest entry with a time
    last_when_index = -1
    naive_of: datetime | None = None
    naive: datetime | None = None
    leaf_prefix = b"\x00"

    def problem(into: list[Problem], index: int, kind: str, message: str) -> None:
        if len(into) < _PROBLEM_CAP:
            into.append(Problem(index, kind, message))

    for row in rows.entries:
        index = row[0]
        if index != position:
            kind = "missing_entry" if index > position else "reordered_entries"
            result.gap = Problem(
                position, kind, f"entry {position}: expected next, found index {index}"
            )
            break
        text = row[1]
        is_text = True
        if utf8:
            data = text  # the stored text's UTF-8 bytes (see ``RangeRows.utf8``)
            entry = _read(data)
        elif type(text) is str:
            data = text.encode("utf-8")
            entry = _read(data)
        else:
            # Not the text the writer stores (a blob, invalid UTF-8): hashed as the bytes
            # it holds, so the leaf hash locates it, and changed whatever it hashes to.
            data, entry, is_text = _blob(text), None, False
        digest = sha256(leaf_prefix + data).digest()
        hexed = digest.hex()
        if entry is None:
            claimed_index, claimed_prev = None, None
        else:
            claimed = entry.get("index")
            claimed_index = claimed if isinstance(claimed, int) else None
            claimed_p = entry.get("prev")
            claimed_prev = claimed_p if isinstance(claimed_p, str) else None
        node = leaves.get(index)
        if node is not None and type(node) is not bytes:
            node = _blob(node)
        # The entry itself (the checks of ``verify``, first failing one reported).
        if hexed != row[2] or not is_text:
            problem(
                core,
                position,
                "changed_entry",
                f"entry {position}: content does not match its leaf hash"
                if is_text
                else f"entry {position}: content is not stored as text",
            )
        elif claimed_index != position:
            problem(
                core,
                position,
                "reordered_entries",
                f"entry {position}: it was written as entry {claimed_index}",
            )
        elif node is not None and node != digest:
            problem(
                core,
                position,
                "changed_entry",
                f"entry {position}: the Merkle tree holds another entry here",
            )
        elif prev is None:
            result.chain = (position, claimed_prev)  # the join checks the link into the range
        elif claimed_prev != prev:
            problem(
                core,
                position,
                "broken_chain",
                f"entry {position}: the entry before it was changed, removed or inserted",
            )
        prev = hexed
        # What the store keeps beside the entry.
        if entry is not None:
            # On a store that types its columns they arrive as the writer stored them.
            # row_count as stored (a blob holding "4" is no 4); only a real may need a float.
            stored = tuple(row[3:11]) if typed else (*row[3:10], _float(row[10]))
            if stored[0] is None and not row[12]:  # a stored time that does not read back
                stored = (_UNREADABLE_TIME, *stored[1:])
            values = indexed_values(entry)
            when = values[0]
            if when is not None and when is not naive_of:
                naive_of, naive = when, when.replace(tzinfo=None)
            if not _columns_ok(values, stored, naive):
                wrong = column_mismatches(entry, stored)
                if wrong:
                    problem(
                        found,
                        index,
                        CHANGED_COLUMN,
                        f"entry {index}: stored {', '.join(wrong)} differ from the entry",
                    )
            if when is not None:
                if result.first_time is None:
                    result.first_time = (index, when)
                # Entries of one batch share their time (the same object): only a new
                # time can be out of order.
                if when is not last_when:
                    if last_when is not None and when < last_when - CLOCK_SKEW:
                        problem(
                            found,
                            index,
                            TIME_REVERSED,
                            reversed_message(index, when, last_when, last_when_index),
                        )
                    last_when = when
                last_when_index = index
            refs = subjects.get(index)
            why = (
                None
                if refs is None and entry.get("subjects_digest") == _NO_SUBJECTS
                else subject_mismatch(entry, refs or [])
            )
            if why is not None:
                problem(
                    found,
                    index,
                    CHANGED_SUBJECT_INDEX,
                    f"entry {index}: subject index {why}",
                )
        if mac_valid is not None:
            mac = row[11]
            if mac is None:
                runs = result.unmacked
                if runs and runs[-1][1] == index - 1:
                    runs[-1][1] = index
                else:
                    runs.append([index, index])
            elif type(mac) is not str or not mac_valid(index, digest, mac):
                problem(
                    found,
                    index,
                    FORGED_ENTRY_MAC,
                    f"entry {index}: its MAC does not verify (not written by the gateway)",
                )
        # The tree's leaf: interior nodes are checked against the tree's own leaves (an
        # edited entry is the leaf check's finding, not every node above it), the root
        # against the entries. A missing or malformed leaf counts as the entry's hash.
        if node is None:
            result.missing.append((0, index, digest))
        elif node != digest:
            if len(node) != 32:
                tree_problems.append(
                    (
                        index,
                        0,
                        Problem(index, CHANGED_NODE, f"tree node 0/{index} is not a 32-byte hash"),
                    )
                )
            else:
                differing[position - start] = node
        digests.append(digest)
        position += 1
    if result.gap is None and job.filled and position < job.stop:
        # Where the single stream stops too: at the first missing index, not at the
        # broken link into the next range.
        result.gap = Problem(
            position, "missing_entry", f"entry {position}: expected next, found none"
        )
    result.position = position
    result.last_digest = prev or ""
    if last_when is not None:
        result.last_time = (last_when_index, last_when)
    levels = _levels(digests, job.level)
    if differing:
        tree_leaves = list(digests)
        for offset, stored_leaf in differing.items():
            tree_leaves[offset] = stored_leaf
        tree_levels = _levels(tree_leaves, job.level)
    else:
        tree_levels = levels
    for size in sorted(targets):
        if size <= position:
            result.roots[size] = _prefix_root(levels, size - start)
    if position - start == 1 << job.level and digests:
        result.top = levels[job.level][0]
        result.node_top = tree_levels[job.level][0]
    _check_nodes(tree_levels, rows, start, result, tree_problems)
    result.missing.sort(key=lambda m: ((m[1] + 1 << m[0]) - 1, m[0]))
    tree_problems.sort(key=lambda p: (p[0], p[1]))
    ordered = sorted(
        [(p.index, 0, n, p) for n, p in enumerate(found)]
        + [(index, 1 + level, 0, p) for index, level, p in tree_problems],
        key=lambda t: t[:3],
    )
    result.derived = [t[3] for t in ordered[:_PROBLEM_CAP]]
    for index in sorted(subjects):
        if start <= index < position:
            continue
        if result.gap is not None and index > position:
            break  # past a gap nothing is read: those entries are not known to be missing
        problem(result.derived, index, CHANGED_SUBJECT_INDEX, "index rows for an entry not stored")
    return result


def _levels(leaves: list[bytes], top: int) -> list[list[bytes]]:
    """The perfect subtrees of ``leaves`` at every level up to ``top``, left to right
    (level 0 is ``leaves``; a level has one node per complete pair below it)."""
    out = [leaves]
    below = leaves
    for _ in range(top):
        pairs = iter(below)  # an odd node at the end completes nothing yet
        below = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        out.append(below)
    return out


def _prefix_root(levels: list[list[bytes]], count: int) -> bytes:
    """Root of the first ``count`` leaves (RFC 6962): the fold of the perfect subtrees
    that make up ``count``, largest (leftmost) first."""
    parts: list[bytes] = []
    offset = 0
    for height in range(len(levels) - 1, -1, -1):
        if count >> height & 1:
            parts.append(levels[height][offset >> height])
            offset += 1 << height
    digest = parts[-1]
    for left in reversed(parts[:-1]):
        digest = node_hash(left, digest)
    return digest


def _check_nodes(
    levels: list[list[bytes]],
    rows: RangeRows,
    start: int,
    result: RangeResult,
    problems: list[tuple[int, int, Problem]],
) -> None:
    """The stored interior nodes against those hashed from the tree's leaves."""
    for level in range(1, len(levels)):
        computed = levels[level]
        if not computed:
            return
        count = len(computed)
        lo = start >> level
        idxs, hashes = rows.nodes.get(level, ([], []))
        # The stored indexes are distinct and ascending: the first and the count-th being
        # lo and lo + count - 1 means every node in between is stored.
        if (
            len(idxs) >= count
            and idxs[0] == lo
            and idxs[count - 1] == lo + count - 1
            and hashes[:count] == computed
        ):
            continue
        stored = dict(zip(idxs, hashes, strict=True))
        for offset, value in enumerate(computed):
            idx = lo + offset
            have = stored.get(idx)
            if have is None:
                result.missing.append((level, idx, value))
            elif _blob(have) != value:
                last_leaf = ((idx + 1) << level) - 1
                problems.append(
                    (
                        last_leaf,
                        level,
                        Problem(
                            last_leaf,
                            CHANGED_NODE,
                            f"tree node {level}/{idx} does not hash its entries",
                        ),
                    )
                )
