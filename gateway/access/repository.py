"""All SQL of casbin rules, the policy epoch and the daily run counts a decision reads."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.access.models import CasbinRule, DailyRuns, PolicyEpoch
from policies.engine import Rule

# Asked on every request (principal cache, decisions): built once, Core on the connection.
_EPOCH = select(PolicyEpoch.__table__.c.epoch).where(PolicyEpoch.__table__.c.id == 1)
_DAILY = cast(Table, DailyRuns.__table__)


class AccessRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def epoch(self) -> int:
        return int(self.session.connection().scalar(_EPOCH) or 0)

    def bump(self) -> None:
        """Lock the epoch row (so rebuilds take turns) and move it on."""
        self.session.execute(
            update(PolicyEpoch).where(PolicyEpoch.id == 1).values(epoch=PolicyEpoch.epoch + 1)
        )

    def replace_rules(self, rules: list[Rule], *, ptype: str | None = None) -> None:
        """Replace every line, or only those of ``ptype``: ``p`` (usage policies), ``g``
        (roles); the two are derived from different tables and never depend on each other."""
        stale = delete(CasbinRule)
        if ptype is not None:
            stale = stale.where(CasbinRule.ptype == ptype)
        self.session.execute(stale)
        if rules:
            self.session.execute(
                insert(CasbinRule),
                [{"ptype": r[0], **{f"v{i}": v for i, v in enumerate(r[1:])}} for r in rules],
            )

    def rules(self) -> list[Rule]:
        # Policy lines first ("p" sorts after "g"), each type in the order it was derived.
        rows = self.session.execute(
            select(
                CasbinRule.ptype, CasbinRule.v0, CasbinRule.v1, CasbinRule.v2, CasbinRule.v3
            ).order_by(CasbinRule.ptype.desc(), CasbinRule.id)
        ).all()
        out: list[Rule] = []
        for ptype, *values in rows:
            width = 4 if ptype == "p" else 3
            out.append((ptype, *values[:width]))
        return out

    # Runs today is a Core statement on the session's connection (runs take their count
    # with one upsert in gateway/runs/repository.py): nothing here needs objects.

    def runs_today(self, app: str, dataset_id: str, purpose: str, day: str) -> int:
        table = _DAILY.c
        stmt = select(table.runs).where(
            table.app == app,
            table.dataset_id == dataset_id,
            table.purpose == purpose,
            table.day == day,
        )
        return int(self.session.connection().scalar(stmt) or 0)
