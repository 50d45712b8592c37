"""``cdg policy check FILE...``: validate usage-policy documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from gateway.cli.common import console, err_console
from policies import UsagePolicy

app = typer.Typer(help="Usage-policy documents.", no_args_is_help=True)


@app.command("check")
def check(files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate documents; exit 1 when any has a problem."""
    bad = 0
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            # A dataset file embeds its policy; a policy file is the document itself.
            document = data.get("policy", data) if isinstance(data, dict) else data
            UsagePolicy.model_validate(document)
        except yaml.YAMLError as exc:
            bad += 1
            err_console.print(f"{path}: not YAML/JSON: {exc}")
        except ValidationError as exc:
            bad += 1
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                err_console.print(f"{path}: {where}: {err['msg']}")
        else:
            console.print(f"{path}: ok")
    if bad:
        raise typer.Exit(1)
