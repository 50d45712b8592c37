"""``cdg subject link``: a department gives a resident a one-time link to their history."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from gateway.auditlog.resident_links import issue
from gateway.auditlog.schemas import ResidentLinkCreate
from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.cli.common import emit, fail, initialise, settings
from gateway.context import GatewayContext
from gateway.errors import GatewayError

app = typer.Typer(
    help="Residents (居民): one-time links to their access history.", no_args_is_help=True
)


@app.command("link")
def link(
    department: Annotated[
        str, typer.Option(help="Name of the department principal issuing the link")
    ],
    id_number: Annotated[
        str,
        typer.Option(
            "--id-number",
            help="The resident's ID number (read from the prompt when omitted, so that it "
            "stays out of the shell history)",
            prompt="居民身份证号 / resident ID number",
            hide_input=True,
        ),
    ],
    hours: Annotated[
        int, typer.Option(min=1, max=720, help="Hours until the unused link expires")
    ] = 72,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue a one-time, expiring link; the resident opens it once to see who received
    their data from this department's datasets. The link is printed only this once."""
    try:
        body = ResidentLinkCreate(id_number=id_number, expires_in_hours=hours)
    except ValidationError:
        # Never repeat the value: it is a resident's ID number.
        raise fail("not a valid resident ID number (18 characters or 15 digits)") from None
    s = settings()
    initialise(s)
    ctx = GatewayContext.open(s)
    try:
        with ctx.store.transaction() as session:
            row = AuthRepository(session).by_name(department)
            if row is None or not row.active:
                raise fail("no such department principal")
            # issue() asks the permission module and logs, as the HTTP route does.
            out = issue(session, ctx, as_principal(row), body, request_id="cli")
    except GatewayError as exc:
        raise fail(exc.detail) from None
    finally:
        ctx.close()
    if as_json:
        emit(out.model_dump(mode="json"), True)
        return
    typer.echo(out.url)
    typer.echo(f"link {out.id}; expires {out.expires_at.isoformat(timespec='minutes')} (UTC)")
