"""What runs need to know about a source table's schema, asked once per dataset version.

A DP run asks whether the privacy unit is unique in the source (a primary key or a unique
constraint lets the planner skip per-person bounding): several catalog queries against
the department's database on every run before this cache. The answer is remembered per
source, table, column and dataset version (the dataset's id and last update), so
registering or updating the dataset asks again; a schema changed in the department's
database without either is seen after the next registration.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from gateway.catalog.engines import unit_is_unique

_LIMIT = 10_000  # answers remembered per process; emptied when full

_answers: dict[tuple[str, str, str, str], bool] = {}
_lock = threading.Lock()


def unit_is_unique_cached(
    engine: Engine, source_id: str, table: str, column: str, dataset_version: str
) -> bool:
    """``unit_is_unique`` for this source's table and column, remembered per dataset version."""
    key = (source_id, table, column, dataset_version)
    found = _answers.get(key)
    if found is not None:
        return found
    answer = unit_is_unique(engine, table, column)
    with _lock:
        if len(_answers) >= _LIMIT:
            _answers.clear()
        _answers[key] = answer
    return answer
