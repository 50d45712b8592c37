"""The console's own reads for every page: principals' display names. Sessions and the
auditor's pages keep theirs in session_repository.py and auditor_repository.py."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.models import Principal


class ConsoleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def display_names(self) -> dict[str, str]:
        """Principal name -> display name, for the principals that have one."""
        rows = self.session.execute(select(Principal.name, Principal.display_name)).all()
        return {name: shown for name, shown in rows if shown}
