"""``cdg store grants ROLE``: the PostgreSQL grants for the gateway's own role."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gateway.store.roles import gateway_grants

app = typer.Typer(help="The gateway store.", no_args_is_help=True)


@app.command("grants")
def grants(
    role: str,
    as_json: Annotated[bool, typer.Option("--json", help="The statements as a JSON list")] = False,
) -> None:
    """Print the GRANT statements that let ROLE run the gateway but only append to the log."""
    try:
        statements = list(gateway_grants(role))
        if as_json:
            typer.echo(json.dumps(statements, indent=2))
            return
        for statement in statements:
            typer.echo(statement + ";")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
