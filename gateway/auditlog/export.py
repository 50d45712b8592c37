"""Exports an auditor can verify offline: JSON Lines or CSV, with proofs.

The first record is a signed checkpoint (made at export time); every entry
carries its RFC 6962 inclusion proof to that checkpoint and a running export
chain; the last record seals the export: a note signed by the log key naming
the log, the checkpoint size, whether the export is complete or filtered, the
number of entries and the final chain value. Anyone holding the log's
published verifier keys can check every exported entry without the store, and
a deleted, added, edited or reordered line fails with its location.

Export chain: ``c0 = SHA-256("cdg-export/v1")``, then for each exported entry
``c = SHA-256(c || index as 8 bytes big-endian || leaf hash)``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from audit import (
    CheckpointError,
    MerkleTree,
    leaf_hash,
    open_checkpoint,
    root_from_leaves,
    verify_inclusion,
)
from audit.canonical import DuplicateKey, loads_strict
from audit.checkpoints import parse_verifier_key, split_note
from gateway.auditlog.derived import indexed_columns
from gateway.auditlog.nodestore import SqlNodeStore
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.time_order import TIME_REVERSED, TimeOrder
from gateway.auditlog.verify import (
    LoggedEntry,
    Problem,
    Report,
    WitnessPolicy,
    check_cosignatures,
    note_problem,
    verify,
)
from gateway.store.engine import Store

SEAL_HEADER = "cdg-export/v1"
CSV_FIELDS = [
    "type",
    "index",
    "recorded_at",
    "event",
    "principal",
    "dataset",
    "decision",
    "leaf_hash",
    "tree_size",
    "inclusion_proof",
    "export_chain",
    "entry",
]
_PAGE = 2000


def chain_start() -> bytes:
    return hashlib.sha256(SEAL_HEADER.encode()).digest()


def chain_next(chain: bytes, index: int, leaf: bytes) -> bytes:
    return hashlib.sha256(chain + struct.pack(">Q", index) + leaf).digest()


def seal_text(origin: str, size: int, complete: bool, count: int, chain: bytes) -> str:
    """The sealed note's text; its first line keeps it from ever parsing as a checkpoint."""
    scope = "complete" if complete else "filtered"
    digest = base64.b64encode(chain).decode("ascii")
    return f"{SEAL_HEADER}\n{origin}\n{size}\n{scope}\n{count}\n{digest}\n"


def export_records(
    store: Store,
    checkpoint: tuple[int, str],
    filters: dict[str, Any],
    seal: Callable[[str], str] | None = None,
    origin: str = "",
) -> Iterator[dict[str, Any]]:
    """The checkpoint record, matching entries (index < checkpoint size) with proofs, the seal."""
    size, note = checkpoint
    yield {"type": "checkpoint", "tree_size": size, "note": note}
    after = -1
    chain, count = chain_start(), 0
    while True:
        with store.transaction() as session:
            rows = AuditRepository(session).entries(after=after, limit=_PAGE, **filters)
            tree = MerkleTree(SqlNodeStore(session))
            page = []
            for r in rows:
                if r.index >= size:
                    continue
                chain = chain_next(chain, r.index, bytes.fromhex(r.leaf_hash))
                count += 1
                page.append(
                    {
                        "type": "entry",
                        "index": r.index,
                        "recorded_at": r.recorded_at.isoformat(),
                        "event": r.event,
                        "principal": r.principal,
                        "dataset": r.dataset,
                        "decision": r.decision,
                        "leaf_hash": r.leaf_hash,
                        "tree_size": size,
                        "inclusion_proof": [
                            base64.b64encode(h).decode("ascii")
                            for h in tree.inclusion_proof(r.index, size)
                        ],
                        "export_chain": chain.hex(),
                        "entry": r.entry,
                    }
                )
        yield from page
        if len(rows) < _PAGE or not page:
            break
        after = rows[-1].index
    if seal is not None:
        complete = all(value is None for value in filters.values())
        text = seal_text(origin, size, complete, count, chain)
        yield {"type": "end", "entries": count, "note": seal(text)}


def as_jsonl(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def as_csv(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = dict(record)
        if row["type"] == "checkpoint":
            row["entry"] = row.pop("note")
        elif row["type"] == "end":
            row["index"] = row.pop("entries")
            row["entry"] = row.pop("note")
        else:
            row["inclusion_proof"] = " ".join(row["inclusion_proof"])
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


class MalformedExport(ValueError):
    """The file is not an export this verifier can read (says which line)."""


def read_export(text: str) -> list[dict[str, Any]]:
    """Records of a JSON Lines or CSV export; a line that cannot be read raises, naming it."""
    return read_export_lines(text)[0]


def read_export_lines(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """``read_export`` plus the line each record starts on (to name it in a problem)."""
    lines: list[int] = []
    if text.startswith("type,"):
        records: list[dict[str, Any]] = []
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames != CSV_FIELDS:  # a column twice would be read as its last
            raise MalformedExport("line 1 is not the header of an export")
        start = 2
        for row in reader:
            number, start = start, reader.line_num + 1
            lines.append(number)
            try:
                if row["type"] == "checkpoint":
                    records.append(
                        {
                            "type": "checkpoint",
                            "tree_size": int(row["tree_size"]),
                            "note": row["entry"],
                            **_stray_cells(row, "type", "tree_size", "entry"),
                        }
                    )
                elif row["type"] == "end":
                    records.append(
                        {
                            "type": "end",
                            "entries": int(row["index"]),
                            "note": row["entry"],
                            **_stray_cells(row, "type", "index", "entry"),
                        }
                    )
                else:
                    records.append(
                        {
                            **row,
                            "index": int(row["index"]),
                            "tree_size": int(row["tree_size"]),
                            "inclusion_proof": row["inclusion_proof"].split(),
                            # CSV writes no dataset as an empty cell.
                            "dataset": row["dataset"] or None,
                        }
                    )
            except (KeyError, TypeError, ValueError, AttributeError):
                raise MalformedExport(f"line {number} is not a valid export record") from None
        return records, lines
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = loads_strict(line)
        except DuplicateKey as exc:
            raise MalformedExport(f"line {number}: {exc}") from None
        except ValueError:
            raise MalformedExport(f"line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise MalformedExport(f"line {number} is not an export record")
        out.append(record)
        lines.append(number)
    return out, lines


def _stray_cells(row: dict[Any, Any], *used: str) -> dict[str, Any]:
    """Cells of a checkpoint or seal row that the row does not use, when not empty: the
    check refuses them as fields of the record (free text beside a signed note)."""
    return {
        str(name): value
        for name, value in row.items()
        if name not in used and value not in ("", None, [])
    }


# The fields of a checkpoint and a seal record: each stands for its signed note.
_CHECKPOINT_FIELDS = {"type", "tree_size", "note"}
_SEAL_FIELDS = {"type", "entries", "note"}


def _record_problems(
    record: dict[str, Any],
    fields: set[str],
    count: str,
    want: int,
    at: int,
    what: str,
    line: int | None,
) -> list[Problem]:
    """A checkpoint or seal record's fields beside its note must say what the note signs."""
    where = f"line {line}: the {what}" if line is not None else f"the {what}"
    wrong = sorted(str(name) for name in record if name not in fields)
    have = record.get(count)
    if not isinstance(have, int) or isinstance(have, bool) or have != want:
        wrong.insert(0, count)
    if not wrong:
        return []
    return [
        Problem(at, "malformed_export", f"{where}: field {', '.join(wrong)} is not what it signs")
    ]


# The fields of an entry record beside the entry that copy something of it.
_COPIED = ("recorded_at", "event", "principal", "dataset", "decision")


def _outer_problems(
    record: dict[str, Any], line: int | None, cp_size: int, order: TimeOrder
) -> list[Problem]:
    """An entry record's fields beside the signed entry must say what the entry says:
    an auditor reading the CSV in a spreadsheet reads these columns, not the entry."""
    index = record["index"]
    where = f"line {line}: entry {index}" if line is not None else f"entry {index}"
    try:
        entry = loads_strict(str(record["entry"]))
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return [Problem(index, "malformed_export", f"{where}: the entry is not a JSON object")]
    derived = indexed_columns(entry)
    when = derived["recorded_at"]
    want = {**derived, "recorded_at": when.isoformat() if when is not None else None}
    wrong = [name for name in _COPIED if record.get(name) != want[name]]
    if record.get("tree_size") != cp_size:
        wrong.append("tree_size")
    wrong += sorted(str(name) for name in record if name not in CSV_FIELDS)
    problems = []
    if wrong:
        problems.append(
            Problem(
                index,
                "changed_column",
                f"{where}: field {', '.join(wrong)} differs from the signed entry",
            )
        )
    reversed_time = order.step(index, when)
    if reversed_time is not None:
        problems.append(Problem(index, TIME_REVERSED, f"{where}: {reversed_time}"))
    return problems


@dataclass(frozen=True)
class Seal:
    origin: str
    size: int
    complete: bool
    count: int
    chain: bytes


def open_seal(note: str, verifier_keys: Sequence[str]) -> Seal:
    """Verify the export seal's log signature and parse it."""
    text, signatures = split_note(note)
    trusted = {}
    for vkey in verifier_keys:
        name, key_id, key = parse_verifier_key(vkey)
        trusted[(name, key_id)] = key
    verified = False
    for name, key_id, signature in signatures:
        public_key = trusted.get((name, key_id))
        if public_key is None:
            continue
        try:
            public_key.verify(signature, text.encode())
        except Exception:  # InvalidSignature: the seal was altered
            raise CheckpointError("the export seal's signature does not verify") from None
        verified = True
    lines = text[:-1].split("\n")
    if not verified or len(lines) != 6 or lines[0] != SEAL_HEADER:
        raise CheckpointError("the export seal is not signed by a trusted log key")
    _, origin, size, scope, count, chain = lines
    try:
        return Seal(origin, int(size), scope == "complete", int(count), base64.b64decode(chain))
    except ValueError:
        raise CheckpointError("the export seal is malformed") from None


def _entry_problem(record: dict[str, Any], cp_size: int, cp_root: bytes) -> Problem | None:
    index = record["index"]
    try:
        digest = leaf_hash(str(record["entry"]).encode("utf-8"))
        proof = [base64.b64decode(h, validate=True) for h in record["inclusion_proof"]]
    except (KeyError, TypeError, ValueError):
        return Problem(index, "malformed_export", f"entry {index}: record is incomplete")
    if digest.hex() != record.get("leaf_hash"):
        return Problem(index, "changed_entry", f"entry {index}: content does not match its hash")
    if not verify_inclusion(digest, index, cp_size, proof, cp_root):
        return Problem(index, "not_in_log", f"entry {index}: not in the signed checkpoint")
    return None


def verify_export(
    records: Sequence[dict[str, Any]],
    verifier_keys: Sequence[str],
    origin: str,
    *,
    witnesses: WitnessPolicy | None = None,
    since: str | None = None,
    lines: Sequence[int] | None = None,
) -> Report:
    """Each entry against the export's signed checkpoint, the seal, and a complete export
    end to end; a checkpoint saved earlier (``since``) must be consistent with it.
    ``lines`` (the line each record starts on) lets problems name the line."""
    report = Report()
    line_of = {id(r): n for r, n in zip(records, lines or (), strict=False)}
    order = TimeOrder()
    policy = witnesses or WitnessPolicy()
    if not records or records[0].get("type") != "checkpoint":
        report.problems.append(
            Problem(0, "malformed_export", "the export does not start with a checkpoint")
        )
        return report
    try:
        cp = open_checkpoint(str(records[0].get("note")), verifier_keys, origin=origin)
    except CheckpointError as exc:
        report.problems.append(Problem(0, note_problem(exc), f"export checkpoint: {exc}"))
        return report
    report.checkpoints = 1
    report.signed_size = cp.size
    report.problems += _record_problems(
        records[0],
        _CHECKPOINT_FIELDS,
        "tree_size",
        cp.size,
        0,
        "checkpoint",
        line_of.get(id(records[0])),
    )
    for record in records[1:-1]:
        if record.get("type") != "entry":
            report.problems.append(
                Problem(
                    0,
                    "malformed_export",
                    f"line {line_of.get(id(record), '?')}: a record of type "
                    f"{str(record.get('type'))[:40]!r} between the entries",
                )
            )
    check_cosignatures(str(records[0]["note"]), cp.size, policy, report, newest=True)
    entries = [r for r in records[1:] if r.get("type") == "entry"]
    chain, last = chain_start(), -1
    for record in entries:
        index = record.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            report.problems.append(Problem(last + 1, "malformed_export", "an entry has no index"))
            return report
        if index <= last:
            report.problems.append(
                Problem(index, "reordered_entries", f"entry {index}: it comes after entry {last}")
            )
        problem = _entry_problem(record, cp.size, cp.root)
        if problem is not None:
            report.problems.append(problem)
        else:
            report.problems += _outer_problems(record, line_of.get(id(record)), cp.size, order)
        leaf = bytes.fromhex(str(record.get("leaf_hash"))) if problem is None else b""
        chain = chain_next(chain, index, leaf)
        if record.get("export_chain") != chain.hex() and index > last:
            report.problems.append(
                Problem(
                    index,
                    "missing_entry",
                    f"entry {index}: the export chain breaks here: a line before it was "
                    "removed or added",
                )
            )
            chain = bytes.fromhex(str(record.get("export_chain", ""))) or chain
        last = max(last, index)
    report.entries = len(entries)
    seal = _check_seal(records, entries, verifier_keys, origin, cp.size, chain, report)
    if seal is not None:
        end = len(entries) and entries[-1].get("index", 0) + 1
        report.problems += _record_problems(
            records[-1],
            _SEAL_FIELDS,
            "entries",
            seal.count,
            end,
            "seal",
            line_of.get(id(records[-1])),
        )
    complete = seal is not None and seal.complete
    if complete:
        present = {r["index"] for r in entries}
        gap = next((i for i in range(cp.size) if i not in present), None)
        if gap is not None:
            report.problems.append(
                Problem(gap, "missing_entry", f"entry {gap} is missing from a complete export")
            )
    if since is not None:
        _check_since(since, entries, verifier_keys, origin, cp.size, cp.root, complete, report)
    if complete and not report.problems:
        full = verify(
            (LoggedEntry(int(r["index"]), str(r["entry"]), str(r["leaf_hash"])) for r in entries),
            [],
            verifier_keys,
            origin,
            since=str(records[0]["note"]),
        )
        report.problems.extend(full.problems)
    return report


def _check_seal(
    records: Sequence[dict[str, Any]],
    entries: Sequence[dict[str, Any]],
    verifier_keys: Sequence[str],
    origin: str,
    size: int,
    chain: bytes,
    report: Report,
) -> Seal | None:
    end = len(entries) and entries[-1].get("index", 0) + 1
    last = records[-1]
    if last.get("type") != "end":
        report.problems.append(
            Problem(end, "truncated_export", "the export has no seal: lines were cut off its end")
        )
        return None
    try:
        seal = open_seal(str(last.get("note")), verifier_keys)
    except CheckpointError as exc:
        report.problems.append(Problem(end, "forged_seal", str(exc)))
        return None
    if seal.origin != origin or seal.size != size:
        report.problems.append(
            Problem(end, "forged_seal", "the seal belongs to another log or checkpoint")
        )
    elif seal.count != len(entries) or seal.chain != chain:
        report.problems.append(
            Problem(
                end,
                "missing_entry",
                f"the export holds {len(entries)} entries, the gateway sealed {seal.count} "
                "with another chain: lines were removed, added or reordered",
            )
        )
    return seal


def _check_since(
    since: str,
    entries: Sequence[dict[str, Any]],
    verifier_keys: Sequence[str],
    origin: str,
    size: int,
    root: bytes,
    complete: bool,
    report: Report,
) -> None:
    try:
        saved = open_checkpoint(since, verifier_keys, origin=origin)
    except CheckpointError as exc:
        report.problems.append(Problem(0, note_problem(exc), f"saved checkpoint: {exc}"))
        return
    if saved.size > size:
        report.problems.append(
            Problem(
                size,
                "truncated_tail",
                f"your saved checkpoint covers {saved.size} entries, this export only {size}",
            )
        )
    elif saved.size == size and saved.root != root:
        report.problems.append(
            Problem(size, "checkpoint_mismatch", "saved checkpoint and export disagree: a fork")
        )
    elif not complete:
        report.problems.append(
            Problem(
                saved.size,
                "unverifiable",
                "a filtered export cannot show consistency with a saved checkpoint; "
                "use `cdg audit consistency` with a proof",
            )
        )
    else:
        leaves = [bytes.fromhex(str(r["leaf_hash"])) for r in entries[: saved.size]]
        if root_from_leaves(leaves) != saved.root:
            report.problems.append(
                Problem(
                    saved.size - 1,
                    "checkpoint_mismatch",
                    f"entries 0..{saved.size - 1} do not hash to your saved checkpoint",
                )
            )
