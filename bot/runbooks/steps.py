"""The runbook use cases behind the Slack buttons: open the checklist, Done, Skip, Run.

Every click re-reads the alert group and its progress from the database (the message may
be stale, or belong to another alert), writes an audit event with the user, and queues
the Slack changes through the outbox in the same transaction. Run validates every
parameter before anything happens; steps that change things stop at the approval
boundary (bot/runbooks/approvals.py: an approval request by reaction), read-only ones run
at once. Run, Done and Skip are for `runbooks.oncall`, else for the alert's responders
(those who may Acknowledge it); anyone else is refused and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.steps.registry import StepContext, StepOutcome, StepRegistry
from alerts.runbooks import (
    ButtonError,
    Runbook,
    RunbookSet,
    Step,
    TemplateError,
    is_complete,
    parse_step_button,
    parse_step_click,
    render_checklist,
    render_refusal,
    render_summary,
    resolve_action,
)
from alerts.runbooks import messages as rm
from alerts.runbooks.render import FINISHED, StepButton, state_of
from alerts.runbooks.specs import K8sScaleParams, ParamsError, UnknownActionError, validate_scale
from alerts.runbooks.targets import TargetScope, labels_needed, outside_allow_list
from alerts.slack_text import escape
from bot.alerts.groups import message_key, priority_rank
from bot.audit import trail
from bot.clock import Clock
from bot.runbooks import messages as m
from bot.runbooks.approvals import StepApprovalRequest, StepApprovals
from bot.runbooks.models import RunbookChecklist
from bot.runbooks.store import (
    alert_data,
    alert_message,
    checklist_key,
    checklist_of,
    group_of_key,
    progress_of,
    set_step,
)
from bot.slack.clicks import message_key_at
from bot.slack.outbox_queue import enqueue
from bot.storage.models import AlertGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What the clicker alone is told (empty: nothing; the thread shows the result)."""

    ok: bool
    ephemeral: str = ""


@dataclass(frozen=True)
class _Run:
    group_id: int
    step: Step
    runbook: Runbook
    params: Any
    context: StepContext


class RunbookSteps:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        runbooks: RunbookSet,
        registry: StepRegistry,
        approvals: StepApprovals,
        *,
        scale_max: int,
        may_run: Callable[[str, int], Awaitable[bool]] | None = None,
        scope_of: Callable[[Mapping[str, str]], TargetScope] | None = None,
        workload_labels: Callable[[str, str], Awaitable[dict[str, str] | None]] | None = None,
    ) -> None:
        """`may_run(user, group_id)`: whether `user` may click Run, Done and Skip on that
        group's checklist (None: everyone may). `scope_of(labels)`: what alert data may pick
        for a group with those labels (None: nothing). `workload_labels(namespace, name)`: a
        Deployment's labels, for label-selector allow-lists (None: names only)."""
        self.scope_of = scope_of or (lambda _labels: TargetScope({}, ()))
        self.workload_labels = workload_labels
        self.sessions = sessions
        self.may_run = may_run
        self.clock = clock
        self.runbooks = runbooks
        self.registry = registry
        self.approvals = approvals
        self.scale_max = scale_max

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
                self._audit(session, group, user, "runbook.reopened", runbook, now)
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
            self._audit(session, group, user, "runbook.opened", runbook, now)
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
            return Answer(False, rm.BUTTON_INVALID)
        now = self.clock.now()
        # Done and Skip say "handled" on the checklist everyone follows: the same people
        # as Run.
        if self.may_run is not None and not await self.may_run(user, button.alert_group_id):
            async with self.sessions.begin() as session:
                trail.record(
                    session,
                    at=now,
                    actor=user,
                    action="runbook.step.refused",
                    subject=f"alert-group:{button.alert_group_id}",
                    runbook=button.runbook_id,
                    version=button.version,
                    step=button.step_id,
                    click=click,
                    reason="not on call or a responder",
                    via="slack",
                )
            return Answer(False, m.NOT_ONCALL)
        run: _Run | None = None
        async with self.sessions.begin() as session:
            refusal = await self._check_message(session, button, channel, message_ts)
            group = await session.get(AlertGroup, button.alert_group_id, with_for_update=True)
            checklist = await checklist_of(session, button.alert_group_id)
            if refusal is None and (group is None or checklist is None):
                refusal = m.UNKNOWN_MESSAGE
            if refusal is not None or group is None or checklist is None:
                if group is not None:
                    self._refused(session, group, user, button, refusal or "", now)
                return Answer(False, refusal or m.UNKNOWN_MESSAGE)
            runbook = self.runbooks.get(checklist.runbook_id)
            if button.runbook_id != checklist.runbook_id:
                self._refused(session, group, user, button, rm.BUTTON_OTHER_ALERT, now)
                return Answer(False, rm.BUTTON_OTHER_ALERT)
            if runbook is None:
                return Answer(False, m.RUNBOOK_GONE.format(id=checklist.runbook_id))
            if button.version != runbook.version:
                checklist.version = runbook.version
                await self._refresh(session, group, checklist, runbook, now)
                text = rm.BUTTON_STALE.format(title=escape(runbook.title))
                self._refused(session, group, user, button, "stale runbook version", now)
                return Answer(False, text)
            step = runbook.step(button.step_id)
            if step is None:
                text = rm.BUTTON_UNKNOWN_STEP.format(
                    title=escape(runbook.title), step=button.step_id
                )
                self._refused(session, group, user, button, "unknown step", now)
                return Answer(False, text)
            progress = await progress_of(session, checklist)
            state = state_of(progress, step.id)
            if state in FINISHED:
                who = progress[step.id][1] or rm.SOMEONE
                text = m.ALREADY_FINISHED.format(state=state, user=f"<@{who}>")
                return Answer(False, text)
            if click in ("done", "skip"):
                new_state = "done" if click == "done" else "skipped"
                await set_step(session, checklist, step.id, state=new_state, user=user, at=now)
                self._audit(
                    session, group, user, f"runbook.step.{new_state}", runbook, now, step=step.id
                )
                await self._refresh(session, group, checklist, runbook, now)
                await self._finish_if_complete(session, group, checklist, runbook, now)
                return Answer(True)
            if state == "running":
                return Answer(False, m.ALREADY_RUNNING)
            prepared = await self._prepare_run(session, group, runbook, step, user, now)
            if isinstance(prepared, Answer):
                return prepared
            run = prepared
            await set_step(session, checklist, step.id, state="running", user=user, at=now)
            self._audit(
                session,
                group,
                user,
                "runbook.step.run",
                runbook,
                now,
                step=step.id,
                type=step.action.type if step.action else "",
                params=_jsonable(run.params),
            )
            await self._refresh(session, group, checklist, runbook, now)
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
            if runbook.version != request.runbook_version:
                return Answer(False, rm.BUTTON_STALE.format(title=escape(runbook.title)))
            step = runbook.step(request.step_id)
            if step is None or step.action is None:
                return Answer(False, m.NOT_RUNNABLE)
            prepared = await self._prepare_run(
                session, group, runbook, step, request.requested_by, now, approved=True
            )
            if isinstance(prepared, Answer):
                return prepared
            if _jsonable(prepared.params) != request.params:
                return Answer(False, rm.BUTTON_STALE.format(title=escape(runbook.title)))
            await set_step(
                session, checklist, step.id, state="running", user=request.requested_by, at=now
            )
            self._audit(
                session,
                group,
                approved_by,
                "runbook.step.run_approved",
                runbook,
                now,
                step=step.id,
                requested_by=request.requested_by,
                params=request.params,
            )
            await self._refresh(session, group, checklist, runbook, now)
        outcome = await self._execute(prepared)
        await self._record_outcome(prepared, outcome, request.requested_by)
        return Answer(outcome.ok)

    # -- helpers ---------------------------------------------------------------------

    async def _check_message(
        self, session: AsyncSession, button: StepButton, channel: str, message_ts: str
    ) -> str | None:
        """Why the clicked message cannot carry this button, or None when it can."""
        key = await message_key_at(session, channel, message_ts)
        clicked_group = group_of_key(key) if key else None
        if clicked_group is None:
            return m.UNKNOWN_MESSAGE
        if clicked_group != button.alert_group_id:
            return rm.BUTTON_OTHER_ALERT
        return None

    async def _prepare_run(
        self,
        session: AsyncSession,
        group: AlertGroup,
        runbook: Runbook,
        step: Step,
        user: str,
        now: datetime,
        *,
        approved: bool = False,
    ) -> _Run | Answer:
        """Fill and validate the step's parameters; refuse (nothing run) or stop at approval."""
        action = step.action
        if action is None:
            return Answer(False, m.NOT_RUNNABLE)
        _, labels, annotations = await alert_data(session, group)
        try:
            params = self._resolve(action.type, action.params, labels, annotations)
        except (TemplateError, ParamsError, UnknownActionError) as exc:
            return Answer(False, self._refuse(session, group, user, runbook, step, str(exc), now))
        spec = self.registry.spec(action.type)
        route_labels = {**group.group_labels, **group.common_labels}
        scope = self.scope_of(route_labels)
        outside = await self._outside(spec.target_params, action.params, params, scope)
        if outside is not None and (spec.changes_things or action.type == "http.check"):
            # Alert data picked the target: the thread shows the refusal to everyone.
            text = self._refuse(session, group, user, runbook, step, outside, now)
            await self._reply(
                session, group, {"text": _clip(text), "blocks": [_section(text)]}, now
            )
            return Answer(False, text)
        context = StepContext(
            alert_group_id=group.id,
            runbook_id=runbook.id,
            step_id=step.id,
            user=user,
            labels=dict(group.group_labels or group.common_labels),
            http_hosts=tuple(scope.http_hosts),
        )
        # Reading pods or logs of a workload alert data picked outside the allow-list
        # shows what should not be shown: it needs the approval a change needs.
        if not approved and (
            self.registry.needs_approval(action.type, step.requires_approval) or outside
        ):
            await self.approvals.request(
                session,
                group,
                StepApprovalRequest(
                    alert_group_id=group.id,
                    channel=group.channel,
                    runbook_id=runbook.id,
                    runbook_version=runbook.version,
                    step_id=step.id,
                    step_title=step.title,
                    action_type=action.type,
                    params=_jsonable(params),
                    requested_by=user,
                    requested_at=now,
                    changes_things=spec.changes_things,
                    requires_approval=step.requires_approval or outside is not None,
                    thread_key=message_key(group),
                ),
            )
            return Answer(False, m.NEEDS_APPROVAL_EPHEMERAL.format(step=escape(step.title)))
        return _Run(group.id, step, runbook, params, context)

    async def _outside(
        self,
        target_params: Sequence[str],
        raw: Mapping[str, Any],
        params: Any,
        scope: TargetScope,
    ) -> str | None:
        """Why alert data may not pick this target, or None; reads the Deployment's labels
        only when a label selector of a listed namespace is all that could allow it."""
        filled = params.model_dump()
        needed = labels_needed(target_params, raw, filled, scope)
        labels = None
        if needed is not None and self.workload_labels is not None:
            labels = await self.workload_labels(*needed)
        return outside_allow_list(target_params, raw, filled, scope, workload_labels=labels)

    def _refuse(
        self,
        session: AsyncSession,
        group: AlertGroup,
        user: str,
        runbook: Runbook,
        step: Step,
        reason: str,
        now: datetime,
    ) -> str:
        """Audit a refused Run; the text that says why, nothing run."""
        self._audit(
            session, group, user, "runbook.step.refused", runbook, now, step=step.id, reason=reason
        )
        return render_refusal(step, reason)

    def _resolve(
        self,
        action_type: str,
        params: dict[str, Any],
        labels: dict[str, str],
        annotations: dict[str, str],
    ) -> Any:
        resolved = resolve_action(action_type, params, labels, annotations, registry=self.registry)
        if isinstance(resolved, K8sScaleParams):
            validate_scale(resolved.replicas, self.scale_max)
        return resolved

    async def _execute(self, run: _Run) -> StepOutcome:
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

    async def _record_outcome(self, run: _Run, outcome: StepOutcome, user: str) -> None:
        now = self.clock.now()
        assert run.step.action is not None
        action_type = run.step.action.type
        async with self.sessions.begin() as session:
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
            await self._reply(
                session, group, {"text": _clip(text), "blocks": [_section(text)]}, now
            )
            self._audit(
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
            await self._finish_if_complete(session, group, checklist, runbook, now)

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
        """Queue the checklist as it is in the database: posted in the thread the first
        time, updated in place after that."""
        progress = await progress_of(session, checklist)
        _, labels, annotations = await alert_data(session, group)
        payload = render_checklist(
            runbook,
            progress,
            alert_group_id=group.id,
            labels=labels,
            annotations=annotations,
            registry=self.registry,
        )
        if thread_ts is not None:
            payload["thread_ts"] = thread_ts
        await enqueue(
            session,
            op="post" if thread_ts is not None else "update",
            channel=group.channel,
            payload=payload,
            message_key=checklist_key(group.id),
            priority=priority_rank(group.priority),
            now=now,
        )

    async def _finish_if_complete(
        self,
        session: AsyncSession,
        group: AlertGroup,
        checklist: RunbookChecklist,
        runbook: Runbook,
        now: datetime,
    ) -> None:
        progress = await progress_of(session, checklist)
        if checklist.finished_at is not None or not is_complete(runbook, progress):
            return
        checklist.finished_at = now
        summary = render_summary(runbook, progress, opened_at=checklist.opened_at, finished_at=now)
        await self._reply(session, group, summary, now)
        self._audit(
            session,
            group,
            trail.SYSTEM,
            "runbook.finished",
            runbook,
            now,
            seconds=int((now - checklist.opened_at).total_seconds()),
        )

    async def _reply(
        self, session: AsyncSession, group: AlertGroup, payload: dict[str, Any], now: datetime
    ) -> None:
        await enqueue(
            session,
            op="reply",
            channel=group.channel,
            payload=payload,
            message_key=message_key(group),
            priority=priority_rank(group.priority),
            now=now,
        )

    def _audit(
        self,
        session: AsyncSession,
        group: AlertGroup,
        user: str,
        action: str,
        runbook: Runbook,
        now: datetime,
        **details: Any,
    ) -> None:
        trail.record(
            session,
            at=now,
            actor=user,
            action=action,
            subject=f"alert-group:{group.id}",
            runbook=runbook.id,
            version=runbook.version,
            via="slack",
            **details,
        )

    def _refused(
        self,
        session: AsyncSession,
        group: AlertGroup,
        user: str,
        button: StepButton,
        reason: str,
        now: datetime,
    ) -> None:
        trail.record(
            session,
            at=now,
            actor=user,
            action="runbook.step.refused",
            subject=f"alert-group:{group.id}",
            runbook=button.runbook_id,
            version=button.version,
            step=button.step_id,
            reason=reason,
            via="slack",
        )


MAX_SECTION = 3000


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SECTION else text[: MAX_SECTION - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _jsonable(params: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = params.model_dump(mode="json")
    return dumped
