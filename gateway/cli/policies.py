"""``cdg policy check FILE...``, ``cdg policy test DIR``, ``cdg policy replace FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from gateway import yaml_documents
from gateway.cli.common import (
    USAGE_ERROR,
    busy,
    console,
    emit,
    fail,
    read_document,
    read_text,
    settings,
)
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected
from gateway.cli.text import _
from gateway.decisions.documents import check_document
from gateway.decisions.policy_tests import run_directory
from policies import load_hierarchy

app = typer.Typer(help="Usage-policy documents: check them, test them.", no_args_is_help=True)


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON")] = False,
) -> None:
    """Validate policy or dataset documents; exit 1 when any has a problem.

    Reports schema errors with line and field, purposes missing from the purpose hierarchy,
    columns both released and withheld, columns the dataset lacks, identifiers or sensitive
    columns released raw, and invalid treatment parameters.
    """
    hierarchy = load_hierarchy(settings().purposes_file)
    bad = 0
    report = []
    for path in files:
        text = read_text(path)  # unreadable or not UTF-8: exit 2 before any check
        try:
            yaml_documents.check_nesting(text)
        except yaml_documents.TooDeep as exc:  # cannot be checked at all, like an unreadable file
            raise fail(
                _("%(where)s: invalid YAML/JSON: %(problem)s", where=path, problem=exc.problem),
                USAGE_ERROR,
            ) from None
        except yaml.YAMLError:
            pass  # a syntax error: check_document reports it with its line
        problems = check_document(path, hierarchy)
        report.append(
            {
                "file": str(path),
                "ok": not problems,
                "problems": [
                    {"line": p.line, "where": p.where, "message": p.message} for p in problems
                ],
            }
        )
        if as_json:
            bad += bool(problems)
            continue
        for p in problems:
            typer.echo(f"{path}:{p.line}: {p.where}: {p.message}", err=True)
        if problems:
            bad += 1
        else:
            console.print(f"{path}: ok")
    if as_json:
        emit(report, True)
    if bad:
        raise typer.Exit(1)


@app.command("test")
def test(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcomes as JSON")] = False,
) -> None:
    """Run the YAML policy tests in DIR (like `opa test`); exit 1 when any fails."""
    outcomes = run_directory(directory, load_hierarchy(settings().purposes_file))
    if as_json:
        emit(
            [
                {"file": o.file.name, "case": o.case, "passed": o.passed, "detail": o.detail}
                for o in outcomes
            ],
            True,
        )
        if any(not o.passed for o in outcomes) or not outcomes:
            raise typer.Exit(1)
        return
    for o in outcomes:
        mark = "[green]PASS[/green]" if o.passed else "[red]FAIL[/red]"
        line = f"{mark} {o.file.name}: {o.case}" + ("" if o.passed else f": {o.detail}")
        console.print(line, soft_wrap=True)
    failed = sum(not o.passed for o in outcomes)
    console.print(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed or not outcomes:
        raise typer.Exit(1)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of usage-policy documents (also docs/usage-policy.schema.json)."""
    import json

    from policies import UsagePolicy

    typer.echo(json.dumps(UsagePolicy.model_json_schema(), ensure_ascii=False, indent=2))


@app.command("replace")
def replace(
    file: Annotated[
        Path,
        typer.Argument(
            help="The new usage policy (YAML/JSON), or a dataset document holding one",
            show_default=False,
        ),
    ],
    dataset: Annotated[str, typer.Option(help="Dataset id or name")],
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Only show what the replacement would do (the diff, the approved queries it "
            "breaks and revokes); change nothing",
        ),
    ] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace a dataset's usage policy through the running gateway (its department).

    Approved queries the new policy refuses are revoked, with the reason the app sees;
    run with --preview first to see which.
    """
    from gateway.cli.query_requests import dataset_id

    document = read_document(file)
    if isinstance(document, dict) and "policy" in document and "purposes" not in document:
        document = document["policy"]  # a dataset document: its policy
    if not isinstance(document, dict):
        raise fail(_("%(path)s: expected a policy document (a mapping)", path=file), USAGE_ERROR)
    if preview:
        with connected(url, key, as_json) as gw:
            impact = gw.preview_policy(dataset_id(gw, dataset), document)
        _show_preview(impact.model_dump(mode="json"), as_json)
        return
    with connected(url, key, as_json) as gw, busy(_("replacing the policy…"), as_json):
        out = gw.replace_policy(dataset_id(gw, dataset), document)
    data = out.model_dump(mode="json", exclude={"policy"})
    if as_json:
        emit(data, True)
        return
    console.print(
        _(
            "%(name)s: policy version %(version)s",
            name=data["name"],
            version=str(data["policy_version"])[:12],
        )
    )


def _show_preview(impact: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(impact, True)
        return
    diff = impact["diff"]
    if not diff["changed"]:
        console.print(_("the new policy is the same document: nothing would change"))
        return
    changes = [
        {"purpose": p["purpose"], "field": c["field"], "old": c["old"], "new": c["new"]}
        for p in diff["purposes_changed"]
        for c in p["changes"]
    ]
    changes += [{"purpose": p, "field": _("(added)")} for p in diff["purposes_added"]]
    changes += [{"purpose": p, "field": _("(removed)")} for p in diff["purposes_removed"]]
    if diff.get("retention"):
        r = diff["retention"]
        changes.append({"purpose": "", "field": "retention", "old": r["old"], "new": r["new"]})
    console.print(_("Policy changes"))
    emit(changes, False, ["purpose", "field", "old", "new"])
    console.print(
        _(
            "Approved queries: %(breaks)s would be revoked, %(changes)s run under changed "
            "terms, %(unchanged)s unchanged",
            breaks=len(impact["breaks"]),
            changes=len(impact["changes"]),
            unchanged=impact["unchanged"],
        )
    )
    if impact["breaks"]:
        emit(impact["breaks"], False, ["id", "app", "purpose", "reason_code", "reason"])
