"""The runbook use cases behind the Slack buttons: open the checklist, Done, Skip, Run.

Every click re-reads the alert group and its progress from the database (the message may
be stale, or belong to another alert), writes an audit event with the user, and queues
the Slack changes through the outbox in the same transaction. Run validates every
parameter before anything happens (bot/runbooks/prepare.py); steps that change things stop
at the approval boundary (bot/runbooks/approvals.py: an approval request by reaction),
read-only ones run at once. Run, Done and Skip are for `runbooks.oncall`, else for the
alert's responders (those who may Acknowledge it); anyone else is refused and nothing
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.steps.registry import StepOutcome, StepRegistry
from alerts.runbooks import (
    ButtonError,
    Runbook,
    RunbookSet,
    Step,
    parse_step_button,
    parse_step_click,
)
from alerts.runbooks import messages as m
from alerts.runbooks.render import FINISHED, StepButton, state_of
from alerts.runbooks.specs import UnknownActionError
from alerts.slack_text import escape
from bot.clock import Clock
from bot.runbooks.approval_request import StepApprovalRequest, StepApprovals
from bot.runbooks.counts import RunbookCounts, action_of
from bot.runbooks.models import RunbookChecklist
from bot.runbooks.prepare import (
    Answer,
    RunPreparer,
    ScopeOf,
    SilenceBreadth,
    StepRun,
    WorkloadLabels,
)
from bot.runbooks.store import alert_message, checklist_of, group_of_key, progress_of, set_step
from bot.runbooks.thread import (
    finish_if_complete,
    jsonable,
    record,
    record_refused,
    refresh_checklist,
    reply,
    text_payload,
)
from bot.slack.clicks import message_key_at
from bot.storage.models import AlertGroup

__all__ = ["Answer", "RunbookSteps"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Clicked:
    """A click whose message, group, checklist, runbook version and step all check out."""

    group: AlertGroup
    checklist: RunbookChecklist
    runbook: Runbook
    step: Step
    state: str


class RunbookSteps:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        runbooks: RunbookSet,
        registry: StepRegistry,
        approvals: StepApprovals,
        *,
        counts: RunbookCounts,
        scale_max: int,
        may_run: Callable[[str, int], Awaitable[bool]] | None = None,
        scope_of: ScopeOf | None = None,
        workload_labels: WorkloadLabels | None = None,
        silence_breadth: SilenceBreadth | None = None,
    ) -> None:
        """`may_run(user, group_id)`: whether `user` may click Run, Done and Skip on that
        group's checklist (None: everyone may). `counts`: the figures in /metrics. The rest:
        see RunPreparer."""
        self.sessions = sessions
        self.counts = counts
        self.may_run = may_run
        self.clock = clock
        self.runbooks = runbooks
        self.registry = registry
        self.preparer = RunPreparer(
            registry,
            approvals,
            counts=counts,
            scale_max=scale_max,
            scope_of=scope_of,
            workload_labels=workload_labels,
            silence_breadth=silence_breadth,
        )

    # -- the Runbook button on the alert message ------------------------------------

    async def open(self, *, group_id: int, user: str) -> Answer:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            group = await session.get(AlertGroup, group_id, with_for_update=True)
            if group is None or group.runbook_id is None:
                return Answer(False, m.NO_RUNBOOK_LINKED)
            runbook = self.runbooks.get(group.runbook_id)
            if runbook is None:
                return Answer(False, m.RUNBOOK_GONE.format(id=group.runbook_id))
            checklist = await checklist_of(session, group.id)
            if checklist is not None:
                checklist.version = runbook.version
                await self._refresh(session, group, checklist, runbook, now)
                record(session, group, user, "runbook.reopened", runbook, now)
                return Answer(True, m.CHECKLIST_REFRESHED)
            parent = await alert_message(session, group.id)
            if parent is None:
                return Answer(False, m.ALERT_NOT_POSTED)
            checklist = RunbookChecklist(
                alert_group_id=group.id,
                runbook_id=runbook.id,
                version=runbook.version,
                opened_by=user,
                opened_at=now,
            )
            session.add(checklist)
            await session.flush()
            await self._refresh(session, group, checklist, runbook, now, thread_ts=parent.ts)
            record(session, group, user, "runbook.opened", runbook, now)
            self.counts.opened(session)
        return Answer(True)

    # -- Done, Skip and Run on the checklist ----------------------------------------

    async def click(
        self, *, action_id: str, value: str, user: str, channel: str, message_ts: str
    ) -> Answer:
        try:
            click = parse_step_click(action_id)
            button = parse_step_button(value)
        except ButtonError as exc:
            log.info("refused a runbook click: %s", exc)
            return Answer(False, m.BUTTON_INVALID)
        now = self.clock.now()
        # Done and Skip say "handled" on the checklist everyone follows: the same people
        # as Run.
        if self.may_run is not None and not await self.may_run(user, button.alert_group_id):
            async with self.sessions.begin() as session:
                reason = "not on call or a responder"
                record_refused(
                    session, button.alert_group_id, user, button, reason, now, click=click
                )
                runbook = self.runbooks.get(button.runbook_id)
                step = runbook.step(button.step_id) if runbook is not None else None
                self.counts.step(session, action_of(step), "not_allowed")
            return Answer(False, m.NOT_ONCALL)
        run: StepRun | None = None
        async with self.sessions.begin() as session:
            clicked = await self._clicked(session, button, user, channel, message_ts, now)
            if isinstance(clicked, Answer):
                return clicked
            if clicked.state in FINISHED:
                who = (await progress_of(session, clicked.checklist))[clicked.step.id][1]
                text = m.ALREADY_FINISHED.format(state=clicked.state, user=f"<@{who or m.SOMEONE}>")
                return Answer(False, text)
            if click in ("done", "skip"):
                await self._mark(
                    session, clicked, "done" if click == "done" else "skipped", user, now
                )
                return Answer(True)
            if clicked.state == "running":
                return Answer(False, m.ALREADY_RUNNING)
            prepared = await self.preparer.prepare(
                session, clicked.group, clicked.runbook, clicked.step, user, now
            )
            if isinstance(prepared, Answer):
                return prepared
            run = prepared
            await self._start(session, clicked.checklist, run, user, "runbook.step.run", now)
        outcome = await self._execute(run)
        await self._record_outcome(run, outcome, user)
        return Answer(outcome.ok)

    async def run_approved(self, request: StepApprovalRequest, *, approved_by: str) -> Answer:
        """The entry point for the approval flow once a request is approved.

        Re-checks that the runbook is still the version the request was made for and
        re-validates the parameters (labels may have changed), then runs the executor and
        posts the result. Called by the reaction flow (ReactionStepApprovals.approved) on
        quorum; a refusal comes back as a not-ok Answer with its reason, nothing run.
        """
        now = self.clock.now()
        async with self.sessions.begin() as session:
            group = await session.get(AlertGroup, request.alert_group_id, with_for_update=True)
            checklist = await checklist_of(session, request.alert_group_id)
            runbook = self.runbooks.get(request.runbook_id)
            if group is None or checklist is None or runbook is None:
                return Answer(False, m.UNKNOWN_MESSAGE)
            stale = Answer(False, m.BUTTON_STALE.format(title=escape(runbook.title)))
            if runbook.version != request.runbook_version:
                self.counts.step(session, request.action_type, "refused")
                return stale
            step = runbook.step(request.step_id)
            if step is None or step.action is None:
                return Answer(False, m.NOT_RUNNABLE)
            prepared = await self.preparer.prepare(
                session, group, runbook, step, request.requested_by, now, approved=request
            )
            if isinstance(prepared, Answer):
                return prepared
            if jsonable(prepared.params) != request.params:
                self.counts.step(session, request.action_type, "refused")
                return stale
            await self._start(
                session,
                checklist,
                prepared,
                approved_by,
                "runbook.step.run_approved",
                now,
                requested_by=request.requested_by,
            )
        outcome = await self._execute(prepared)
        await self._record_outcome(prepared, outcome, request.requested_by)
        return Answer(outcome.ok)

    # -- helpers ---------------------------------------------------------------------

    async def _clicked(
        self,
        session: AsyncSession,
        button: StepButton,
        user: str,
        channel: str,
        message_ts: str,
        now: datetime,
    ) -> _Clicked | Answer:
        """The click's group, checklist, runbook and step; or why not (audited)."""
        refusal = await _check_message(session, button, channel, message_ts)
        group = await session.get(AlertGroup, button.alert_group_id, with_for_update=True)
        checklist = await checklist_of(session, button.alert_group_id)
        if refusal is not None or group is None or checklist is None:
            if group is not None:
                record_refused(session, group.id, user, button, refusal or m.UNKNOWN_MESSAGE, now)
            return Answer(False, refusal or m.UNKNOWN_MESSAGE)
        runbook = self.runbooks.get(checklist.runbook_id)
        if button.runbook_id != checklist.runbook_id:
            record_refused(session, group.id, user, button, m.BUTTON_OTHER_ALERT, now)
            return Answer(False, m.BUTTON_OTHER_ALERT)
        if runbook is None:
            return Answer(False, m.RUNBOOK_GONE.format(id=checklist.runbook_id))
        if button.version != runbook.version:
            checklist.version = runbook.version
            await self._refresh(session, group, checklist, runbook, now)
            record_refused(session, group.id, user, button, "stale runbook version", now)
            return Answer(False, m.BUTTON_STALE.format(title=escape(runbook.title)))
        step = runbook.step(button.step_id)
        if step is None:
            record_refused(session, group.id, user, button, "unknown step", now)
            title = escape(runbook.title)
            return Answer(False, m.BUTTON_UNKNOWN_STEP.format(title=title, step=button.step_id))
        state = state_of(await progress_of(session, checklist), step.id)
        return _Clicked(group, checklist, runbook, step, state)

    async def _mark(
        self, session: AsyncSession, clicked: _Clicked, state: str, user: str, now: datetime
    ) -> None:
        group, checklist, runbook = clicked.group, clicked.checklist, clicked.runbook
        await set_step(session, checklist, clicked.step.id, state=state, user=user, at=now)
        record(session, group, user, f"runbook.step.{state}", runbook, now, step=clicked.step.id)
        self.counts.step(session, action_of(clicked.step), state)
        await self._refresh(session, group, checklist, runbook, now)
        await finish_if_complete(session, group, checklist, runbook, now)

    async def _start(
        self,
        session: AsyncSession,
        checklist: RunbookChecklist,
        run: StepRun,
        actor: str,
        action: str,
        now: datetime,
        **details: object,
    ) -> None:
        """The step shows as running (by its requester) before the executor is called."""
        requester = str(details.get("requested_by", actor))
        group = await session.get(AlertGroup, run.group_id)
        assert group is not None and run.step.action is not None
        await set_step(session, checklist, run.step.id, state="running", user=requester, at=now)
        record(
            session,
            group,
            actor,
            action,
            run.runbook,
            now,
            step=run.step.id,
            type=run.step.action.type,
            params=jsonable(run.params),
            **details,
        )
        await self._refresh(session, group, checklist, run.runbook, now)

    async def _execute(self, run: StepRun) -> StepOutcome:
        assert run.step.action is not None
        try:
            executor = self.registry.executor(run.step.action.type)
        except UnknownActionError:
            return StepOutcome(False, m.NO_EXECUTOR.format(type=run.step.action.type))
        try:
            return await executor(run.params, run.context)
        except Exception as exc:  # an executor bug must not leave the step "running"
            log.exception("runbook step %s failed unexpectedly", run.step.id)
            return StepOutcome(False, f"unexpected error ({type(exc).__name__})")

    async def _record_outcome(self, run: StepRun, outcome: StepOutcome, user: str) -> None:
        now = self.clock.now()
        assert run.step.action is not None
        action_type = run.step.action.type
        async with self.sessions.begin() as session:
            self.counts.step(session, action_type, "succeeded" if outcome.ok else "failed")
            group = await session.get(AlertGroup, run.group_id, with_for_update=True)
            checklist = await checklist_of(session, run.group_id)
            if group is None or checklist is None:
                return
            state = "done" if outcome.ok else "failed"
            await set_step(
                session, checklist, run.step.id, state=state, user=user, at=now, note=outcome.text
            )
            title = escape(run.step.title)
            if outcome.ok:
                head = m.RUN_OUTPUT.format(step=title, type=action_type, user=user)
                text = f"{head}\n{outcome.text}"
            else:
                text = m.RUN_FAILED.format(
                    step=title, type=action_type, user=user, error=outcome.text
                )
            await reply(session, group, text_payload(text), now)
            record(
                session,
                group,
                user,
                "runbook.step.ran",
                run.runbook,
                now,
                step=run.step.id,
                type=action_type,
                ok=outcome.ok,
            )
            runbook = self.runbooks.get(checklist.runbook_id) or run.runbook
            await self._refresh(session, group, checklist, runbook, now)
            await finish_if_complete(session, group, checklist, runbook, now)

    async def _refresh(
        self,
        session: AsyncSession,
        group: AlertGroup,
        checklist: RunbookChecklist,
        runbook: Runbook,
        now: datetime,
        *,
        thread_ts: str | None = None,
    ) -> None:
        await refresh_checklist(
            session, group, checklist, runbook, now, self.registry, thread_ts=thread_ts
        )


async def _check_message(
    session: AsyncSession, button: StepButton, channel: str, message_ts: str
) -> str | None:
    """Why the clicked message cannot carry this button, or None when it can."""
    key = await message_key_at(session, channel, message_ts)
    clicked_group = group_of_key(key) if key else None
    if clicked_group is None:
        return m.UNKNOWN_MESSAGE
    if clicked_group != button.alert_group_id:
        return m.BUTTON_OTHER_ALERT
    return None
