"""``cdg audit verify|export|checkpoint|verify-receipt|consistency|witness``.

Everything that checks a file (an export, a receipt, two checkpoints) runs with
``--keys`` alone: no gateway home, no master key, no store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn

from audit import (
    CheckpointError,
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from audit.checkpoints import normalise_saved_note
from audit.cosignatures import is_cosigner_key
from audit.digest import result_digest
from gateway.auditlog.derived_checks import unsigned_age
from gateway.auditlog.export import (
    MalformedExport,
    as_csv,
    as_jsonl,
    read_export,
    read_export_lines,
    verify_export,
)
from gateway.auditlog.repair import repair_tree
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.service import EntryFilter, export, verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.tail import UnauthenticatedEntry
from gateway.auditlog.verify import Problem, Report, WitnessPolicy, check_cosignatures
from gateway.auditlog.witnessing import witness_policy
from gateway.cli import witness
from gateway.cli.common import console, emit, err_console, fail, settings
from gateway.context import GatewayContext

app = typer.Typer(help="The access log: verify, export, checkpoint.", no_args_is_help=True)
app.add_typer(witness.app, name="witness")

KeysOption = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        exists=True,
        dir_okay=False,
        help="File of published verifier keys: the log's and its witnesses' (one per line)",
    ),
]
OriginOption = Annotated[
    str | None, typer.Option("--origin", help="The log's origin; default: its keys' name")
]
RequiredOption = Annotated[
    int | None,
    typer.Option(
        "--witnesses-required",
        min=0,
        help="Witness cosignatures the newest checkpoint needs; default: every witness key given",
    ),
]


@dataclass(frozen=True)
class Trust:
    """What an offline check trusts: log keys, the log's origin, the witness policy."""

    log_keys: list[str]
    origin: str
    witnesses: WitnessPolicy


def read_note(path: Path) -> str:
    """A saved note, as an editor or a download may have left it (CRLF, trailing lines)."""
    return normalise_saved_note(path.read_text(encoding="utf-8"))


def trust_from_file(keys: Path, origin: str | None, required: int | None) -> Trust:
    lines = [line.strip() for line in keys.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    witness_keys = [line for line in lines if is_cosigner_key(line)]
    log_keys = [line for line in lines if not is_cosigner_key(line)]
    try:
        names = {parse_verifier_key(k)[0] for k in log_keys}
    except CheckpointError as exc:
        raise fail(f"keys file: {exc}") from None
    if origin is None:
        if len(names) != 1:
            raise fail("keys file: give --origin (the log keys name no single log)")
        origin = names.pop()
    wanted = len(witness_keys) if required is None else required
    return Trust(log_keys, origin, WitnessPolicy(witness_keys, wanted))


def trust_from_home(ctx: GatewayContext) -> Trust:
    origin = ctx.settings.log_origin
    return Trust(verifier_keys(ctx.keyring, origin), origin, witness_policy(ctx.settings))


def _report(report: Report, as_json: bool) -> None:
    first = report.first
    # A filtered export holds fewer entries than its checkpoint covers: none is unsigned.
    unsigned = max(report.entries - report.signed_size, 0)
    if as_json:
        emit(
            {
                "intact": report.intact,
                "entries": report.entries,
                "checkpoints": report.checkpoints,
                "signed_size": report.signed_size,
                "witnessed_size": report.witnessed_size,
                "unsigned_entries": unsigned,
                "oldest_unsigned_age_seconds": unsigned_age(report),
                "first_bad_index": first.index if first else None,
                "problem": first.kind if first else None,
                "message": first.message if first else None,
            },
            True,
        )
    elif first is None:
        age = unsigned_age(report)
        console.print(
            f"audit log intact: {report.entries} entries, {report.checkpoints} "
            f"checkpoints; {unsigned} newest entries not yet under a stored checkpoint"
            + (f" (the oldest recorded {age:.0f} s ago)" if age is not None else "")
        )
    else:
        err_console.print(
            f"audit log NOT intact: first bad index {first.index}: {first.kind}: {first.message}"
        )
    if first is not None:
        raise typer.Exit(1)


def _report_problem(problem: Problem) -> Report:
    report = Report()
    report.problems.append(problem)
    return report


@app.command("verify")
def verify(
    export: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Verify an export file instead of the store"
        ),
    ] = None,
    since_checkpoint: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="A checkpoint note saved earlier: must be consistent"
        ),
    ] = None,
    keys: KeysOption = None,
    origin: OriginOption = None,
    witnesses_required: RequiredOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute every leaf and the tree; check checkpoints. Exit 0 only when intact.

    With --export and --keys nothing but the two files is read (offline).
    """
    since = read_note(since_checkpoint) if since_checkpoint else None
    if export is not None and keys is not None:
        trust = trust_from_file(keys, origin, witnesses_required)
        _report(_verify_export_file(export, trust, since), as_json)
        return
    ctx = GatewayContext.open(settings())
    try:
        trust = trust_from_file(keys, origin, witnesses_required) if keys else trust_from_home(ctx)
        if export is not None:
            report = _verify_export_file(export, trust, since)
        else:
            with ctx.store.transaction() as session:
                total = AuditRepository(session).sequencer_size()
                with Progress(
                    TextColumn("verifying"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total}"),
                    transient=True,
                    disable=as_json,
                ) as bar:
                    task = bar.add_task("verify", total=total)
                    report = verify_store(
                        session,
                        ctx,
                        since,
                        lambda n: bar.update(task, completed=n) if n % 1000 == 0 else None,
                        # --keys is what the auditor trusts, online as offline.
                        trust=(trust.log_keys, trust.origin, trust.witnesses) if keys else None,
                    )
    finally:
        ctx.close()
    _report(report, as_json)


def _verify_export_file(path: Path, trust: Trust, since: str | None) -> Report:
    try:
        records, lines = read_export_lines(path.read_text(encoding="utf-8"))
    except (MalformedExport, UnicodeDecodeError) as exc:
        return _report_problem(Problem(0, "malformed_export", str(exc)))
    return verify_export(
        records, trust.log_keys, trust.origin, witnesses=trust.witnesses, since=since, lines=lines
    )


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="File to write")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
) -> None:
    """Export every entry with an inclusion proof to a fresh signed checkpoint."""
    if fmt not in ("jsonl", "csv"):
        raise fail("format must be jsonl or csv")
    ctx = GatewayContext.open(settings())
    try:
        written = 0
        records = export(ctx, None, EntryFilter())

        def counted() -> Iterator[dict[str, Any]]:  # streams: a log can be millions long
            nonlocal written
            for record in records:
                written += record["type"] == "entry"
                yield record

        with out.open("w", encoding="utf-8", newline="") as handle:
            for chunk in as_csv(counted()) if fmt == "csv" else as_jsonl(counted()):
                handle.write(chunk)
    finally:
        ctx.close()
    console.print(f"exported {written} entries to {out}")


@app.command("checkpoint")
def checkpoint(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Sign and store a checkpoint for the current log size; print its note."""
    ctx = GatewayContext.open(settings())
    try:
        with ctx.store.transaction() as session:
            row = ctx.audit.appender.checkpoint_now(session)
            note = row.note if row is not None else None
    except UnauthenticatedEntry as exc:
        raise fail(
            f"not signed: entry {exc.index} carries no valid entry MAC (the gateway did not "
            "write it); run `cdg audit verify`"
        ) from None
    finally:
        ctx.close()
    if note is None:
        raise fail("the log is empty")
    if as_json:
        emit({"note": note}, True)
    else:
        typer.echo(note, nl=False)


@app.command("verify-receipt")
def verify_receipt(
    receipt: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="JSON file: a run response or its receipt"
        ),
    ],
    keys: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="File of published verifier keys"),
    ],
    origin: OriginOption = None,
) -> None:
    """Check a receipt offline: its entry is in the log under a signed checkpoint, and the
    rows beside it (in a run response) are the ones whose digest the entry records."""
    trust = trust_from_file(keys, origin, 0)
    try:
        data = json.loads(receipt.read_text(encoding="utf-8"))
        bundle = data.get("receipt", data)
        note, text = str(bundle["checkpoint"]), str(bundle["entry"])
        index, size = int(bundle["entry_index"]), int(bundle["tree_size"])
        proof = [base64.b64decode(h, validate=True) for h in bundle["inclusion_proof"]]
        entry = json.loads(text)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise fail("not a receipt: expected a run response or its receipt (JSON)") from None
    try:
        cp = open_checkpoint(note, trust.log_keys, origin=trust.origin)
    except CheckpointError as exc:
        raise fail(f"checkpoint does not verify: {exc}") from None
    leaf = leaf_hash(text.encode("utf-8"))
    if (
        leaf.hex() != bundle.get("leaf_hash")
        or cp.size != size
        or not isinstance(entry, dict)
        or entry.get("index") != index
        or not verify_inclusion(leaf, index, cp.size, proof, cp.root)
    ):
        raise fail("the receipt's entry is not proven to be in the log")
    console.print(f"receipt verified: entry {index} is in {cp.origin} at size {cp.size}")
    if "rows" not in data or "columns" not in data:
        console.print("rows not checked: the file holds the receipt only")
        return
    recorded = entry.get("result_digest")
    try:
        computed = result_digest(data["columns"], data["rows"])
    except (TypeError, ValueError):
        raise fail("the rows hold values that have no canonical form") from None
    if recorded != computed:
        raise fail(f"the rows do not match the result digest entry {index} records")
    console.print(f"rows match the entry's result digest {computed}")


@app.command("consistency")
def consistency(
    old: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Older checkpoint")],
    new: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Newer checkpoint")],
    keys: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="File of published verifier keys"),
    ],
    proof: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Consistency proof JSON (GET /v1/audit/proofs/consistency)",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="A complete export covering NEW"),
    ] = None,
    origin: OriginOption = None,
    witnesses_required: RequiredOption = None,
) -> None:
    """Show that NEW extends OLD: the log only grew between the two checkpoints."""
    trust = trust_from_file(keys, origin, witnesses_required)
    notes = (read_note(old), read_note(new))
    try:
        a, b = (open_checkpoint(n, trust.log_keys, origin=trust.origin) for n in notes)
    except CheckpointError as exc:
        raise fail(f"checkpoint does not verify: {exc}") from None
    report = Report()
    check_cosignatures(notes[1], b.size, trust.witnesses, report, newest=True)
    check_cosignatures(notes[0], a.size, WitnessPolicy(trust.witnesses.keys), report, newest=False)
    if report.problems:
        raise fail(report.problems[0].message)
    if a.size > b.size:
        raise fail("OLD is larger than NEW: give them in order")
    if proof is not None:
        ok = _proof_file_agrees(proof, a.size, a.root, b.size, b.root)
    elif export is not None:
        ok = _export_agrees(export, a.size, a.root, b.size, b.root)
    else:
        ok = a.size == b.size and a.root == b.root
    if not ok:
        raise fail(f"NOT consistent: size {b.size} does not extend size {a.size}")
    console.print(f"consistent: {b.origin} at size {b.size} extends size {a.size}")


def _proof_file_agrees(path: Path, old: int, old_root: bytes, new: int, new_root: bytes) -> bool:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        hashes = [base64.b64decode(h, validate=True) for h in data["proof"]]
        sizes = (int(data["old_size"]), int(data["new_size"]))
    except (ValueError, KeyError, TypeError):
        raise fail("proof file: expected {old_size, new_size, proof}") from None
    if sizes != (old, new):
        raise fail(f"the proof is for sizes {sizes}, the checkpoints are ({old}, {new})")
    return verify_consistency(old, new, old_root, new_root, hashes)


def _export_agrees(path: Path, old: int, old_root: bytes, new: int, new_root: bytes) -> bool:
    try:
        records = read_export(path.read_text(encoding="utf-8"))
    except (MalformedExport, UnicodeDecodeError) as exc:
        raise fail(f"export: {exc}") from None
    leaves = [bytes.fromhex(str(r["leaf_hash"])) for r in records if r.get("type") == "entry"]
    indexes = [r["index"] for r in records if r.get("type") == "entry"]
    if indexes[:new] != list(range(new)):
        raise fail("the export does not hold every entry up to NEW's size")
    for leaf, record in zip(leaves, (r for r in records if r.get("type") == "entry"), strict=True):
        if leaf_hash(str(record["entry"]).encode("utf-8")) != leaf:
            raise fail(f"export entry {record['index']}: content does not match its hash")
    return root_from_leaves(leaves[:old]) == old_root and root_from_leaves(leaves[:new]) == new_root


@app.command("repair")
def repair(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Restore missing tree nodes from the entries (only when nothing else is wrong); logged."""
    ctx = GatewayContext.open(settings())
    try:
        done = repair_tree(ctx)
    finally:
        ctx.close()
    refused = done.refused
    if as_json:
        emit(
            {
                "restored_nodes": done.restored,
                "refused": refused is not None,
                "first_bad_index": refused.index if refused else None,
                "problem": refused.kind if refused else None,
            },
            True,
        )
    elif refused is None:
        console.print(f"audit tree repaired: {done.restored} nodes restored from the entries")
    else:
        err_console.print(
            f"not repaired: index {refused.index}: {refused.kind}: {refused.message} "
            "(only missing tree nodes are restored; this is evidence to investigate)"
        )
    if refused is not None:
        raise typer.Exit(1)
