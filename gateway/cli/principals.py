"""``cdg principal add/list/revoke``: operators manage who may call the gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.auth.principal import KINDS
from gateway.auth.repository import AuthRepository
from gateway.auth.service import add_principal, revoke_principal
from gateway.cli.common import emit, fail, prepared
from gateway.errors import GatewayError
from gateway.store.engine import Store

app = typer.Typer(
    help="Principals (departments, apps, auditors) and their API keys.", no_args_is_help=True
)


def _store() -> Store:
    return Store.from_url(prepared().store_url)


@app.command("add")
def add(
    name: str,
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")],
    domain: Annotated[str, typer.Option(help="Department code, or the community an app serves")],
    role: Annotated[str, typer.Option(help="Role named in usage policies")],
    display_name: Annotated[str, typer.Option()] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a principal and print its API key (shown once)."""
    store = _store()
    try:
        with store.transaction() as session:
            row, key = add_principal(
                session, name=name, kind=kind, domain=domain, role=role, display_name=display_name
            )
            out = {
                "name": row.name,
                "kind": row.kind,
                "domain": row.domain,
                "role": row.role,
                "api_key": key,
            }
    except GatewayError as exc:
        raise fail(exc.detail) from None
    emit(out, as_json)


@app.command("list")
def listing(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List principals (never their keys)."""
    store = _store()
    with store.transaction() as session:
        rows = [
            {"name": p.name, "kind": p.kind, "domain": p.domain, "role": p.role, "active": p.active}
            for p in AuthRepository(session).all()
        ]
    emit(rows, as_json, ["name", "kind", "domain", "role", "active"])


@app.command("revoke")
def revoke(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Deactivate a principal and revoke all its API keys."""
    store = _store()
    try:
        with store.transaction() as session:
            revoke_principal(session, name)
    except GatewayError as exc:
        raise fail(exc.detail) from None
    emit({"revoked": name}, as_json)
