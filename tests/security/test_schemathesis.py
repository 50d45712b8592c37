"""schemathesis over the whole OpenAPI document: no input answers ≥ 500, every answer matches it.

The app runs in process (ASGI transport, no network) on a seeded world: the demo datasets,
approved, pending, rejected, revoked and expired requests, and a DP-capable dataset, so that
generated ids sometimes hit real rows. Every operation is called by an app, a department and
the auditor in turn (the key is drawn with the rest of the case), with valid (positive) and
invalid (negative) data. Generation is bounded and derandomized so the run is the same each
time and stays within a few minutes on a small machine.

Two checks only, and no allowance in either: ``not_a_server_error`` (any status ≥ 500 fails)
and ``response_schema_conformance`` (the body must match what the OpenAPI document declares
for that status, the error shape included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import make_settings, open_gateway
from tests.gateway.test_bad_input import World, build_world

CALLERS = ("heping-committee", "civil-affairs", "district-auditor")
MODES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 25}
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    source = f"sqlite:///{root / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(root / "home"))
    try:
        yield build_world(gw, source, small_community)
    finally:
        gw.client.close()
        gw.ctx.close()


def _failures(world: World, operation: Any, mode: GenerationMode, examples: int) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), caller=st.sampled_from(CALLERS))
    def run(case: Any, caller: str) -> None:
        headers = world.gw.auth(caller)
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:  # collect every distinct failure instead of stopping at one
            text = f"{operation.label} [{mode.value}, {caller}] {response.status_code}: {exc}"
            found.append(text[:2000])

    try:
        run()
    except Unsatisfiable:  # nothing to negate: an operation without parameters or body
        assert mode is GenerationMode.NEGATIVE
    return found


def test_no_server_errors_and_no_schema_violations(fuzz_world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.gw.client.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode, examples in MODES.items():
            failures += _failures(fuzz_world, operation, mode, examples)
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(dict.fromkeys(failures))
