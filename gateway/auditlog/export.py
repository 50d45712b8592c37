"""Exports an auditor can verify offline: JSON Lines or CSV, with proofs.

The first record is a signed checkpoint (made at export time); every entry
carries its RFC 6962 inclusion proof to that checkpoint. Anyone holding the
log's published verifier key can check each exported entry without the store;
a complete export (every index) can also be re-verified end to end.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from audit import CheckpointError, MerkleTree, leaf_hash, open_checkpoint, verify_inclusion
from gateway.auditlog.nodestore import SqlNodeStore
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.verify import LoggedEntry, Problem, Report, verify
from gateway.store.engine import Store

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
    "entry",
]
_PAGE = 2000


def export_records(
    store: Store,
    checkpoint: tuple[int, str],
    filters: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """The checkpoint record, then matching entries (index < checkpoint size) with proofs."""
    size, note = checkpoint
    yield {"type": "checkpoint", "tree_size": size, "note": note}
    after = -1
    while True:
        with store.transaction() as session:
            rows = AuditRepository(session).entries(after=after, limit=_PAGE, **filters)
            tree = MerkleTree(SqlNodeStore(session))
            page = [
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
                    "entry": r.entry,
                }
                for r in rows
                if r.index < size
            ]
        yield from page
        if len(rows) < _PAGE or not page:
            return
        after = rows[-1].index


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
        else:
            row["inclusion_proof"] = " ".join(row["inclusion_proof"])
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def read_export(text: str) -> list[dict[str, Any]]:
    """Records of a JSON Lines or CSV export."""
    if text.startswith("type,"):
        records: list[dict[str, Any]] = []
        for row in csv.DictReader(io.StringIO(text)):
            if row["type"] == "checkpoint":
                records.append(
                    {"type": "checkpoint", "tree_size": int(row["tree_size"]), "note": row["entry"]}
                )
            else:
                records.append(
                    {
                        **row,
                        "index": int(row["index"]),
                        "tree_size": int(row["tree_size"]),
                        "inclusion_proof": row["inclusion_proof"].split(),
                    }
                )
        return records
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def verify_export(
    records: Sequence[dict[str, Any]], verifier_keys: Sequence[str], origin: str
) -> Report:
    """Each entry against the export's signed checkpoint; a complete export end to end."""
    report = Report()
    if not records or records[0].get("type") != "checkpoint":
        report.problems.append(
            Problem(0, "malformed_export", "the export does not start with a checkpoint")
        )
        return report
    try:
        cp = open_checkpoint(records[0]["note"], verifier_keys, origin=origin)
    except CheckpointError as exc:
        report.problems.append(Problem(0, "forged_checkpoint", f"export checkpoint: {exc}"))
        return report
    entries = [r for r in records[1:] if r.get("type") == "entry"]
    for record in entries:
        index = int(record["index"])
        digest = leaf_hash(str(record["entry"]).encode("utf-8"))
        proof = [base64.b64decode(h) for h in record["inclusion_proof"]]
        if digest.hex() != record["leaf_hash"]:
            report.problems.append(
                Problem(
                    index, "changed_entry", f"entry {index}: content does not match its leaf hash"
                )
            )
        elif not verify_inclusion(digest, index, cp.size, proof, cp.root):
            report.problems.append(
                Problem(
                    index, "not_in_log", f"entry {index}: not included in the signed checkpoint"
                )
            )
    report.entries = len(entries)
    report.checkpoints = 1
    report.signed_size = cp.size
    if [int(r["index"]) for r in entries] == list(range(cp.size)):
        full = verify(
            (LoggedEntry(int(r["index"]), str(r["entry"]), str(r["leaf_hash"])) for r in entries),
            [],
            verifier_keys,
            origin,
            since=records[0]["note"],
        )
        report.problems.extend(full.problems)
    return report
