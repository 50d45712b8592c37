"""``cdg dataset register FILE`` and ``cdg dataset list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from gateway.auth.repository import AuthRepository
from gateway.auth.service import as_principal
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.schemas import DatasetCreate
from gateway.catalog.service import register_dataset
from gateway.cli.common import emit, fail, initialise, settings
from gateway.context import GatewayContext
from gateway.errors import GatewayError

app = typer.Typer(help="Datasets in the catalog.", no_args_is_help=True)


@app.command("register")
def register(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON dataset")],
    department: Annotated[str, typer.Option(help="Name of the owning department principal")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Register a dataset (with its usage policy) on a source the department registered."""
    s = settings()
    initialise(s)
    try:
        body = DatasetCreate.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except (ValidationError, yaml.YAMLError) as exc:
        raise fail(f"{file}: {exc}") from None
    ctx = GatewayContext.open(s)
    try:
        with ctx.store.transaction() as session:
            row = AuthRepository(session).by_name(department)
            if row is None:
                raise fail("no such department principal")
            # register_dataset asks the permission module, as the HTTP route does.
            out = register_dataset(session, ctx, as_principal(row), body)
    except GatewayError as exc:
        raise fail(exc.detail) from None
    finally:
        ctx.close()
    emit(out.model_dump(mode="json", exclude={"policy"}), as_json)


@app.command("list")
def listing(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered datasets."""
    s = settings()
    initialise(s)
    ctx = GatewayContext.open(s)
    try:
        with ctx.store.transaction() as session:
            rows = [
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
    emit(rows, as_json)


@app.command("scan")
def scan(
    name: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sample a registered dataset and flag columns whose content contradicts their class."""
    from rich.table import Table

    from gateway.catalog.service import scan_findings
    from gateway.cli.common import console

    s = settings()
    initialise(s)
    ctx = GatewayContext.open(s)
    try:
        with ctx.store.transaction() as session:
            repo = CatalogRepository(session)
            dataset = repo.dataset_by_name(name)
            source = repo.source(dataset.source_id) if dataset is not None else None
            if dataset is None or source is None:
                raise fail("no such dataset")
            findings = scan_findings(ctx, dataset, source)
    except GatewayError as exc:
        raise fail(exc.detail) from None
    finally:
        ctx.close()
    if as_json:
        emit([f.model_dump() for f in findings], True)
        return
    table = Table(title=f"PII scan of {name}")
    for col in ("column", "class", "sampled", "found", "severity", "message"):
        table.add_column(col)
    for f in findings:
        found = ", ".join(f"{k}×{v}" for k, v in sorted(f.entities.items()))
        table.add_row(f.column, f.classification, str(f.sampled), found, f.severity, f.message)
    console.print(table)
