"""``cdg``: the command line of Community Data Gateway."""

from __future__ import annotations

import copy
from typing import Annotated, Any

import typer
import uvicorn
import uvicorn.config

from gateway.cli import audit, datasets, keys, pii, policies, principals, store, subjects
from gateway.cli.common import emit, export_settings_to_env, initialise, settings
from gateway.context import GatewayContext

cli = typer.Typer(
    help="Community Data Gateway 社区数据共享网关", no_args_is_help=True, add_completion=False
)
cli.add_typer(principals.app, name="principal")
cli.add_typer(datasets.app, name="dataset")
cli.add_typer(policies.app, name="policy")
cli.add_typer(keys.app, name="keys")
cli.add_typer(audit.app, name="audit")
cli.add_typer(store.app, name="store")
cli.add_typer(pii.app, name="pii")
cli.add_typer(subjects.app, name="subject")


@cli.command()
def init(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create CDG_HOME: config, master key file and the gateway store."""
    emit(initialise(settings()), as_json)


def _serve(host: str | None, port: int | None, workers: int) -> None:
    s = settings()
    export_settings_to_env(s)
    uvicorn.run(
        "gateway.api.asgi:app_factory",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        log_level=s.log_level.lower(),
        # uvicorn's access log writes raw paths; the gateway logs route templates instead.
        access_log=False,
        log_config=_log_config(s.log_level.upper()),
    )


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus the gateway's own loggers (``cdg.*``) on the same handler."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["cdg"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs)."""
    initialise(settings())
    _serve(host, port, workers)


@cli.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve after seeding")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the seeding summary as JSON")
    ] = False,
    residents: Annotated[int, typer.Option(min=100, max=1_000_000)] = 10_000,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Seed a synthetic community (sources, datasets, policies, principals, queries); serve it."""
    from gateway.demo.seed import seed_demo

    s = settings()
    initialise(s)
    ctx = GatewayContext.open(s)
    try:
        summary = seed_demo(ctx, residents=residents)
    finally:
        ctx.close()
    if as_json:
        emit(summary, True)
    else:
        _print_demo(summary)
    if serve_after:
        _serve(host, port, 1)


def _print_demo(summary: dict[str, object]) -> None:
    from rich.table import Table

    from gateway.cli.common import console

    table = Table(title="Demo principals (API keys)")
    for col in ("name", "kind", "domain", "api_key"):
        table.add_column(col)
    for p in summary["principals"]:  # type: ignore[attr-defined]
        table.add_row(p["name"], p["kind"], p["domain"], p["api_key"])
    console.print(table)
    console.print(f"Approved queries and keys: {summary['home']}/demo.json")
    console.print(f"API docs: {summary['base_url']}/docs")


def main() -> None:
    cli()
