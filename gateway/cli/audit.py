"""``cdg audit verify``: recompute every leaf hash and check the order has no gaps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy import select

from audit import leaf_hash
from gateway.auditlog.models import AuditEntryRow
from gateway.auditlog.repository import AuditRepository
from gateway.cli.common import console, err_console, settings
from gateway.store.engine import Store

app = typer.Typer(help="The access log.", no_args_is_help=True)


@app.command("verify")
def verify(batch: Annotated[int, typer.Option(min=100)] = 5000) -> None:
    """Exit 0 when every entry matches its hash and indexes run 0..n-1 without gaps."""
    store = Store.from_url(settings().store_url)
    expected = 0
    with store.transaction() as session, Progress(transient=True) as progress:
        total = AuditRepository(session).count()
        task = progress.add_task("verifying", total=total)
        last = -1
        while True:
            rows = session.scalars(
                select(AuditEntryRow)
                .where(AuditEntryRow.index > last)
                .order_by(AuditEntryRow.index)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                if row.index != expected:
                    err_console.print(
                        f"entry {expected}: missing (next stored index is {row.index})"
                    )
                    raise typer.Exit(1)
                if leaf_hash(row.entry.encode("utf-8")).hex() != row.leaf_hash:
                    err_console.print(f"entry {row.index}: content does not match its leaf hash")
                    raise typer.Exit(1)
                expected += 1
            last = rows[-1].index
            progress.advance(task, len(rows))
    console.print(f"audit log intact: {expected} entries")
