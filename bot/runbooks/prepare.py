"""Turning a Run click (or an approved request) into a run that is safe to hand to an
executor, or into a refusal or an approval request; nothing runs here.

Parameters are filled from the alert and validated; a target that alert data picked is
checked against the allow-list of the alert's route; a silence gets the matchers Silence 1h
would use (the labels the group's alerts share) and, before approval, Alertmanager is asked
whether they reach beyond the group, so that the approver sees it and confirms it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actions.alertmanager import equality_matchers
from actions.steps.registry import StepContext, StepRegistry
from alerts.runbooks import Runbook, Step, TemplateError, render_refusal, resolve_action
from alerts.runbooks import messages as m
from alerts.runbooks.specs import K8sScaleParams, ParamsError, UnknownActionError, validate_scale
from alerts.runbooks.targets import TargetScope, labels_needed, outside_allow_list
from alerts.silences import silence_scope
from alerts.slack_text import escape
from bot.alerts.groups import message_key
from bot.runbooks.approval_request import StepApprovalRequest, StepApprovals
from bot.runbooks.counts import RunbookCounts, action_of
from bot.runbooks.store import alert_data
from bot.runbooks.thread import jsonable, record, reply, text_payload
from bot.storage.models import Alert, AlertGroup

SILENCE = "alertmanager.silence"

ScopeOf = Callable[[Mapping[str, str]], TargetScope]
WorkloadLabels = Callable[[str, str], Awaitable[dict[str, str] | None]]
SilenceBreadth = Callable[[Mapping[str, str], frozenset[str]], Awaitable[str | None]]


@dataclass(frozen=True)
class Answer:
    """What the clicker alone is told (empty: nothing; the thread shows the result)."""

    ok: bool
    ephemeral: str = ""


@dataclass(frozen=True)
class StepRun:
    group_id: int
    step: Step
    runbook: Runbook
    params: Any
    context: StepContext


@dataclass(frozen=True)
class _Silence:
    labels: dict[str, str]
    fingerprints: frozenset[str]
    matchers: tuple[str, ...]


class RunPreparer:
    def __init__(
        self,
        registry: StepRegistry,
        approvals: StepApprovals,
        *,
        counts: RunbookCounts,
        scale_max: int,
        scope_of: ScopeOf | None = None,
        workload_labels: WorkloadLabels | None = None,
        silence_breadth: SilenceBreadth | None = None,
    ) -> None:
        """`scope_of(labels)`: what alert data may pick for a group with those labels (None:
        nothing). `workload_labels(namespace, name)`: a Deployment's labels, for
        label-selector allow-lists. `silence_breadth(labels, fingerprints)`: why a silence
        would reach beyond the group, asked before approval (None: not asked)."""
        self.registry = registry
        self.approvals = approvals
        self.counts = counts
        self.scale_max = scale_max
        self.scope_of = scope_of or (lambda _labels: TargetScope({}, ()))
        self.workload_labels = workload_labels
        self.silence_breadth = silence_breadth

    async def prepare(
        self,
        session: AsyncSession,
        group: AlertGroup,
        runbook: Runbook,
        step: Step,
        user: str,
        now: datetime,
        *,
        approved: StepApprovalRequest | None = None,
    ) -> StepRun | Answer:
        """Fill and validate the step's parameters; refuse (nothing run) or stop at approval.
        `approved`: the request an approver confirmed (then what runs must be what it said)."""
        action = step.action
        if action is None:
            return Answer(False, m.NOT_RUNNABLE)
        _, labels, annotations = await alert_data(session, group)
        try:
            params = self._resolve(action.type, action.params, labels, annotations)
        except (TemplateError, ParamsError, UnknownActionError) as exc:
            return Answer(False, self._refuse(session, group, user, runbook, step, str(exc), now))
        spec = self.registry.spec(action.type)
        scope = self.scope_of({**group.group_labels, **group.common_labels})
        outside = await self._outside(spec.target_params, action.params, params, scope)
        if outside is not None and (spec.changes_things or action.type == "http.check"):
            # Alert data picked the target: the thread shows the refusal to everyone.
            text = self._refuse(session, group, user, runbook, step, outside, now)
            await reply(session, group, text_payload(text), now)
            return Answer(False, text)
        silence = await _silence_of(session, group) if action.type == SILENCE else None
        if approved is not None and silence is not None:
            if silence.matchers != approved.silence_matchers:
                # The group's alerts changed since: the approver confirmed other matchers.
                self.counts.step(session, action.type, "refused")
                return Answer(False, m.SILENCE_CHANGED)
        context = StepContext(
            alert_group_id=group.id,
            runbook_id=runbook.id,
            step_id=step.id,
            user=user,
            labels=silence.labels if silence else labels,
            http_hosts=tuple(scope.http_hosts),
            fingerprints=silence.fingerprints if silence else frozenset(),
            broader_confirmed=bool(approved and approved.broader),
        )
        # Reading pods or logs of a workload alert data picked outside the allow-list
        # shows what should not be shown: it needs the approval a change needs.
        if approved is None and (
            self.registry.needs_approval(action.type, step.requires_approval) or outside
        ):
            await self._ask_approval(
                session, group, runbook, step, params, user, now, outside is not None, silence
            )
            return Answer(False, m.NEEDS_APPROVAL_EPHEMERAL.format(step=escape(step.title)))
        return StepRun(group.id, step, runbook, params, context)

    async def _ask_approval(
        self,
        session: AsyncSession,
        group: AlertGroup,
        runbook: Runbook,
        step: Step,
        params: Any,
        user: str,
        now: datetime,
        outside: bool,
        silence: _Silence | None,
    ) -> None:
        assert step.action is not None
        request = StepApprovalRequest(
            alert_group_id=group.id,
            channel=group.channel,
            runbook_id=runbook.id,
            runbook_version=runbook.version,
            step_id=step.id,
            step_title=step.title,
            action_type=step.action.type,
            params=jsonable(params),
            requested_by=user,
            requested_at=now,
            changes_things=self.registry.spec(step.action.type).changes_things,
            requires_approval=step.requires_approval or outside,
            thread_key=message_key(group),
            **await self._silence_fields(silence),
        )
        await self.approvals.request(session, group, request)

    async def _silence_fields(self, silence: _Silence | None) -> dict[str, Any]:
        if silence is None:
            return {}
        broader = None
        if self.silence_breadth is not None:
            broader = await self.silence_breadth(silence.labels, silence.fingerprints)
        return {"silence_matchers": silence.matchers, "broader": broader or ""}

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
        """Audit and count a refused Run; the text that says why, nothing run."""
        record(
            session, group, user, "runbook.step.refused", runbook, now, step=step.id, reason=reason
        )
        self.counts.step(session, action_of(step), "refused")
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


async def _silence_of(session: AsyncSession, group: AlertGroup) -> _Silence:
    """The matchers Silence 1h would use for the group, and the alerts they must cover."""
    rows = (await session.scalars(select(Alert).where(Alert.group_id == group.id))).all()
    labels, fingerprints = silence_scope(
        ((row.fingerprint, row.labels) for row in rows), group.common_labels
    )
    matchers = tuple(str(matcher) for matcher in equality_matchers(labels))
    return _Silence(labels, fingerprints, matchers)
