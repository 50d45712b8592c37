"""``cdg store grants ROLE``: the PostgreSQL grants for the gateway's own role."""

from __future__ import annotations

import typer

from gateway.store.roles import gateway_grants

app = typer.Typer(help="The gateway store.", no_args_is_help=True)


@app.command("grants")
def grants(role: str) -> None:
    """Print the GRANT statements that let ROLE run the gateway but only append to the log."""
    try:
        for statement in gateway_grants(role):
            typer.echo(statement + ";")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
