"""All SQL of the access log. Rows are only ever inserted."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Result,
    String,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEntryRow,
    AuditNode,
    AuditSequencer,
    AuditSubject,
)


@dataclass(frozen=True)
class VerificationPage:
    """A run of entries in index order with everything stored beside them.

    ``subjects`` holds the index rows for every entry index in ``(after, last]`` (also
    indexes with no entry), ``nodes`` the interior tree nodes completed by these entries.
    """

    after: int
    # (index, entry, leaf_hash, tree leaf, indexed columns in INDEXED_COLUMNS order, MAC)
    entries: list[tuple[int, str, str, bytes | None, tuple[Any, ...], str | None]]
    subjects: dict[int, list[str]]
    nodes: dict[tuple[int, int], bytes]


def _completed_nodes(first: int, last: int, levels: int) -> list[tuple[int, int, int]]:
    """(level, lo, hi): interior nodes whose last leaf lies in ``[first, last]``."""
    ranges = []
    for level in range(1, levels + 1):
        lo = -(-(first + 1) // (1 << level)) - 1
        hi = (last + 1) // (1 << level) - 1
        if lo <= hi:
            ranges.append((level, lo, hi))
    return ranges


def _blob(value: object) -> bytes:
    """A stored hash as bytes; a value of another type (text) becomes bytes that match nothing."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "replace")


# Read before every checkpoint that signs entries another process appended (a moved
# head): built once, with bound bounds.
_LEAF = AuditNode.__table__.alias("leaf")
_ENTRY = AuditEntryRow.__table__
_ENTRIES_WITH_LEAVES = (
    select(_ENTRY.c.index, _ENTRY.c.entry, _ENTRY.c.mac, _LEAF.c.hash)
    .outerjoin(_LEAF, (_LEAF.c.level == 0) & (_LEAF.c.idx == _ENTRY.c.index))
    .where(_ENTRY.c.index >= bindparam("start"), _ENTRY.c.index < bindparam("end"))
    .order_by(_ENTRY.c.index)
)


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def entries(
        self,
        *,
        principals: Sequence[str] | None,
        datasets: Sequence[str] | None,
        principal: str | None,
        dataset: str | None,
        event: str | None,
        decision: str | None,
        since: datetime | None,
        until: datetime | None,
        after: int | None,
        limit: int,
        outcome: str | None = None,
        subject: str | None = None,
    ) -> Sequence[AuditEntryRow]:
        stmt = select(AuditEntryRow).order_by(AuditEntryRow.index).limit(limit)
        if principals is not None:
            stmt = stmt.where(AuditEntryRow.principal.in_(principals))
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        if principal is not None:
            stmt = stmt.where(AuditEntryRow.principal == principal)
        if dataset is not None:
            stmt = stmt.where(AuditEntryRow.dataset == dataset)
        if event is not None:
            stmt = stmt.where(AuditEntryRow.event == event)
        if decision is not None:
            stmt = stmt.where(AuditEntryRow.decision == decision)
        if since is not None:
            stmt = stmt.where(AuditEntryRow.recorded_at >= since)
        if until is not None:
            stmt = stmt.where(AuditEntryRow.recorded_at < until)
        if after is not None:
            stmt = stmt.where(AuditEntryRow.index > after)
        if outcome is not None:
            # No column holds the outcome; the entry is canonical JSON (sorted keys, no
            # spaces, quotes inside strings escaped), so this text occurs only as the
            # top-level field. The caller passes a registered outcome name.
            stmt = stmt.where(
                AuditEntryRow.entry.contains(f'"outcome":"{outcome}"', autoescape=True)
            )
        if subject is not None:
            released = select(AuditSubject.entry_index).where(AuditSubject.subject_ref == subject)
            stmt = stmt.where(AuditEntryRow.index.in_(released))
        return self.session.scalars(stmt).all()

    def verification_pages(self, batch: int = 5000) -> Iterator[VerificationPage]:
        """Entries, their indexed columns, subject rows and tree nodes, page by page."""
        after = -1
        leaf = AuditNode.__table__.alias("leaf")
        e = AuditEntryRow
        while True:
            rows = self.session.execute(
                select(
                    e.index,
                    e.entry,
                    e.leaf_hash,
                    leaf.c.hash,
                    # As stored: SQLite keeps text, and only its exact form is the derived value.
                    type_coerce(e.recorded_at, String),
                    e.principal,
                    e.dataset,
                    e.purpose,
                    e.event,
                    e.decision,
                    e.row_count,
                    e.privacy_cost,
                    e.mac,
                )
                .outerjoin(leaf, (leaf.c.level == 0) & (leaf.c.idx == e.index))
                .where(e.index > after)
                .order_by(e.index)
                .limit(batch)
            ).all()
            if not rows:
                return
            last = int(rows[-1][0])
            subjects: dict[int, list[str]] = {}
            for index, ref in self.session.execute(
                select(AuditSubject.entry_index, AuditSubject.subject_ref).where(
                    AuditSubject.entry_index > after, AuditSubject.entry_index <= last
                )
            ):
                if type(index) is int:  # a non-integer position is no entry's (stray_rows)
                    subjects.setdefault(index, []).append(str(ref))
            ranges = _completed_nodes(int(rows[0][0]), last, last.bit_length())
            nodes: dict[tuple[int, int], bytes] = {}
            if ranges:
                wanted = or_(
                    *[
                        and_(AuditNode.level == lv, AuditNode.idx >= lo, AuditNode.idx <= hi)
                        for lv, lo, hi in ranges
                    ]
                )
                for level, idx, digest in self.session.execute(
                    select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(wanted)
                ):
                    if type(level) is int and type(idx) is int:  # else at no position
                        nodes[(level, idx)] = _blob(digest)
            yield VerificationPage(
                after=after,
                entries=[
                    (
                        int(r[0]),
                        str(r[1]),
                        str(r[2]),
                        None if r[3] is None else _blob(r[3]),
                        (
                            r[4],
                            r[5],
                            r[6],
                            r[7],
                            r[8],
                            r[9],
                            None if r[10] is None else int(r[10]),
                            None if r[11] is None else float(r[11]),
                        ),
                        r[12],
                    )
                    for r in rows
                ],
                subjects=subjects,
                nodes=nodes,
            )
            after = last

    def entries_with_leaves(self, start: int, end: int) -> Result[Any, Any, Any, Any]:
        """Rows (index, entry, MAC, tree leaf or None) of the entries in ``[start, end)``,
        in index order, read as they are iterated."""
        return self.session.execute(_ENTRIES_WITH_LEAVES, {"start": start, "end": end})

    def lock_sequencer(self) -> None:
        """Take the appenders' lock (a no-op update of the sequencer row) until the
        transaction ends."""
        self.session.execute(
            update(AuditSequencer).where(AuditSequencer.id == 1).values(size=AuditSequencer.size)
        )

    def beyond(self, size: int) -> tuple[int, int]:
        """(subject rows, tree nodes) stored for entries at or past ``size`` (none belong)."""
        subjects = self.session.scalar(
            select(func.count()).select_from(AuditSubject).where(AuditSubject.entry_index >= size)
        )
        levels = max(size.bit_length(), 1) + 1
        nodes = self.session.scalar(
            select(func.count())
            .select_from(AuditNode)
            .where(
                or_(
                    AuditNode.level > levels,
                    *[
                        and_(AuditNode.level == lv, AuditNode.idx >= size >> lv)
                        for lv in range(levels + 1)
                    ],
                )
            )
        )
        return int(subjects or 0), int(nodes or 0)

    def stray_rows(self) -> tuple[int, int, int]:
        """(subject rows, tree nodes) at negative or non-integer positions, and sequencer
        rows besides id 1 or whose size is not an integer, with checkpoints whose size is
        not one: rows no entry can account for. SQLite keeps any value in an integer column
        (56.25, '257x', a blob); read as the integer it is near, a moved row would still
        count for an entry, so such rows are counted here instead."""
        sqlite = self.session.get_bind().dialect.name == "sqlite"

        def odd(*columns: Any) -> list[Any]:
            return [func.typeof(c) != "integer" for c in columns] if sqlite else []

        subjects = self.session.scalar(
            select(func.count())
            .select_from(AuditSubject)
            .where(or_(AuditSubject.entry_index < 0, *odd(AuditSubject.entry_index)))
        )
        nodes = self.session.scalar(
            select(func.count())
            .select_from(AuditNode)
            .where(
                or_(AuditNode.level < 0, AuditNode.idx < 0, *odd(AuditNode.level, AuditNode.idx))
            )
        )
        sequencers = self.session.scalar(
            select(func.count())
            .select_from(AuditSequencer)
            .where(or_(AuditSequencer.id != 1, *odd(AuditSequencer.size)))
        )
        checkpoints = (
            self.session.scalar(
                select(func.count())
                .select_from(AuditCheckpoint)
                .where(or_(*odd(AuditCheckpoint.size)))
            )
            if sqlite
            else 0
        )
        return int(subjects or 0), int(nodes or 0), int(sequencers or 0) + int(checkpoints or 0)

    def misspelt_times(self) -> int:
        """Entries whose stored time is not in the one form the writer stores.

        SQLite keeps the time as text: there a value in another form would be compared as
        text by every time filter, or fail to read at all. PostgreSQL's typed column holds
        times no Python datetime holds (infinity, years before 1 or past 9999), which fail
        to read; MariaDB's refuses them.
        """
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            count = self.session.scalar(
                select(func.count())
                .select_from(AuditEntryRow)
                .where(AuditEntryRow.recorded_at.is_not(None), ~readable_time(dialect))
            )
            return int(count or 0)
        if dialect != "sqlite":
            return 0
        digit = "[0-9]"
        form = (
            f"{digit * 4}-{digit * 2}-{digit * 2} {digit * 2}:{digit * 2}:{digit * 2}.{digit * 6}"
        )
        raw = type_coerce(AuditEntryRow.recorded_at, String)
        count = self.session.scalar(
            select(func.count()).select_from(AuditEntryRow).where(raw.op("NOT GLOB")(form))
        )
        return int(count or 0)

    def first_entry_time(self, index: int) -> datetime | None:
        """The entry's stored time; None when there is none or it does not read back."""
        dialect = self.session.get_bind().dialect.name
        return self.session.scalar(
            select(AuditEntryRow.recorded_at).where(
                AuditEntryRow.index == index, readable_time(dialect)
            )
        )

    def missing_nodes(self, size: int) -> int:
        """How many perfect-subtree nodes of a tree of ``size`` leaves are not stored."""
        expected = sum(size >> level for level in range(size.bit_length() or 1))
        stored = self.session.scalar(
            select(func.count())
            .select_from(AuditNode)
            .where(
                or_(
                    *[
                        and_(AuditNode.level == lv, AuditNode.idx < size >> lv)
                        for lv in range(size.bit_length() or 1)
                    ]
                )
            )
        )
        return expected - int(stored or 0)

    def checkpoints(self) -> Sequence[AuditCheckpoint]:
        return self.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)).all()

    def latest_checkpoint(self) -> AuditCheckpoint | None:
        return self.session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
        ).first()

    def sequencer_size(self) -> int:
        size = self.session.scalar(select(AuditSequencer.size).where(AuditSequencer.id == 1))
        return int(size or 0)

    def entries_for_subject(
        self,
        subject_ref: str,
        *,
        datasets: Sequence[str] | None,
        since: datetime | None,
        after: int | None,
        limit: int,
    ) -> Sequence[AuditEntryRow]:
        """A resident's entries, oldest first; every filter applies before the limit."""
        stmt = (
            select(AuditEntryRow)
            .join(AuditSubject, AuditSubject.entry_index == AuditEntryRow.index)
            .where(AuditSubject.subject_ref == subject_ref)
        )
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        if since is not None:
            stmt = stmt.where(AuditEntryRow.recorded_at >= since)
        if after is not None:
            stmt = stmt.where(AuditEntryRow.index > after)
        return self.session.scalars(stmt.order_by(AuditEntryRow.index).limit(limit)).all()

    def summary(
        self, by_dataset: bool, datasets: Sequence[str] | None, principals: Sequence[str] | None
    ) -> list[tuple[str | None, int, int, int, float]]:
        """(dataset or principal, runs, denials, rows released, privacy spent)."""
        key = AuditEntryRow.dataset if by_dataset else AuditEntryRow.principal
        run = (AuditEntryRow.event == "query.run") & (AuditEntryRow.decision == "allowed")
        stmt = (
            select(
                key,
                func.sum(case((run, 1), else_=0)),
                func.sum(case((AuditEntryRow.decision == "denied", 1), else_=0)),
                func.coalesce(func.sum(AuditEntryRow.row_count), 0),
                func.coalesce(func.sum(AuditEntryRow.privacy_cost), 0.0),
            )
            .group_by(key)
            .order_by(key)
        )
        if datasets is not None:
            stmt = stmt.where(AuditEntryRow.dataset.in_(datasets))
        if principals is not None:
            stmt = stmt.where(AuditEntryRow.principal.in_(principals))
        return [
            (k, int(r or 0), int(d or 0), int(n or 0), float(c or 0.0))
            for k, r, d, n, c in self.session.execute(stmt).all()
        ]


def readable_time(dialect: str) -> Any:
    """True for entries whose stored time reads back as a Python datetime.

    Only PostgreSQL's typed column holds others (``infinity``, BC dates, years past 9999:
    the driver refuses the row); everywhere else every stored time is read (SQLite's text
    is checked as text).
    """
    if dialect != "postgresql":
        return true()
    at = AuditEntryRow.recorded_at
    return and_(func.isfinite(at), func.extract("year", at).between(1, 9999))
