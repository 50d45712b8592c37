"""``cdg dataset register|list|show|scan|retire``.

With an API key (``--key`` or ``CDG_API_KEY``) a command acts on the running gateway as that
key's principal; without one, on the local home as the operator (``register`` then names
the owning department with ``--department``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.schemas import DatasetCreate
from gateway.catalog.service import register_dataset
from gateway.cli.common import (
    busy,
    console,
    emit,
    fail,
    prepared,
    read_document,
    rows_view,
    validation_problems,
)
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.cli.text import _
from gateway.context import GatewayContext
from gateway.errors import GatewayError

app = typer.Typer(help="Datasets in the catalog.", no_args_is_help=True)

LIST_COLUMNS = ["id", "name", "owner", "table", "columns", "policy_version"]
FINDING_COLUMNS = ["column", "classification", "sampled", "entities", "severity", "message"]


def _summary(out: dict[str, Any]) -> dict[str, Any]:
    """What a table shows of a dataset: the policy and columns are in ``--json``."""
    return {
        "id": out["id"],
        "name": out["name"],
        "owner": out["owner"],
        "columns": len(out.get("columns") or []),
        "policy_version": str(out.get("policy_version", ""))[:12],
        "purposes": ", ".join(p["purpose"] for p in out.get("purposes") or []),
        "pii_findings": len(out.get("pii_findings") or []),
    }


@app.command("register")
def register(
    file: Annotated[Path, typer.Argument(help="YAML or JSON dataset", show_default=False)],
    department: Annotated[
        str | None,
        typer.Option(
            help="Owning department principal (local, as the operator); without it the dataset "
            "is registered through the running gateway as the key's department",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a dataset (with its usage policy) on a source the department registered."""
    document = read_document(file)
    try:
        body = DatasetCreate.model_validate(document)
    except ValidationError as exc:
        raise validation_problems(file, exc) from None
    step = _("registering: testing the table, sampling it for PII…")
    if department is None:
        with connected(url, key, as_json) as gw, busy(step, as_json):
            out = gw.register_dataset(document)
        data = out.model_dump(mode="json", exclude={"policy"})
    else:
        s = prepared()
        ctx = GatewayContext.open(s)
        try:
            with ctx.store.transaction() as session, busy(step, as_json):
                row = AuthRepository(session).by_name(department)
                if row is None:
                    raise fail(_("no such department principal"))
                # register_dataset asks the permission module, as the HTTP route does.
                local = register_dataset(session, ctx, as_principal(row), body)
        except GatewayError as exc:
            raise fail(exc.detail) from None
        finally:
            ctx.close()
        data = local.model_dump(mode="json", exclude={"policy"})
    if as_json:
        emit(data, True)
        return
    emit(_summary(data), False)
    if data.get("pii_findings"):
        console.print(rows_view(data["pii_findings"], FINDING_COLUMNS, title=_("PII findings")))


@app.command("list")
def listing(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List datasets: the catalog the key may see, or (no key) every registered one."""
    if key:
        with connected(url, key, as_json) as gw:
            rows = [_summary(d.model_dump(mode="json")) for d in gw.datasets()]
        emit(rows, as_json, ["id", "name", "owner", "columns", "policy_version", "purposes"])
        return
    s = prepared()
    ctx = GatewayContext.open(s)
    try:
        with ctx.store.transaction() as session:
            local = [
                {
                    "id": d.id,
                    "name": d.name,
                    "owner": d.owner,
                    "table": d.table_name,
                    "columns": len(d.columns),
                    "policy_version": d.policy_version[:12],
                }
                for d in CatalogRepository(session).datasets()
            ]
    finally:
        ctx.close()
    emit(local, as_json, LIST_COLUMNS)


@app.command("show")
def show_one(
    dataset: Annotated[str, typer.Argument(help="Dataset id or name")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One dataset as the key's principal sees it: columns and what each purpose offers."""
    from gateway.cli.query_requests import dataset_id

    with connected(url, key, as_json) as gw:
        out = gw.dataset(dataset_id(gw, dataset))
    if as_json:
        show(out, True)
        return
    data = out.model_dump(mode="json")
    emit(_summary(data), False)
    console.print(rows_view(data["columns"], ["name", "type", "classification", "description"]))
    offers = [
        {"purpose": p["purpose"], "access": p["access"], "approval": p["approval"],
         "columns": ", ".join(f"{c}: {t}" for c, t in p["columns"].items())}
        for p in data["purposes"]
    ]  # fmt: skip
    console.print(rows_view(offers, ["purpose", "access", "approval", "columns"]))


@app.command("scan")
def scan(
    name: Annotated[str, typer.Argument(help="Dataset name (or id with a key)")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sample a registered dataset and flag columns whose content contradicts their class."""
    from gateway.catalog.service import scan_findings

    step = _("sampling %(name)s for PII…", name=name)
    if key:
        from gateway.cli.query_requests import dataset_id

        with connected(url, key, as_json) as gw, busy(step, as_json):
            findings: list[Any] = [
                f.model_dump(mode="json") for f in gw.scan_dataset(dataset_id(gw, name))
            ]
    else:
        s = prepared()
        ctx = GatewayContext.open(s)
        try:
            with ctx.store.transaction() as session, busy(step, as_json):
                repo = CatalogRepository(session)
                row = repo.dataset_by_name(name)
                source = repo.source(row.source_id) if row is not None else None
                if row is None or source is None:
                    raise fail(_("no such dataset"))
                findings = [f.model_dump(mode="json") for f in scan_findings(ctx, row, source)]
        except GatewayError as exc:
            raise fail(exc.detail) from None
        finally:
            ctx.close()
    if as_json:
        emit(findings, True)
        return
    for f in findings:
        f["entities"] = ", ".join(f"{k}×{v}" for k, v in sorted(f["entities"].items()))
    console.print(rows_view(findings, FINDING_COLUMNS, title=_("PII scan of %(name)s", name=name)))


@app.command("retire")
def retire(
    dataset: Annotated[str, typer.Argument(help="Dataset id or name")],
    reason: Annotated[str, typer.Option(help="Why; apps whose queries it ends see it")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retire a dataset (soft, logged) through the running gateway; its queries are revoked."""
    from gateway.cli.query_requests import dataset_id

    with connected(url, key, as_json) as gw:
        done = gw.retire_dataset(dataset_id(gw, dataset), reason)
    if as_json:
        show(done, True)
        return
    data = done.model_dump(mode="json")
    closed = data.pop("closed")
    emit(data, False)
    emit(closed, False, ["id", "app", "purpose", "status", "reason"])
