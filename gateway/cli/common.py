"""Helpers shared by CLI commands: settings and the home, files, output, errors.

Exit codes: 0 done; 1 the gateway (or a check) said no; 2 the command could not start
(a missing, unreadable or invalid file, an output folder that does not exist, no home,
no API key). No command prints a traceback for any of those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import BaseModel, ValidationError
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gateway import yaml_documents
from gateway.catalog.rules import rebuild_rules
from gateway.cli.text import _
from gateway.context import GatewayContext
from gateway.home import private_dir, private_file
from gateway.keys import ensure_keys
from gateway.settings import Settings, load_settings
from gateway.store.engine import Store
from gateway.store.migrate import upgrade

# soft_wrap off and tables folding long words: output wraps, it is never cut.
console = Console()
err_console = Console(stderr=True)

USAGE_ERROR = 2

_CONFIG_TEMPLATE = """\
# Community Data Gateway settings (KEY=value); CDG_* environment variables win.
# See docs/settings.md for every setting.
# CDG_DATABASE_URL=postgresql+psycopg://gateway@db/gateway
# CDG_PORT=8000
# CDG_STATEMENT_TIMEOUT_SECONDS=10
# CDG_MAX_ROWS=10000
"""


def settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise fail(_("invalid settings: %(problems)s", problems=problems), USAGE_ERROR) from None
    except OSError as exc:
        raise fail(_("cannot read the settings: %(why)s", why=_why(exc)), USAGE_ERROR) from None


def initialise(s: Settings) -> dict[str, Any]:
    """Create home, config, the first master key and the store schema; idempotent."""
    private_dir(s.home)
    config = s.home / "config"
    if not config.exists():
        private_file(config)  # it may come to hold a store URL with its password
        config.write_text(_CONFIG_TEMPLATE, encoding="utf-8")
    created = [str(p) for p in ensure_keys(s)]
    upgrade(s.store_url)
    store = Store.from_url(s.store_url, 1)
    try:
        with store.transaction() as session:
            rebuild_rules(session)  # rules derive from the store; a new version may add some
    finally:
        store.dispose()
    return {"home": str(s.home.resolve()), "store": _safe_url(s.store_url), "new_keys": created}


def existing_home(s: Settings | None = None) -> Settings:
    """The settings, once the home they name is known to exist; else exit 2 saying so.

    Only ``cdg init`` and ``cdg demo`` create a home: a mistyped CDG_HOME must not
    silently become a new empty gateway with new keys. A home is a directory holding a
    config file, a keys folder or the SQLite store, or any directory when the master key
    comes from the environment (a container whose keys are secrets).
    """
    s = s or settings()
    home = s.home
    where = str(home.resolve()) if home.is_absolute() or home.exists() else str(home.absolute())
    try:
        present = home.is_dir() and (
            bool(s.master_key)
            or any((home / name).exists() for name in ("config", "keys", "gateway.db"))
        )
        if present:
            os.listdir(home)  # an unreadable home fails here, not deep inside a command
    except OSError as exc:
        raise fail(
            _("cannot read the gateway home %(home)s: %(why)s", home=where, why=_why(exc)),
            USAGE_ERROR,
        ) from None
    if not present:
        raise fail(
            _(
                "no gateway home at %(home)s (from %(source)s). Create one with `cdg init` "
                "(or `cdg demo`), or set CDG_HOME to an existing home. To act on a running "
                "gateway instead, give --key (or set CDG_API_KEY); an offline check of an "
                "export or receipt needs --keys.",
                home=where,
                source="CDG_HOME" if os.environ.get("CDG_HOME") else _("the default, .cdg"),
            ),
            USAGE_ERROR,
        )
    return s


def prepared() -> Settings:
    """An existing home, brought up to date (migrations, rules) as every command expects."""
    s = existing_home()
    initialise(s)
    return s


def open_context() -> GatewayContext:
    """The gateway's context on an existing home."""
    return GatewayContext.open(existing_home())


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def export_settings_to_env(s: Settings) -> None:
    """Worker processes rebuild settings from the environment."""
    os.environ["CDG_HOME"] = str(s.home.resolve())
    if s.database_url:
        os.environ["CDG_DATABASE_URL"] = s.database_url


# -- files -------------------------------------------------------------------------------


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_text(path: Path) -> str:
    """A UTF-8 text file, or exit 2 saying what is wrong with it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(_("%(path)s: no such file", path=path), USAGE_ERROR) from None
    except IsADirectoryError:
        raise fail(_("%(path)s: is a folder, not a file", path=path), USAGE_ERROR) from None
    except UnicodeDecodeError:
        raise fail(_("%(path)s: not UTF-8 text", path=path), USAGE_ERROR) from None
    except OSError as exc:
        raise fail(
            _("%(path)s: cannot read: %(why)s", path=path, why=_why(exc)), USAGE_ERROR
        ) from None


def read_document(path: Path) -> Any:
    """A YAML or JSON document (JSON is YAML), or exit 2 naming the file and the line."""
    text = read_text(path)
    try:
        return yaml_documents.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or _("not valid YAML or JSON")
        raise fail(
            _("%(where)s: invalid YAML/JSON: %(problem)s", where=where, problem=problem),
            USAGE_ERROR,
        ) from None


def validation_problems(path: Path, exc: ValidationError) -> typer.Exit:
    """Exit 2 listing where a document does not match its schema (never its values)."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
        for e in exc.errors()[:10]
    )
    return fail(f"{path}: {problems}", USAGE_ERROR)


def output_file(path: Path) -> Path:
    """A file the command may create: its folder must exist, and it must not be a folder."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise fail(_("%(path)s: the folder %(folder)s does not exist", path=path,
                     folder=folder), USAGE_ERROR)  # fmt: skip
    if path.is_dir():
        raise fail(_("%(path)s: is a folder, not a file", path=path), USAGE_ERROR)
    return path


def instant(option: str, value: str | None) -> datetime | None:
    """An RFC 3339 time with its zone from an option, or exit 2 naming the option."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise fail(
            _("%(option)s: give a time with its zone, e.g. 2026-12-01T00:00:00+08:00",
              option=option),
            USAGE_ERROR,
        )  # fmt: skip
    return when


# -- output ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """JSON-ready data from models, lists and mappings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def print_json(data: Any) -> None:
    text = json.dumps(plain(data), ensure_ascii=False, indent=2, default=str)
    # JSON escapes only U+0000-U+001F; C1 controls, separators and bidi overrides (all
    # inside strings here) are written as \\u escapes too, which read back the same.
    typer.echo(text.translate(_JSON_INVISIBLE))


# Control characters (C0 but tab and newline, DEL, C1), line and paragraph separators and
# bidirectional overrides, shown
# as escapes: a value comes from a department's database, and written raw it could move
# the cursor, retitle the terminal, clear it, or reorder what the operator reads.
_INVISIBLE = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F,
              0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}  # fmt: skip


_JSON_INVISIBLE = {c: f"\\u{c:04x}" for c in _INVISIBLE if c >= 0x7F}


def visible(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``)."""
    return text.translate(_INVISIBLE)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return visible(json.dumps(value, ensure_ascii=False, default=str))
    return visible(str(value))


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> Table:
    """A table whose cells wrap (long words fold) instead of being cut.

    The first column names the row (an id, a name): it keeps its width, up to 40
    characters, so that it stays whole and copyable while the other columns wrap.
    """
    rows = list(rows)
    names = list(columns or (rows[0].keys() if rows else []))
    out = Table(title=title)
    for i, name in enumerate(names):
        widest = max((len(_cell(r.get(name))) for r in rows), default=0) if i == 0 else 0
        # no_wrap, not min_width: rich crops a table whose minimum widths overflow the line.
        out.add_column(Text(visible(name)), overflow="fold", no_wrap=i == 0 and 0 < widest <= 40)
    for row in rows:
        # Text, not str: rich would read "[...]" in a value as markup.
        out.add_row(*(Text(_cell(row.get(name))) for name in names))
    return out


def rows_view(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> RenderableType:
    """A table when its columns fit the terminal; else one field/value block per row.

    Either way every value is printed whole (wrapped where it must be), never cut.
    """
    rows = list(rows)
    names = list(columns or (rows[0].keys() if rows else []))
    # The first column keeps its width (up to 40, see ``table``); others may wrap to 16.
    needed = 1 + sum(
        3 + min(40 if i == 0 else 16, max([len(name), *(len(_cell(r.get(name))) for r in rows)]))
        for i, name in enumerate(names)
    )
    if needed <= console.width:
        return table(rows, names, title)
    blocks: list[RenderableType] = [title] if title else []
    for row in rows:
        block = Table(show_header=False)
        block.add_column(style="bold", overflow="fold")
        block.add_column(overflow="fold")
        for name in names:
            block.add_row(Text(visible(name)), Text(_cell(row.get(name))))
        blocks.append(block)
    return Group(*blocks)


def emit(data: Any, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print ``data``: JSON with ``--json``; otherwise a table (a list) or two columns."""
    data = plain(data)
    if as_json:
        print_json(data)
    elif isinstance(data, list) and all(isinstance(r, Mapping) for r in data):
        if data:
            console.print(rows_view(data, columns))
        else:
            console.print(_("(none)"))
    elif isinstance(data, Mapping):
        pairs = [{"field": k, "value": v} for k, v in data.items()]
        view = table(pairs, ["field", "value"])
        view.show_header = False
        console.print(view)
    else:
        console.print(str(data), markup=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    label = _("error")
    err_console.print(f"[red]{label}:[/red] ", end="")
    # soft_wrap: the terminal wraps; no line breaks inside a path or an id to copy.
    # visible: a message may quote what a file or a server sent (a field name, a value).
    err_console.print(visible(message), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def busy(message: str, quiet: bool = False) -> AbstractContextManager[Any]:
    """A spinner on stderr while a step runs (none with ``--json`` or off a terminal)."""
    return nullcontext() if quiet else err_console.status(message)
