"""What a serving process (the uvicorn import target) sets up beyond the application."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]

_PROBE = (
    "import gc, json; from gateway.api.asgi import app_factory; app = app_factory(); "
    "print(json.dumps({'threshold': gc.get_threshold()[0], 'frozen': gc.get_freeze_count(), "
    "'routes': len(app.routes)}))"
)


def test_a_serving_process_freezes_its_start_up_objects_and_collects_young_ones_less_often(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    make_settings(home)  # keys and a migrated store, as `cdg init` leaves them
    env = {**os.environ, "CDG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("CDG_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["routes"] > 10  # the real application was built
    assert probe["threshold"] == 50_000
    # Modules, routes and the policy tables: far more than a bare interpreter's objects.
    assert probe["frozen"] > 50_000
