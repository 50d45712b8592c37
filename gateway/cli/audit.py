"""``cdg audit verify|export|checkpoint|verify-receipt``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn

from audit import CheckpointError, leaf_hash, open_checkpoint, verify_inclusion
from gateway.auditlog.export import as_csv, as_jsonl, read_export, verify_export
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.service import EntryFilter, export, verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.verify import Report
from gateway.cli.common import console, emit, err_console, fail, settings
from gateway.context import GatewayContext

app = typer.Typer(help="The access log: verify, export, checkpoint.", no_args_is_help=True)


def _keys(ctx: GatewayContext, key_file: Path | None) -> list[str]:
    if key_file is not None:
        return [line.strip() for line in key_file.read_text().splitlines() if line.strip()]
    return verifier_keys(ctx.keyring, ctx.settings.log_origin)


def _report(report: Report, as_json: bool) -> None:
    first = report.first
    if as_json:
        emit(
            {
                "intact": report.intact,
                "entries": report.entries,
                "checkpoints": report.checkpoints,
                "signed_size": report.signed_size,
                "first_bad_index": first.index if first else None,
                "problem": first.kind if first else None,
                "message": first.message if first else None,
            },
            True,
        )
    elif first is None:
        unsigned = report.entries - report.signed_size
        console.print(
            f"audit log intact: {report.entries} entries, {report.checkpoints} "
            f"checkpoints; {unsigned} newest entries not yet under a stored checkpoint"
        )
    else:
        err_console.print(
            f"audit log NOT intact: first bad index {first.index}: {first.kind}: {first.message}"
        )
    if first is not None:
        raise typer.Exit(1)


@app.command("verify")
def verify(
    export: Annotated[
        Path | None, typer.Option(help="Verify an export file instead of the store")
    ] = None,
    since_checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint note saved earlier: must be consistent")
    ] = None,
    keys: Annotated[Path | None, typer.Option(help="File of trusted verifier keys")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute every leaf and the tree; check checkpoints. Exit 0 only when intact."""
    ctx = GatewayContext.open(settings())
    try:
        trusted = _keys(ctx, keys)
        origin = ctx.settings.log_origin
        if export is not None:
            report = verify_export(read_export(export.read_text(encoding="utf-8")), trusted, origin)
        else:
            since = since_checkpoint.read_text(encoding="utf-8") if since_checkpoint else None
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
                    )
    finally:
        ctx.close()
    _report(report, as_json)


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
    receipt: Annotated[Path, typer.Argument(help="JSON file: a run response or its receipt")],
    keys: Annotated[Path, typer.Option(help="File of trusted verifier keys (.well-known)")],
) -> None:
    """Check a receipt offline: its entry is in the log under a signed checkpoint."""
    data = json.loads(receipt.read_text(encoding="utf-8"))
    bundle = data.get("receipt", data)
    trusted = [line.strip() for line in keys.read_text().splitlines() if line.strip()]
    try:
        cp = open_checkpoint(bundle["checkpoint"], trusted)
    except (CheckpointError, KeyError) as exc:
        raise fail(f"checkpoint does not verify: {exc}") from None
    leaf = leaf_hash(bundle["entry"].encode("utf-8"))
    proof = [base64.b64decode(h) for h in bundle["inclusion_proof"]]
    if (
        leaf.hex() != bundle["leaf_hash"]
        or cp.size != bundle["tree_size"]
        or not verify_inclusion(leaf, bundle["entry_index"], cp.size, proof, cp.root)
    ):
        raise fail("the receipt's entry is not proven to be in the log")
    console.print(
        f"receipt verified: entry {bundle['entry_index']} is in {cp.origin} at size {cp.size}"
    )
