"""Import target for uvicorn worker processes (settings come from CDG_* variables)."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.api.app import create_app


def app_factory() -> FastAPI:
    return create_app()
