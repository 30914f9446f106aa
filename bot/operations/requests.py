"""Use cases before a run: a slash command becomes an approval request; reactions vote.

Reactions and expiry work for every kind of approval request (bot/operations/kinds.py):
operations, and runbook steps that change things, which the runbook feature registers.

Parsing and the rate limit answer at once (in the command's acknowledgement); deciding
who may deploy and planning need Slack and the backend, so they answer ephemerally
through the outbox a moment later. Nothing is stored for a command that is refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import BackendError
from bot.approvals.ids import SYSTEM, new_request_id, subject
from bot.approvals.kinds import ApprovalKind
from bot.approvals.models import ApprovalRequestRow, SlackEventReceipt
from bot.approvals.store import first_receipt, load_row, request_at
from bot.audit import trail
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.backends import Backends
from bot.operations.kinds import OperationKind
from bot.operations.opening import plan_request, post_new_request
from bot.operations.status import target_status
from bot.operations.store import (
    BLOCKING_PRIORITIES,
    PREEMPTIBLE,
    firing_alerts,
    load_request,
    lock_holder,
)
from bot.slack.usergroups import UserGroupDirectory
from bot.storage.user_limits import SharedUserLimit
from commands import messages as m
from commands.approval import (
    Approval,
    Outcome,
    VoteResult,
    expire,
    freeze,
    groups_to_resolve,
    is_deployer,
    open_request,
    reaction_vote,
    vote,
)
from commands.config import DeployConfig
from commands.freeze_windows import next_note, window_note
from commands.parsing import (
    CommandContext,
    CommandRequest,
    OperationRequest,
    StatusRequest,
    UsageError,
    command_line,
)
from commands.plan import OperationPlan, Refusal, frozen, request_of
from commands.registry import CommandRegistry, Help, default_registry
from commands.render import (
    not_deployer,
    own_approval,
    preempt_line,
    rate_limited,
    refused,
    request_posted,
)
from commands.status import render_status
from commands.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    """A command that parsed; `request` still has to pass authorisation and planning."""

    request: OperationRequest
    user: str
    channel: str


@dataclass(frozen=True)
class StatusQuery:
    """`/deploy status`: answered to `user` alone, nothing to approve."""

    request: StatusRequest
    user: str
    channel: str


class Requests:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        backends: Backends,
        directory: UserGroupDirectory,
        run: Callable[[str], Awaitable[None]],
        registry: CommandRegistry[CommandRequest] | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._backends = backends
        self._directory = directory
        self._run = run
        self.registry = registry or default_registry()
        # Counted in the database: every replica, and the next start, share one budget.
        self.limiter = SharedUserLimit(sessions, "command", config.commands_per_minute)
        self._locks: dict[str, asyncio.Lock] = {}
        self.kinds: dict[str, ApprovalKind] = {}
        self.register(OperationKind(config, directory, run))

    def register(self, kind: ApprovalKind) -> None:
        """Let reactions and the expiry sweep handle requests of `kind.kind`."""
        self.kinds[kind.kind] = kind

    def _kind_of(self, row: ApprovalRequestRow) -> tuple[ApprovalKind, Approval] | None:
        kind = self.kinds.get(row.kind)
        if kind is None:
            log.warning("approval request %s has unknown kind %r", row.id, row.kind)
            return None
        return kind, kind.load(row.data)

    # --- commands ------------------------------------------------------------------

    async def parse(
        self, command: str, text: str, user: str, channel: str
    ) -> Parsed | StatusQuery | str:
        """The typed request, or the text to answer with at once (help, usage, limit)."""
        wait = await self.limiter.check(user, self._clock.now())
        if wait is not None:
            return rate_limited(self.limiter.limit, wait)
        context = CommandContext(user=user, channel=channel, config=self._config)
        try:
            parsed = self.registry.parse(command, text, context)
        except UsageError as error:
            return error.message
        if isinstance(parsed, Help):
            return parsed.text
        if isinstance(parsed, StatusRequest):
            return StatusQuery(parsed, user, channel)
        return Parsed(parsed, user, channel)

    async def status(self, query: StatusQuery) -> None:
        """Answer `/deploy status` to the asker alone."""
        now, freezes = self._clock.now(), self._config.freezes
        statuses = [
            replace(
                await target_status(self._sessions, self._backends, target),
                freeze=window_note(freezes, target.service, target.environment, now),
                next_freeze=next_note(freezes, target.service, target.environment, now),
            )
            for target in query.request.targets
        ]
        await self._tell(query.channel, query.user, render_status(statuses))

    async def request(self, parsed: Parsed) -> None:
        """Authorise and plan; post the approval request, or tell the user why not."""
        request, user, channel = parsed.request, parsed.user, parsed.channel
        target = request.target
        name = command_line(request).split()[0]
        usage = "\n" + m.USAGE_LINE.format(usage=self.registry.usage(name))
        groups = await self._directory.groups_of(user, groups_to_resolve(self._config, target))
        if not is_deployer(self._config, target, user, groups):
            await self._tell(
                channel, user, not_deployer(name, target.service, target.environment) + usage
            )
            return
        try:
            plan = await plan_request(request, self._backends, self._sessions, self._config)
        except BackendError as exc:
            await self._tell(channel, user, refused(str(exc)) + usage)
            return
        if isinstance(plan, Refusal):
            await self._tell(channel, user, refused(plan) + usage)
            return
        now = self._clock.now()
        approval = replace(
            open_request(new_request_id(), plan, user, self._config, now), asked_in=channel
        )
        async with self._sessions.begin() as session:
            blocking = [
                a.line
                for a in await firing_alerts(session, target.service)
                if a.priority in BLOCKING_PRIORITIES
            ]
            window = window_note(self._config.freezes, target.service, target.environment, now)
            reason = frozen(plan, blocking, window)
            if reason is not None:
                blocking = [] if window is not None else blocking
                approval = freeze(approval, blocking, reason, now, window=window)
            elif plan.kind == "rollback":
                approval = replace(approval, preempts=await self._preempts(session, target))
            service_channel = await post_new_request(
                session,
                approval,
                self._config,
                now,
                actor=user,
                command=command_line(request),
                required=approval.required,
            )
            if reason is not None:
                trail.record(
                    session,
                    at=now,
                    actor=SYSTEM,
                    action="operation.frozen",
                    subject=subject(approval.id),
                    alerts=blocking,
                    window=window,
                )
            if channel != service_channel:
                text = request_posted(service_channel, self._config.request_ttl)
                await messaging.tell(session, channel, user, text, now)

    async def _preempts(self, session: AsyncSession, target: Target) -> str | None:
        """The running shift an approved rollback of `target` would cancel, named."""
        holder = await lock_holder(session, target)
        if holder is None or holder.kind not in PREEMPTIBLE:
            return None
        found = await load_request(session, holder.request_id)
        requester = found[1].requester if found is not None else SYSTEM
        plan = OperationPlan.from_dict(holder.plan)
        return preempt_line(plan, requester, holder.status, holder.step, holder.bake_until)

    async def force_again(self, request_id: str, user: str, channel: str, ts: str) -> str | None:
        """The frozen request's button: the same command with `--force`, as `user` typed
        it (authorised, planned and approved like the command). Returns what to tell the
        clicker, or None when a new request was posted (or refused with its reason).

        The button counts only on the message posted for the request its value names."""
        now = self._clock.now()
        async with self._sessions() as session:
            clicked = await request_at(session, channel, ts)
            found = await load_request(session, request_id) if clicked == request_id else None
        if found is None or not found[1].frozen:
            return m.FORCE_NOT_FROZEN
        wait = await self.limiter.check(user, now)
        if wait is not None:
            return rate_limited(self.limiter.limit, wait)
        original = request_of(found[1].operation)
        await self.request(Parsed(replace(original, force=True), user, channel))
        return None

    async def tell(self, channel: str, user: str, text: str) -> None:
        await self._tell(channel, user, text)

    async def _tell(self, channel: str, user: str, text: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await messaging.tell(session, channel, user, text, now)

    # --- reactions -----------------------------------------------------------------

    async def reaction(
        self,
        *,
        event_id: str,
        user: str,
        reaction: str,
        channel: str,
        ts: str,
        added: bool,
    ) -> None:
        if reaction_vote(reaction, self._config) is None or not user:
            return
        async with self._sessions() as session:
            request_id = await request_at(session, channel, ts)
            row = await load_row(session, request_id) if request_id else None
            loaded = self._kind_of(row) if row is not None else None
        if request_id is None or loaded is None:
            return  # not an approval request: reactions there are none of our business
        kind, request = loaded
        approver = await kind.may_approve(request, user)
        lock = self._locks.setdefault(request_id, asyncio.Lock())
        async with lock:
            result = await self._vote(event_id, request_id, user, reaction, added, approver)
        if not lock.locked():
            self._locks.pop(request_id, None)
        if result is VoteResult.APPROVED:
            await kind.approved(request_id)

    async def _vote(
        self, event_id: str, request_id: str, user: str, reaction: str, added: bool, approver: bool
    ) -> VoteResult | None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            if event_id and not await first_receipt(session, event_id, now):
                return None
            row = await load_row(session, request_id, for_update=True)
            found = self._kind_of(row) if row is not None else None
            if row is None or found is None:
                return None
            kind, request = found
            outcome = vote(request, user, reaction, added, now, approver, config=self._config)
            if outcome.changed:
                await kind.show(session, row, outcome.request, now)
            if outcome.notify:
                text = (
                    own_approval(self._config)
                    if outcome.result is VoteResult.OWN_APPROVAL
                    else kind.not_approver_text(outcome.request)
                )
                await messaging.tell(session, row.channel, user, text, now)
            action = kind.audit.get(outcome.result)
            if action is not None:
                trail.record(
                    session,
                    at=now,
                    actor=user if outcome.result is not VoteResult.EXPIRED else SYSTEM,
                    action=action,
                    subject=subject(request_id),
                    reaction=reaction,
                    approvals=len(outcome.request.votes),
                    required=outcome.request.required,
                )
            return outcome.result

    # --- expiry --------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Mark every pending request past its expiry Expired; returns how many."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(ApprovalRequestRow.id).where(
                        ApprovalRequestRow.status == Outcome.PENDING.value,
                        ApprovalRequestRow.expires_at <= now,
                    )
                )
            ).all()
        count = 0
        for request_id in due:
            lock = self._locks.setdefault(request_id, asyncio.Lock())
            async with lock, self._sessions.begin() as session:
                row = await load_row(session, request_id, for_update=True)
                found = self._kind_of(row) if row is not None else None
                if row is None or found is None:
                    continue
                kind, request = found
                expired = expire(request, now)
                if expired is request:
                    continue
                await kind.show(session, row, expired, now)
                trail.record(
                    session,
                    at=now,
                    actor=SYSTEM,
                    action=kind.audit.get(VoteResult.EXPIRED, f"{kind.kind}.expired"),
                    subject=subject(request_id),
                    approvals=len(expired.votes),
                )
                count += 1
            self._locks.pop(request_id, None)
        return count

    async def forget_old_receipts(self, keep_seconds: float = 86400) -> None:
        """Slack retries within minutes; a day of event ids is plenty."""
        cutoff = self._clock.now() - timedelta(seconds=keep_seconds)
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SlackEventReceipt).where(SlackEventReceipt.received_at < cutoff)
            )
