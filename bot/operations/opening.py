"""Opening an operation's approval request, the one way for every requester.

A person's /deploy, /shift or /rollback (bot/operations/requests.py) and the bot's own
rollback proposal after a failed bake (`bake_policy: propose`, bot/operations/
bake_outcome.py) both plan against the platform's current state and the last finished
plan's baseline, then store the request, post it to the service's channel and audit it
in one transaction. Doing that in one place keeps a proposed rollback planned, shown and
recorded exactly like a typed one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.approvals.ids import subject
from bot.audit import trail
from bot.operations import messaging
from bot.operations.backends import Backends
from bot.operations.store import add_request, last_baseline
from commands.approval import ApprovalRequest
from commands.config import DeployConfig
from commands.parsing import OperationRequest
from commands.plan import OperationPlan, Refusal, plan_operation


async def plan_request(
    request: OperationRequest,
    backends: Backends,
    sessions: async_sessionmaker[AsyncSession],
    config: DeployConfig,
) -> OperationPlan | Refusal:
    """`request` planned from its target's state now; raises the backend's BackendError
    when that state cannot be read."""
    target = request.target
    state = await backends.for_target(target).state(target)
    async with sessions() as session:
        baseline = await last_baseline(session, target)
    return plan_operation(request, state, config, baseline=baseline)


async def post_new_request(
    session: AsyncSession,
    approval: ApprovalRequest,
    config: DeployConfig,
    now: datetime,
    *,
    actor: str,
    **details: object,
) -> str:
    """Store `approval`, post it to its service's channel and record `operation.requested`
    by `actor` (with `details`) in the caller's transaction; returns that channel."""
    channel = config.services[approval.target.service].channel
    await add_request(session, approval, channel, now)
    await messaging.post_request(session, approval, channel, config, now)
    trail.record(
        session,
        at=now,
        actor=actor,
        action="operation.requested",
        subject=subject(approval.id),
        **details,
    )
    return channel
