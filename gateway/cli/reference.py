"""docs/cli.md, generated from the typer app: every command with its help and options.

    python -m gateway.cli.reference > docs/cli.md

A test fails when the committed page differs from what this module prints, and when an
operation of the HTTP API (in /openapi.json) has no row in ``API_COMMANDS`` or a row names
a command that does not exist.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from typing import Any

import typer.main

from gateway.cli.app import cli

# Every operation of the HTTP API and the command that performs it (None: no command, why).
API_COMMANDS: dict[str, str | None] = {
    "GET /v1/principals/me": "cdg principal me",
    "POST /v1/principals/me/rotate-key": "cdg principal rotate-key",
    "POST /v1/principals/{principal}/reissue-key": "cdg principal reissue-key",
    "POST /v1/principals/{principal}/expire-keys": "cdg principal expire",
    "GET /v1/sources": "cdg source list",
    "POST /v1/sources": "cdg source add",
    "POST /v1/sources/{source_id}/retire": "cdg source retire",
    "GET /v1/purposes": "cdg purpose list",
    "GET /v1/datasets": "cdg dataset list",
    "POST /v1/datasets": "cdg dataset register",
    "GET /v1/datasets/{dataset_id}": "cdg dataset show",
    "GET /v1/datasets/{dataset_id}/scan": "cdg dataset scan",
    "POST /v1/datasets/{dataset_id}/retire": "cdg dataset retire",
    "PUT /v1/datasets/{dataset_id}/policy": "cdg policy replace",
    "POST /v1/datasets/{dataset_id}/policy/preview": "cdg policy replace --preview",
    "POST /v1/query-requests": "cdg request file",
    "GET /v1/query-requests": "cdg request list",
    "GET /v1/query-requests/{query_request}": "cdg request show",
    "POST /v1/query-requests/{query_request}/approve": "cdg request approve",
    "POST /v1/query-requests/{query_request}/reject": "cdg request reject",
    "POST /v1/query-requests/{query_request}/revoke": "cdg request revoke",
    "POST /v1/queries/{query_request}/run": "cdg query run",
    "GET /v1/budgets": "cdg budget list",
    "POST /v1/decisions/explain": "cdg decision explain",
    "POST /v1/tokens/reverse": "cdg token reverse",
    "GET /v1/webhooks": "cdg webhooks list",
    "POST /v1/webhooks": "cdg webhooks add",
    "DELETE /v1/webhooks/{webhook_id}": "cdg webhooks remove",
    "GET /v1/webhooks/{webhook_id}/deliveries": "cdg webhooks deliveries",
    "GET /v1/audit/entries": "cdg audit entries",
    "GET /v1/audit/checkpoint": "cdg audit latest",
    "POST /v1/audit/checkpoint": "cdg audit checkpoint --key KEY",
    "GET /v1/audit/verify": "cdg audit verify --key KEY",
    "GET /v1/audit/proofs/inclusion": "cdg audit proof inclusion",
    "GET /v1/audit/proofs/consistency": "cdg audit proof consistency",
    "GET /v1/audit/summary": "cdg audit summary",
    "GET /v1/audit/export": "cdg audit export --key KEY",
    "POST /v1/subjects/lookup": "cdg subject lookup",
    "GET /v1/subjects/{subject_ref}/accesses": "cdg subject accesses",
    "GET /v1/subjects/links": "cdg subject links",
    "POST /v1/subjects/links": "cdg subject link",
    "POST /v1/subjects/links/{link_id}/revoke": "cdg subject revoke-link",
    "GET /.well-known/cdg-audit-keys": "cdg audit keys",
    "GET /healthz": "cdg status",
    "GET /metrics": None,  # scraped by Prometheus, not read by people
}

_INTRO = """\
# Command line reference (`cdg`)

> Generated from the code by `python -m gateway.cli.reference > docs/cli.md`;
> `tests/gateway/cli/test_reference.py` fails when this page is stale.

**Two kinds of command.** Commands with `--url` and `--key` act on a *running* gateway
through the Python client ([client.md](client.md)), as the principal the API key belongs
to: `--url` defaults to `CDG_URL` (else `http://127.0.0.1:8000`), `--key` to
`CDG_API_KEY`. They may do exactly what that principal may do over HTTP
([permissions.md](permissions.md)). The others (`init`, `serve`, `demo`,
`principal add|list|revoke`, `keys`, `store`, `audit verify|export|checkpoint|repair`
without a key, ...) work on the gateway's home (`CDG_HOME`) as its operator. A few do
either: `dataset register|list|scan`, `subject link`, `audit verify|checkpoint|export`
go through the gateway when given a key (or `--department` is left out), else they use
the home.

**A home is never created by accident.** Only `cdg init` and `cdg demo` create
`CDG_HOME`; every other command that needs one stops with exit code 2, naming the
directory it looked for and how to create one.

**Output.** Tables by default: a value that does not fit is wrapped, never cut; a list
whose columns do not fit the terminal is printed as one block of fields per row.
`--json` prints JSON instead (on every command that prints data). Progress
(registering, scanning, seeding, verifying, exporting) goes to standard error, and only
to a terminal. `cdg --version` prints the version.

**Exit codes.** `0` done; `1` the gateway refused (its error type, reason, detail and
request id are printed; with `--json`, the error as JSON on standard error) or a check
failed (`audit verify`, `policy check`, ...); `2` the command could not start: a missing,
unreadable, non-UTF-8 or invalid YAML/JSON file, `--out` into a folder that does not
exist, no home, no API key, a malformed option value. No command prints a traceback for
any of these.

**Language.** Messages are printed in Chinese when the locale asks for it (`LANGUAGE`,
`LC_ALL`, `LC_MESSAGES` or `LANG` starting with `zh`), else in English. Translations
live in `gateway/i18n/locales/zh_CN/LC_MESSAGES/cli.po` (shared with the console's
catalogues); command help stays English.
"""


# typer builds on a click of its own (typer._click): commands, parameters and contexts are
# read through their attributes, not checked against the click package's classes.
Command = Any


def _commands(
    command: Command, path: list[str], ctx: Any
) -> Iterator[tuple[list[str], Command, Any]]:
    here = command.context_class(command, info_name=path[-1], parent=ctx)
    if hasattr(command, "list_commands"):
        if command.callback is not None and len(path) == 1:
            yield path, command, here
        for name in command.list_commands(here):
            sub = command.get_command(here, name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, [*path, name], here)
    else:
        yield path, command, here


def command_paths() -> set[str]:
    """Every command, as ``cdg group command``."""
    root = typer.main.get_command(cli)
    return {" ".join(path) for path, _cmd, _ctx in _commands(root, ["cdg"], None)}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(param: Any) -> str:
    value = param.default
    if callable(value) or value is None or getattr(param, "show_default", None) is False:
        return ""
    if getattr(param, "is_flag", False) and value is False:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return f"`{value}`"


def _options(command: Command, ctx: Any) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if "--help" in param.opts:
            continue
        if param.param_type_name == "argument":
            name = f"`{(param.metavar or param.name or '').upper()}`"
            kind = "argument" + ("" if param.required else ", optional")
            help_text = getattr(param, "help", None) or ""
        else:
            names = [*param.opts, *param.secondary_opts]
            name = ", ".join(f"`{n}`" for n in names)
            kind = "required" if param.required else ""
            help_text = param.help or ""
        envvar = param.envvar if isinstance(param.envvar, str) else ""
        rows.append(
            f"| {name} | {kind} | {f'`{envvar}`' if envvar else ''} | {_default(param)} "
            f"| {_cell(help_text)} |"
        )
    if not rows:
        return []
    return ["| Option | | Env | Default | Meaning |", "|---|---|---|---|---|", *rows, ""]


def _usage(title: str, command: Command, ctx: Any) -> str:
    pieces = [title]
    params = command.get_params(ctx)
    if any(p.param_type_name == "option" and "--help" not in p.opts for p in params):
        pieces.append("[OPTIONS]")
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    for p in params:
        if p.param_type_name == "argument":
            name = (p.metavar or p.name or "").upper() + ("..." if p.nargs == -1 else "")
            pieces.append(name if p.required else f"[{name}]")
    return " ".join(pieces)


def reference() -> str:
    root = typer.main.get_command(cli)
    lines = [_INTRO, "## Commands", ""]
    index = []
    sections: list[str] = []
    for path, command, ctx in _commands(root, ["cdg"], None):
        title = " ".join(path)
        anchor = title.replace(" ", "-")
        help_text = inspect.cleandoc(command.help or "")
        first = help_text.split("\n\n")[0]
        index.append(f"- [`{title}`](#{anchor}): {_cell(first)}")
        usage = _usage(title, command, ctx)
        sections += [f"### {title}", "", help_text, "", "```", usage, "```", ""]
        sections += _options(command, ctx)
    lines += [*index, "", *sections]
    lines += [
        "## Every API operation and its command",
        "",
        "| Operation | Command |",
        "|---|---|",
    ]
    for operation, command_line in API_COMMANDS.items():
        shown = f"`{command_line}`" if command_line else "none (scraped by Prometheus)"
        lines.append(f"| `{operation}` | {shown} |")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
