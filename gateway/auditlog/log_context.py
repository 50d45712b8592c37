"""What the log's services need of the serving process; ``GatewayContext`` provides it.

The process context (gateway/context.py) builds the log's writer, so the log cannot
import the context back: its services ask for these members instead.
"""

from __future__ import annotations

from typing import Protocol

from gateway.auditlog.subjects import SubjectRefs
from gateway.auditlog.writer import AuditLog
from gateway.keys import KeyRing
from gateway.settings import Settings
from gateway.store.engine import Store


class LogContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def keyring(self) -> KeyRing: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def subjects(self) -> SubjectRefs: ...
