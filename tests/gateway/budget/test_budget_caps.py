"""Budget caps from policies, exact units, and the ledger migration."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import ValidationError

from gateway.budget.caps import caps_of
from gateway.budget.windows import charge_micro, to_micro
from gateway.store.migrate import alembic_config, upgrade
from policies import UsagePolicy
from tests.gateway.budget.dp_setup import POLICY


def purpose(name: str, **dp: Any) -> dict[str, Any]:
    rule = dict(POLICY["purposes"][0])
    return {**rule, "purpose": name, "dp": {**rule["dp"], **dp}}


def test_caps_take_the_smallest_of_every_dp_purpose_per_window_length() -> None:
    policy = {
        "purposes": [
            purpose("public-service.statistics", epsilon_per_window=5.0, epsilon_lifetime=30.0),
            purpose(
                "public-service.community-planning", epsilon_per_run=0.5, epsilon_per_window=0.5
            ),
            purpose("public-service.elderly-care", epsilon_per_window=2.0, window="day"),
        ]
    }
    caps = caps_of(policy)
    assert caps.windows == {"month": 500_000, "day": 2_000_000}
    assert caps.lifetime == 20_000_000  # the default of the purposes that set none
    assert caps.dataset == 50_000_000
    no_dp = {"purposes": [{**POLICY["purposes"][0], "dp": None}]}
    assert caps_of(no_dp).windows == {} and caps_of(no_dp).lifetime == 0


def test_charges_are_exact_and_never_round_down() -> None:
    assert charge_micro(0.1) == 100_000 and charge_micro(0.3) == 300_000
    assert charge_micro(1e-9) == 1  # a positive charge is never zero
    assert charge_micro(0.0010001) == 1001  # rounded up, never to the nearest
    assert to_micro(3.7) == 3_700_000


@pytest.mark.parametrize(
    ("dp", "message"),
    [
        ({"epsilon_lifetime": 60.0}, "epsilon_lifetime exceeds epsilon_dataset"),
        ({"epsilon_per_run": 2.0, "epsilon_lifetime": 1.0}, "epsilon_per_run exceeds"),
        ({"epsilon_dataset": 1001.0}, "less than or equal to 1000"),
        ({"epsilon_lifetime": 0.0}, "greater than or equal to 0.001"),
    ],
)
def test_contradictory_caps_are_refused(dp: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        UsagePolicy.model_validate({"purposes": [purpose("public-service.statistics", **dp)]})


def test_calendar_ledgers_become_dated_spends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url, "0006")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    at = datetime(2026, 11, 20, 9, 30)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO budget_ledgers (app_id, dataset_id, window_start, total_micro, "
                "spent_micro, updated_at) VALUES (:a, :d, :w, 5000000, :s, :t)"
            ),
            [
                {"a": "app1", "d": "ds1", "w": "2026-11-01", "s": 4_500_000, "t": at},
                {"a": "app2", "d": "ds1", "w": "2026-11-20", "s": 500_000, "t": at},
                {"a": "app2", "d": "ds2", "w": "2026-11-20", "s": 0, "t": at},
            ],
        )
    upgrade(url)
    with engine.connect() as conn:
        spends = conn.execute(
            sa.text("SELECT app_id, dataset_id, cost_micro, spent_at FROM budget_spends ORDER BY 1")
        ).all()
        counters = conn.execute(
            sa.text("SELECT dataset_id, spent_micro FROM budget_datasets")
        ).all()
        tables = set(sa.inspect(conn).get_table_names())
    assert [(a, d, c) for a, d, c, _ in spends] == [
        ("app1", "ds1", 4_500_000),
        ("app2", "ds1", 500_000),
    ]
    assert {str(t)[:19] for *_, t in spends} == {"2026-11-20 09:30:00"}
    assert counters == [("ds1", 5_000_000)]
    assert "budget_ledgers" not in tables
    # And back: one calendar ledger per pair, holding its whole spend.
    command.downgrade(alembic_config(url), "0006")
    with engine.connect() as conn:
        back = conn.execute(
            sa.text("SELECT app_id, window_start, spent_micro FROM budget_ledgers ORDER BY 1")
        ).all()
    assert back == [("app1", "2026-11-01", 4_500_000), ("app2", "2026-11-01", 500_000)]
    engine.dispose()
