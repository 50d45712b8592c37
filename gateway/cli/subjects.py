"""``cdg subject link``: a department gives a resident a one-time link to their history;
``cdg subject lookup|accesses|links|revoke-link``: the same residents' API, through a
running gateway as the key's principal.

An ID number is never needed on the command line: it is asked for at a hidden prompt.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from gateway.auditlog.schemas import ResidentLinkCreate, ResidentLinkIssued
from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.cli.common import emit, fail, instant, prepared
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.cli.text import _
from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.oversight.resident_links import issue

app = typer.Typer(
    help="Residents (居民): one-time links to their access history.", no_args_is_help=True
)


@app.command("link")
def link(
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
    department: Annotated[
        str | None,
        typer.Option(
            help="Name of the department principal issuing the link (on the local home, as "
            "the operator); without it the link is issued through the running gateway as the "
            "key's department",
            show_default=False,
        ),
    ] = None,
    hours: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=720,
            help="Hours until the unused link expires (default CDG_RESIDENT_LINK_HOURS)",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue a one-time, expiring link; the resident opens it once to see who received
    their data from this department's datasets. The link is printed only this once."""
    try:
        body = ResidentLinkCreate(id_number=id_number, expires_in_hours=hours)
    except ValidationError:
        # Never repeat the value: it is a resident's ID number.
        raise fail("not a valid resident ID number (18 characters or 15 digits)") from None
    if department is None:
        with connected(url, key, as_json) as gw:
            out = gw.issue_link(id_number, hours)
    else:
        out = _issue_locally(department, body)
    if as_json:
        emit(out.model_dump(mode="json"), True)
        return
    typer.echo(out.url)
    typer.echo(f"link {out.id}; expires {out.expires_at.isoformat(timespec='minutes')} (UTC)")


def _issue_locally(department: str, body: ResidentLinkCreate) -> ResidentLinkIssued:
    s = prepared()
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
    return out


ACCESS_COLUMNS = ["index", "time", "app", "purpose", "dataset_name", "justification"]


@app.command("lookup")
def lookup(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """A resident's SubjectRef from an ID number asked for at a hidden prompt (departments,
    auditors; logged)."""
    number = str(typer.prompt(_("resident ID number"), hide_input=True))
    with connected(url, key, as_json) as gw:
        show(gw.subject_ref(number), as_json)


@app.command("accesses")
def accesses(
    subject_ref: Annotated[str, typer.Argument(help="The resident's SubjectRef")],
    since: Annotated[
        str | None, typer.Option(help="Only from this time (RFC 3339 with zone)")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who received rows about a resident, oldest first (every page)."""
    start = instant("--since", since)
    with connected(url, key, as_json) as gw:
        rows = list(gw.iter_accesses(subject_ref, since=start))
    show(rows, as_json, ACCESS_COLUMNS)


@app.command("links")
def links(url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Links the key's department issued (never their secrets)."""
    with connected(url, key, as_json) as gw:
        show(gw.links(), as_json, ["id", "issued_by", "created_at", "expires_at", "state"])


@app.command("revoke-link")
def revoke_link(
    link_id: Annotated[str, typer.Argument(help="The link's id")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a link before it is used."""
    with connected(url, key, as_json) as gw:
        show(gw.revoke_link(link_id), as_json)
