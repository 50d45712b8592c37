"""What the catalogue's services need of the serving process; ``GatewayContext`` provides it.

The process context builds the source engines, so the catalog cannot import the context
back: its services ask for these members (and the log's, since they audit) instead.
"""

from __future__ import annotations

from typing import Protocol

from gateway.access.service import EngineHolder
from gateway.auditlog.log_context import LogContext
from gateway.catalog.engines import SourceEngines


class CatalogContext(LogContext, Protocol):
    @property
    def access(self) -> EngineHolder: ...

    @property
    def engines(self) -> SourceEngines: ...

    @property
    def store_identity(self) -> str | None: ...
