"""``cdg``: the command line of Community Data Gateway."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
import uvicorn

import gateway
from gateway.cli import (
    audit,
    budgets,
    datasets,
    decisions,
    keys,
    pii,
    policies,
    principals,
    purposes,
    queries,
    query_requests,
    sources,
    status,
    store,
    subjects,
    tokens,
    webhooks,
)
from gateway.cli.common import (
    busy,
    emit,
    existing_home,
    export_settings_to_env,
    initialise,
    settings,
)
from gateway.cli.serve_workers import serve_spread, spreads_connections
from gateway.cli.text import _
from gateway.context import GatewayContext
from gateway.logs import log_config
from gateway.metrics import clear_multiprocess_dir

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
cli.add_typer(webhooks.app, name="webhooks")
cli.add_typer(sources.app, name="source")
cli.add_typer(query_requests.app, name="request")
cli.add_typer(queries.app, name="query")
cli.add_typer(purposes.app, name="purpose")
cli.add_typer(budgets.app, name="budget")
cli.add_typer(decisions.app, name="decision")
cli.add_typer(tokens.app, name="token")
cli.command("status")(status.status)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"cdg {gateway.__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Community Data Gateway 社区数据共享网关"""


@cli.command()
def init(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create CDG_HOME: config, master key file and the gateway store."""
    emit(initialise(settings()), as_json)


APP_FACTORY = "gateway.api.asgi:app_factory"


def _listen_on(host: str | None, port: int | None) -> None:
    """--host/--port as settings: the workers rebuild settings from the environment, so the
    links they make (resident links) name the address served when CDG_PUBLIC_URL is unset."""
    if host is not None:
        os.environ["CDG_HOST"] = host
    if port is not None:
        os.environ["CDG_PORT"] = str(port)


def _serve(host: str | None, port: int | None, workers: int) -> None:
    _listen_on(host, port)
    s = settings()
    export_settings_to_env(s)
    # Proxy headers only from listed proxies: uvicorn's default trusts X-Forwarded-For from
    # loopback, so anyone on the host (or a proxy that passes the header on) could pick the
    # client address the sign-in throttle and the access log see.
    trusted = [a.strip() for a in s.forwarded_allow_ips.split(",") if a.strip()]
    clear_multiprocess_dir()  # PROMETHEUS_MULTIPROC_DIR: the workers report one set
    options: dict[str, Any] = {
        "factory": True,
        "host": s.host,
        "port": s.port,
        "workers": workers,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "log_level": s.log_level.lower(),
        # uvicorn's access log writes raw paths; the gateway logs route templates instead.
        "access_log": False,
        "log_config": log_config(s.log_level.upper(), s.log_format),
    }
    if workers > 1 and spreads_connections():
        # Each worker on its own socket, so connections opened together spread over them.
        serve_spread(uvicorn.Config(APP_FACTORY, **options))
        return
    uvicorn.run(APP_FACTORY, **options)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Listen port")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs)."""
    initialise(existing_home())
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
    port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
) -> None:
    """Seed a synthetic community (sources, datasets, policies, principals, queries); serve it."""
    from gateway.demo.seed import seed_demo

    _listen_on(host, port)  # the summary's base_url names the address served
    s = settings()
    initialise(s)
    ctx = GatewayContext.open(s)
    try:
        with busy(_("seeding the demo community…"), as_json):
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

    table = Table(title=_("Demo principals (API keys)"))
    for col in ("name", "kind", "domain", "api_key"):
        table.add_column(col, overflow="fold")
    for p in summary["principals"]:  # type: ignore[attr-defined]
        table.add_row(p["name"], p["kind"], p["domain"], p["api_key"])
    console.print(table)
    console.print(_("Approved queries and keys: %(path)s", path=f"{summary['home']}/demo.json"))
    console.print(_("API docs: %(url)s", url=f"{summary['base_url']}/docs"))
    console.print(
        _(
            "Web console: %(url)s (sign in with one of the API keys above)",
            url=f"{summary['base_url']}/console/",
        )
    )


def main() -> None:
    try:
        cli()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        # A last resort: commands check their files first; none may end in a traceback.
        from gateway.cli.common import USAGE_ERROR, fail

        where = f"{exc.filename}: " if exc.filename else ""
        raise SystemExit(
            fail(f"{where}{exc.strerror or type(exc).__name__}", USAGE_ERROR).exit_code
        ) from None
