"""``cdg audit verify|export|checkpoint|verify-receipt|consistency|witness``.

Everything that checks a file (an export, a receipt, two checkpoints) runs with
``--keys`` alone: no gateway home, no master key, no store.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from sqlalchemy.exc import SQLAlchemyError

from audit import (
    CheckpointError,
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from audit.canonical import DuplicateKey, loads_strict
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
from gateway.auditlog.service import verify_store
from gateway.auditlog.signing import verifier_keys
from gateway.auditlog.tail import UnauthenticatedEntry
from gateway.auditlog.verify import Problem, Report, WitnessPolicy, check_cosignatures
from gateway.auditlog.witnessing import witness_policy
from gateway.cli import audit_api, witness
from gateway.cli.common import (
    USAGE_ERROR,
    busy,
    console,
    emit,
    err_console,
    fail,
    instant,
    open_context,
    output_file,
    read_text,
)
from gateway.cli.receipt_fields import differing_fields, recorded_at_differs, shape_problem
from gateway.cli.remote import DEFAULT_URL, KeyOption, UrlOption, connected
from gateway.cli.text import _
from gateway.context import GatewayContext
from gateway.oversight.listings import EntryFilter, export
from gateway.webhooks.notify import verify_failed

app = typer.Typer(help="The access log: verify, export, checkpoint.", no_args_is_help=True)
app.add_typer(witness.app, name="witness")
audit_api.register(app)

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
    return normalise_saved_note(read_text(path))


def trust_from_file(keys: Path, origin: str | None, required: int | None) -> Trust:
    lines = [line.strip() for line in read_text(keys).splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    witness_keys = [line for line in lines if is_cosigner_key(line)]
    log_keys = [line for line in lines if not is_cosigner_key(line)]
    if not log_keys:
        raise fail(
            _("%(path)s: no log verifier key in it (save them with `cdg audit keys --out`)",
              path=keys),
            USAGE_ERROR,
        )  # fmt: skip
    try:
        names = {parse_verifier_key(k)[0] for k in log_keys}
    except CheckpointError as exc:
        raise fail(f"keys file: {exc}") from None
    if origin is None:
        if len(names) != 1:
            raise fail(_("keys file: give --origin (the log keys name no single log)"))
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
            _(
                "audit log intact: %(entries)s entries, %(checkpoints)s checkpoints; "
                "%(unsigned)s newest entries not yet under a stored checkpoint",
                entries=report.entries,
                checkpoints=report.checkpoints,
                unsigned=unsigned,
            )
            + (
                _(" (the oldest recorded %(age)s s ago)", age=f"{age:.0f}")
                if age is not None
                else ""
            )
        )
    else:
        err_console.print(
            _(
                "audit log NOT intact: first bad index %(index)s: %(kind)s: %(message)s",
                index=first.index,
                kind=first.kind,
                message=first.message,
            ),
            markup=False,
        )
    if first is not None:
        raise typer.Exit(1)


def _remote_report(report: dict[str, Any], as_json: bool) -> None:
    """What the gateway's GET /v1/audit/verify said, printed as a local verify prints it."""
    if as_json:
        emit(report, True)
    elif report["intact"]:
        age = report["oldest_unsigned_age_seconds"]
        console.print(
            _(
                "audit log intact: %(entries)s entries, %(checkpoints)s checkpoints; "
                "%(unsigned)s newest entries not yet under a stored checkpoint",
                entries=report["entries"],
                checkpoints=report["checkpoints"],
                unsigned=report["unsigned_entries"],
            )
            + ("" if age is None else _(" (the oldest recorded %(age)s s ago)", age=f"{age:.0f}"))
        )
    else:
        err_console.print(
            _(
                "audit log NOT intact: first bad index %(index)s: %(kind)s: %(message)s",
                index=report["first_bad_index"],
                kind=report["problem"],
                message=report["message"],
            ),
            markup=False,
        )
    if not report["intact"]:
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
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recompute every leaf and the tree; check checkpoints. Exit 0 only when intact.

    With --export and --keys nothing but the two files is read (offline). With an API key
    (--key or CDG_API_KEY) and neither, the running gateway verifies its store (auditors).
    """
    if key and export is None and since_checkpoint is None and keys is None:
        with connected(url, key, as_json) as gw, busy(_("verifying…"), as_json):
            remote = gw.verify()
        _remote_report(remote.model_dump(mode="json"), as_json)
        return
    since = read_note(since_checkpoint) if since_checkpoint else None
    if export is not None and keys is not None:
        trust = trust_from_file(keys, origin, witnesses_required)
        _report(_verify_export_file(export, trust, since), as_json)
        return
    ctx = open_context()
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
            if not report.intact:
                _notify_auditors(ctx, total, len(report.problems))
    finally:
        ctx.close()
    _report(report, as_json)


def _notify_auditors(ctx: GatewayContext, size: int, problems: int) -> None:
    """Auditors' webhooks hear of a damaged log: counts only, never what was found where."""
    try:
        with ctx.store.writing() as session:
            verify_failed(session, tree_size=size, problems=problems)
    except SQLAlchemyError as exc:  # the report below still tells the operator
        err_console.print(f"auditors were not notified: {type(exc).__name__}")


def _verify_export_file(path: Path, trust: Trust, since: str | None) -> Report:
    try:
        records, lines = read_export_lines(read_text(path))
    except (MalformedExport, UnicodeDecodeError) as exc:
        return _report_problem(Problem(0, "malformed_export", str(exc)))
    return verify_export(
        records, trust.log_keys, trust.origin, witnesses=trust.witnesses, since=since, lines=lines
    )


def _export_bar(as_json: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn(_("exporting")),
        TextColumn("{task.completed}"),
        TextColumn(_("entries")),
        transient=True,
        console=err_console,
        disable=as_json,
    )


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="File to write", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    dataset: Annotated[str | None, typer.Option(help="Only this dataset id")] = None,
    app_name: Annotated[
        str | None, typer.Option("--app", help="Only this principal's entries", show_default=False)
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event, e.g. query.run")] = None,
    decision: Annotated[
        str | None, typer.Option(help="Only allowed, denied or none", show_default=False)
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Entries recorded at or after (RFC 3339 with zone)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Entries recorded before (RFC 3339 with zone)")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Export entries with inclusion proofs to a fresh signed checkpoint, streamed to a file.

    With an API key (--key or CDG_API_KEY) through the running gateway, holding what that
    principal may see; without one, from the local home (every entry). The filters are
    those of GET /v1/audit/export.
    """
    if fmt not in ("jsonl", "csv"):
        raise fail(_("format must be jsonl or csv"), USAGE_ERROR)
    if decision is not None and decision not in ("allowed", "denied", "none"):
        raise fail(_("--decision must be allowed, denied or none"), USAGE_ERROR)
    wanted = EntryFilter(
        dataset, app_name, event, decision, instant("--since", since), instant("--until", until)
    )
    output_file(out)
    if key:
        entries = _export_remote(out, fmt, wanted, url, key, as_json)
    else:
        entries = _export_local(out, fmt, wanted, as_json)
    if as_json:
        emit({"entries": entries, "out": str(out), "format": fmt}, True)
    else:
        console.print(_("exported %(n)s entries to %(out)s", n=entries, out=out))


def _export_local(out: Path, fmt: str, wanted: EntryFilter, as_json: bool) -> int:
    ctx = open_context()
    try:
        written = 0
        records = export(ctx, None, wanted)
        with _export_bar(as_json) as bar:
            task = bar.add_task("export", total=None)

            def counted() -> Iterator[dict[str, Any]]:  # streams: a log can be millions long
                nonlocal written
                for record in records:
                    if record["type"] == "entry":
                        written += 1
                        if written % 500 == 0:
                            bar.update(task, completed=written)
                    yield record

            with out.open("w", encoding="utf-8", newline="") as handle:
                for chunk in as_csv(counted()) if fmt == "csv" else as_jsonl(counted()):
                    handle.write(chunk)
    finally:
        ctx.close()
    return written


def _export_remote(
    out: Path, fmt: str, wanted: EntryFilter, url: str, key: str, as_json: bool
) -> int:
    """Stream GET /v1/audit/export into ``out``; the closing ``end`` record gives the count."""
    last = b""
    lines = 0
    with connected(url, key, as_json) as gw, _export_bar(as_json) as bar:
        task = bar.add_task("export", total=None)
        stream = gw.export(
            format="csv" if fmt == "csv" else "jsonl",
            dataset=wanted.dataset,
            app=wanted.app,
            event=wanted.event,
            decision=wanted.decision,  # type: ignore[arg-type]
            since=wanted.since,
            until=wanted.until,
        )
        with out.open("wb") as handle:
            for chunk in stream:
                handle.write(chunk)
                lines += chunk.count(b"\n")
                bar.update(task, completed=lines)
                last = (last + chunk)[-65536:]
    entries = _entries_of_end(last, fmt)
    if entries is None:
        raise fail(_("the export ended early: %(out)s is incomplete", out=out))
    return entries


def _entries_of_end(tail: bytes, fmt: str) -> int | None:
    """The entry count of an export's closing ``end`` record, None when it has none."""
    text = tail.decode("utf-8", errors="replace").rstrip("\n").rsplit("\n", 1)[-1]
    try:
        if fmt == "csv":
            row = next(csv.reader([text]))
            return int(row[1]) if row and row[0] == "end" else None
        record = json.loads(text)
        return int(record["entries"]) if record.get("type") == "end" else None
    except (ValueError, KeyError, IndexError, StopIteration, AttributeError):
        return None


@app.command("checkpoint")
def checkpoint(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sign and store a checkpoint for the current log size; print its note.

    With an API key (an auditor's) the running gateway signs it; `cdg audit latest` shows
    the newest without signing.
    """
    if key:
        with connected(url, key, as_json) as gw:
            signed = gw.sign_checkpoint()
        if as_json:
            emit({"note": signed.note}, True)
        else:
            typer.echo(signed.note, nl=False)
        return
    ctx = open_context()
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
        raise fail(_("the log is empty"))
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Check a receipt offline: its entry is in the log under a signed checkpoint, and the
    rows beside it (in a run response) are the ones whose digest the entry records, with the
    query, kind, purpose, policy version, counts, truncation, treatments, ε and cached flag
    the entry records."""
    trust = trust_from_file(keys, origin, 0)
    try:
        data = loads_strict(read_text(receipt))
        problem = shape_problem(data)
        bundle = data.get("receipt", data)
        note, text = str(bundle["checkpoint"]), str(bundle["entry"])
        index, size = bundle["entry_index"], bundle["tree_size"]
        if type(index) is not int or type(size) is not int:
            raise TypeError("entry_index and tree_size are integers")
        proof = [base64.b64decode(h, validate=True) for h in bundle["inclusion_proof"]]
        entry = loads_strict(text)
    except DuplicateKey as exc:
        raise fail(f"not a receipt: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise fail(_("not a receipt: expected a run response or its receipt (JSON)")) from None
    if problem is not None:
        raise fail(f"not a run response or its receipt: {problem}")
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
        raise fail(_("the receipt's entry is not proven to be in the log"))
    if recorded_at_differs(bundle, entry):
        raise fail(
            _("the receipt's recorded_at differs from what entry %(index)s records", index=index)
        )
    result: dict[str, Any] = {
        "verified": True, "entry_index": index, "origin": cp.origin, "tree_size": cp.size,
        "rows_checked": False, "result_digest": None,
    }  # fmt: skip
    computed: str | None = None
    if "receipt" in data:  # a whole response (its rows and columns are there: see above)
        # Rows first: a receipt whose rows were changed is refused before anything is
        # said to verify.
        try:
            computed = result_digest(data["columns"], data["rows"])
        except (TypeError, ValueError):
            raise fail(_("the rows hold values that have no canonical form")) from None
        if entry.get("result_digest") != computed:
            raise fail(
                _("the rows do not match the result digest entry %(index)s records", index=index)
            )
        differing = differing_fields(data, entry)
        if differing:
            raise fail(
                _(
                    "the response's %(fields)s differ from what entry %(index)s records",
                    fields=", ".join(differing),
                    index=index,
                )
            )
    if as_json:
        emit({**result, "rows_checked": computed is not None, "result_digest": computed}, True)
        return
    console.print(
        _(
            "receipt verified: entry %(index)s is in %(origin)s at size %(size)s",
            index=index,
            origin=cp.origin,
            size=cp.size,
        ),
        markup=False,
    )
    if computed is None:
        console.print(_("rows not checked: the file holds the receipt only"))
    else:
        console.print(_("rows match the entry's result digest %(digest)s", digest=computed))


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
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
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
        raise fail(_("OLD is larger than NEW: give them in order"))
    if proof is not None:
        ok = _proof_file_agrees(proof, a.size, a.root, b.size, b.root)
    elif export is not None:
        ok = _export_agrees(export, a.size, a.root, b.size, b.root)
    else:
        ok = a.size == b.size and a.root == b.root
    if not ok:
        raise fail(
            _("NOT consistent: size %(new)s does not extend size %(old)s", new=b.size, old=a.size)
        )
    if as_json:
        emit({"consistent": True, "origin": b.origin, "old_size": a.size, "new_size": b.size}, True)
        return
    console.print(
        _(
            "consistent: %(origin)s at size %(new)s extends size %(old)s",
            origin=b.origin,
            new=b.size,
            old=a.size,
        ),
        markup=False,
    )


def _proof_file_agrees(path: Path, old: int, old_root: bytes, new: int, new_root: bytes) -> bool:
    try:
        data: dict[str, Any] = loads_strict(read_text(path))
        hashes = [base64.b64decode(h, validate=True) for h in data["proof"]]
        sizes = (int(data["old_size"]), int(data["new_size"]))
    except (ValueError, KeyError, TypeError):
        raise fail("proof file: expected {old_size, new_size, proof}") from None
    if sizes != (old, new):
        raise fail(f"the proof is for sizes {sizes}, the checkpoints are ({old}, {new})")
    return verify_consistency(old, new, old_root, new_root, hashes)


def _export_agrees(path: Path, old: int, old_root: bytes, new: int, new_root: bytes) -> bool:
    try:
        records = read_export(read_text(path))
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
    ctx = open_context()
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
        console.print(
            _("audit tree repaired: %(n)s nodes restored from the entries", n=done.restored)
        )
    else:
        err_console.print(
            f"not repaired: index {refused.index}: {refused.kind}: {refused.message} "
            "(only missing tree nodes are restored; this is evidence to investigate)"
        )
    if refused is not None:
        raise typer.Exit(1)
