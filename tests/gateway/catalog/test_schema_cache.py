"""The source schema facts a run needs are read once per dataset version."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from gateway.catalog.schema_cache import unit_is_unique_cached


def test_uniqueness_is_read_once_per_dataset_version(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE people (id TEXT PRIMARY KEY NOT NULL, age INTEGER)"))
    assert unit_is_unique_cached(engine, "src_a", "people", "id", "ds_1@v1")
    with engine.begin() as conn:  # the department drops the key, nobody re-registers
        conn.execute(text("DROP TABLE people"))
        conn.execute(text("CREATE TABLE people (id TEXT, age INTEGER)"))
    # Remembered for this dataset version: no catalog queries on the department's database.
    assert unit_is_unique_cached(engine, "src_a", "people", "id", "ds_1@v1")
    # A registration or update (a new dataset version) reads the schema again.
    assert not unit_is_unique_cached(engine, "src_a", "people", "id", "ds_1@v2")
    # Other sources and columns never share an answer.
    assert not unit_is_unique_cached(engine, "src_b", "people", "id", "ds_1@v1")
    assert not unit_is_unique_cached(engine, "src_a", "people", "age", "ds_1@v1")
    engine.dispose()
