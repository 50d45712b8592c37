"""Checking what the store keeps beside the entries against the entries themselves.

Runs in the same single pass as ``verify``: it wraps the entry stream, and for each
entry compares the indexed columns with the entry, the subject index rows with the
entry's commitment, and every tree node the entry completes with the node recomputed
from the entries' leaf hashes. Nodes are derived data: a missing one is listed so
``cdg audit repair`` can restore it; a wrong one is tampering and is only reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from audit import leaf_hash, node_hash
from gateway.auditlog.derived import column_mismatches, recorded_at, subject_mismatch
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.time_order import TIME_REVERSED, TimeOrder
from gateway.auditlog.verify import LoggedEntry, Problem, Report

# Problem kinds of derived data (besides those of ``gateway.auditlog.verify``).
CHANGED_COLUMN = "changed_column"
CHANGED_SUBJECT_INDEX = "changed_subject_index"
MISSING_NODE = "missing_node"
CHANGED_NODE = "changed_node"
EXTRA_ROWS = "extra_rows"
UNAUTHENTICATED_ENTRY = "unauthenticated_entry"
FORGED_ENTRY_MAC = "forged_entry_mac"
REPAIRABLE = frozenset({MISSING_NODE})


@dataclass
class DerivedChecks:
    repo: AuditRepository
    # Entry MACs are checked when given (the gateway's master key); None skips them.
    macs: EntryMacs | None = None
    problems: list[Problem] = field(default_factory=list)
    # Runs [first, last] of entries without a MAC: valid only under a signed checkpoint.
    unmacked: list[list[int]] = field(default_factory=list)
    missing: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, idx, hash)
    _stack: list[tuple[int, bytes]] = field(default_factory=list)  # (level, hash) frontier
    # (size, rows past it, rows at negative positions): read by ``read_stray_rows``.
    _stray: tuple[int, tuple[int, int], tuple[int, int, int]] | None = None
    _order: TimeOrder = field(default_factory=TimeOrder)

    def entries(self) -> Iterator[LoggedEntry]:
        for page in self.repo.verification_pages():
            seen = {index for index, *_ in page.entries}
            for index in sorted(set(page.subjects) - seen):
                self._problem(index, CHANGED_SUBJECT_INDEX, "index rows for an entry not stored")
            macs = self.macs
            for index, text, stored_leaf, stored_node, columns, mac in page.entries:
                parsed = self._check_entry(index, text, columns, page.subjects.get(index, []))
                digest = leaf_hash(text.encode("utf-8"))
                if macs is not None:
                    if mac is None:
                        self._unmacked(index)
                    elif not macs.valid(index, digest, mac):
                        self._problem(
                            index,
                            FORGED_ENTRY_MAC,
                            f"entry {index}: its MAC does not verify (not written by the gateway)",
                        )
                node = stored_node
                if node is None:
                    node = digest
                    self._node_missing(0, index, node)
                elif len(node) != 32:
                    self._problem(index, CHANGED_NODE, f"tree node 0/{index} is not a 32-byte hash")
                    node = digest  # reported once here, not again at every node above it
                # Interior nodes are checked against the tree's own leaves: an edited entry
                # is the leaf check's finding, not every node above it.
                self._add_leaf(index, node, page.nodes)
                yield LoggedEntry(index, text, stored_leaf, stored_node, parsed, digest)

    def _unmacked(self, index: int) -> None:
        runs = self.unmacked
        if runs and runs[-1][1] == index - 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])

    def read_stray_rows(self, size: int) -> None:
        """Count the rows ``finish`` reports for a log of ``size`` entries now, in the
        transaction that read the log, so ``finish`` needs no statement of its own."""
        self._stray = (size, self.repo.beyond(size), self.repo.stray_rows())

    def finish(self, size: int, signed_size: int | None = None) -> None:
        """Rows stored for entries that do not exist (past the end of the log), and entries
        without a MAC that no signed checkpoint covers (``signed_size``: entries covered)."""
        if signed_size is not None:
            for first, last in self.unmacked:
                low = max(first, signed_size)
                for index in range(low, min(last + 1, low + 101)):  # problems stop at 100
                    self._problem(
                        index,
                        UNAUTHENTICATED_ENTRY,
                        f"entry {index}: no entry MAC and no signed checkpoint covers it "
                        "(written outside the gateway; the gateway will not sign it)",
                    )
        stray = self._stray
        if stray is None or stray[0] != size:
            stray = (size, self.repo.beyond(size), self.repo.stray_rows())
        subjects, nodes = stray[1]
        if subjects or nodes:
            self._problem(
                size,
                EXTRA_ROWS,
                f"{subjects} subject index rows and {nodes} tree nodes lie past the last entry",
            )
        subjects, nodes, sequencers = stray[2]
        if subjects or nodes or sequencers:
            self._problem(
                0,
                EXTRA_ROWS,
                f"{subjects} subject index rows and {nodes} tree nodes at negative or "
                f"non-integer positions, {sequencers} sequencer or checkpoint rows besides "
                "the log's (another id, or a size that is not an integer)",
            )

    def _check_entry(
        self, index: int, text: str, columns: tuple[object, ...], refs: list[str]
    ) -> object:
        """The parsed entry (or None), after checking what is stored beside it."""
        try:
            entry = orjson.loads(text)
        except orjson.JSONDecodeError:
            try:  # orjson refuses some valid JSON (integers past 64 bits)
                entry = json.loads(text)
            except ValueError:
                return None  # the leaf hash check reports a damaged entry
        if not isinstance(entry, dict):
            return None
        wrong = column_mismatches(entry, columns)
        if wrong:
            self._problem(
                index,
                CHANGED_COLUMN,
                f"entry {index}: stored {', '.join(wrong)} differ from the entry",
            )
        reversed_time = self._order.step(index, recorded_at(entry))
        if reversed_time is not None:
            self._problem(index, TIME_REVERSED, reversed_time)
        why = subject_mismatch(entry, refs)
        if why is not None:
            self._problem(index, CHANGED_SUBJECT_INDEX, f"entry {index}: subject index {why}")
        return entry

    def _add_leaf(self, index: int, digest: bytes, stored: dict[tuple[int, int], bytes]) -> None:
        # The perfect subtrees this leaf completes, as the writer stores them.
        self._stack.append((0, digest))
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            (level, right), (_, left) = self._stack.pop(), self._stack.pop()
            level += 1
            value = node_hash(left, right)
            idx = (index + 1) // (1 << level) - 1
            have = stored.get((level, idx))
            if have is None:
                self._node_missing(level, idx, value)
            elif have != value:
                self._problem(
                    index,
                    CHANGED_NODE,
                    f"tree node {level}/{idx} does not hash its entries",
                )
            self._stack.append((level, value))

    def _node_missing(self, level: int, idx: int, value: bytes) -> None:
        if not self.missing:
            self._problem(
                ((idx + 1) << level) - 1,
                MISSING_NODE,
                f"tree node {level}/{idx} is missing (derived data: `cdg audit repair`)",
            )
        self.missing.append((level, idx, value))

    def _problem(self, index: int, kind: str, message: str) -> None:
        if len(self.problems) <= 100:
            self.problems.append(Problem(index, kind, message))


def unsigned_age(report: Report) -> float | None:
    """Seconds since the oldest entry that no signed checkpoint covers was recorded."""
    if report.oldest_unsigned is None:
        return None
    return round((datetime.now(UTC) - report.oldest_unsigned).total_seconds(), 3)
