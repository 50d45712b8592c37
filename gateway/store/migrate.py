"""Run the store's Alembic migrations without an alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway.home import prepare_sqlite_store

# The scripts sit above the domains (gateway/migrations/); the runner only needs their path.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Percent signs in URLs would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    prepare_sqlite_store(url)  # a new SQLite store file is created 0600
    command.upgrade(alembic_config(url), revision)
