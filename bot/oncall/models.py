"""The last on-call PagerDuty gave for each schedule or policy, and the last one announced.

`levels` is what /oncall shows when PagerDuty does not answer ("last known ... as of
`fetched_at`") and what alert messages name without asking PagerDuty. `announced` is the
handoff poller's own memory (the people at the first level it last posted about),
compared and updated in the same transaction as the outbox row of the handoff message,
so a handoff is posted once across replicas and restarts. The handoff poller's rows are
keyed `handoff:<schedule id>` (the schedule's own people), /oncall's `schedule:` and
`service:` (every level of the policies behind them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, UtcDateTime


class OnCallSnapshot(Base):
    __tablename__ = "oncall_snapshots"

    # "schedule:PSCHED1" or "policy:PPOLICY1"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    levels: Mapped[list[Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    announced: Mapped[list[Any] | None] = mapped_column(JSON)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The Slack users the on-call user group was last set to (oncall.usergroups).
    usergroup_users: Mapped[list[Any] | None] = mapped_column(JSON)
