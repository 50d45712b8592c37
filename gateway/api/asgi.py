"""Import target for uvicorn worker processes (settings come from CDG_* variables)."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from gateway.api.app import create_app

# A run allocates thousands of short-lived objects; with the default threshold (700) the
# collector ran every few requests and walked every long-lived object each time it reached
# the older generations (about a tenth of a serving process's CPU under load).
_YOUNG_THRESHOLD = 50_000


def app_factory() -> FastAPI:
    app = create_app()
    # What exists now (modules, routes, settings, the policy engine's tables) lives as long
    # as the process: frozen out of every later collection. Cycles made while serving are
    # still collected.
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, older, oldest)
    return app
