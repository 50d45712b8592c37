"""Helpers shared by CLI commands: settings, store set-up, output."""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.console import Console

from gateway.access.service import rebuild_rules
from gateway.home import private_dir, private_file
from gateway.keys import ensure_keys
from gateway.settings import Settings, load_settings
from gateway.store.engine import Store
from gateway.store.migrate import upgrade

console = Console()
err_console = Console(stderr=True)

_CONFIG_TEMPLATE = """\
# Community Data Gateway settings (KEY=value); CDG_* environment variables win.
# See docs/settings.md for every setting.
# CDG_DATABASE_URL=postgresql+psycopg://gateway@db/gateway
# CDG_PORT=8000
# CDG_STATEMENT_TIMEOUT_SECONDS=10
# CDG_MAX_ROWS=10000
"""


def settings() -> Settings:
    return load_settings()


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


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def export_settings_to_env(s: Settings) -> None:
    """Worker processes rebuild settings from the environment."""
    os.environ["CDG_HOME"] = str(s.home.resolve())
    if s.database_url:
        os.environ["CDG_DATABASE_URL"] = s.database_url


def emit(data: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        console.print(data)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)
