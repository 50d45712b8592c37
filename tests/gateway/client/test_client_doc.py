"""The example in docs/client.md runs as written against a live gateway."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from tests.gateway.client.live import LiveGateway
from tests.gateway.client.test_client import residents_source

DOC = Path(__file__).resolve().parents[3] / "docs" / "client.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_three_jobs_example_runs(
    live: LiveGateway, small_community: Community, tmp_path: Path, capsys: object
) -> None:
    spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
    dataset_file = tmp_path / "residents.yaml"
    dataset_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    namespace = {
        "URL": live.url,
        "DEPARTMENT_KEY": live.keys["civil-affairs"],
        "APP_KEY": live.keys["heping-committee"],
        "AUDITOR_KEY": live.keys["district-auditor"],
        "RESIDENTS_DB_URL": residents_source(small_community),
        "DATASET_FILE": str(dataset_file),
        "WORKDIR": str(tmp_path),
    }
    exec(compile(python_blocks()[0], str(DOC), "exec"), namespace)
    assert namespace["result"].row_count > 0  # type: ignore[attr-defined]
    verified = CliRunner().invoke(
        cli,
        ["audit", "verify", "--export", str(tmp_path / "log.jsonl"), "--keys",
         str(tmp_path / "keys.txt")],
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "404 NotFound" in capsys.readouterr().out  # type: ignore[attr-defined]
