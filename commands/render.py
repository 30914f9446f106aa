"""Approval requests, thread progress and ephemeral answers as Slack-ready plain data.

Slack rejects a message with more than 50 blocks or a section over 3,000 characters; a
rejected update would leave an approval message showing a stale outcome word, so every
piece here is clipped to those limits. Nothing here calls Slack: `bot/` posts the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.blocks import mention_markup
from alerts.durations import format_duration
from alerts.slack_text import escape
from commands import messages as m
from commands.approval import FINAL, OPEN, Approval, ApprovalRequest, Outcome, approvers_for
from commands.config import DeployConfig
from commands.parsing import UsageError, command_line
from commands.plan import (
    OperationPlan,
    Refusal,
    Step,
    describe_state,
    describe_weights,
    request_of,
    versions_of,
    weights_of,
)
from commands.targets import COLOURS, DeploymentState, other

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_CONTEXT = 2000
MAX_FALLBACK = 3000
MAX_ALERT_LINE = 200
MAX_ALERTS_SHOWN = 10

Block = dict[str, Any]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT)}]}


def _date(pattern: str, moment: datetime) -> str:
    return pattern.format(
        unix=int(moment.timestamp()), fallback=moment.strftime("%Y-%m-%d %H:%M UTC")
    )


def _version(version: str | None) -> str:
    return escape(version) if version else m.NO_VERSION


def mentions(users: Sequence[str]) -> str:
    return ", ".join(mention_markup(u) for u in users)


def date(moment: datetime) -> str:
    """A moment Slack shows in the reader's time zone."""
    return _date(m.DATE, moment)


def plan_command(plan: OperationPlan) -> str:
    """The exact command, all arguments spelled out: `/shift 10 api production`."""
    return command_line(request_of(plan))


def title(plan: OperationPlan) -> str:
    where = f"{plan.target.service}/{plan.target.environment}"
    if plan.kind == "deploy":
        return m.TITLE_DEPLOY.format(version=plan.version, target=where)
    if plan.kind == "shift":
        colour = other(plan.baseline.colour)
        return m.TITLE_SHIFT.format(percent=plan.percent, target=where, colour=colour)
    return m.TITLE_ROLLBACK.format(target=where, colour=plan.baseline.colour)


def describe_step(step: Step, plan: OperationPlan) -> str:
    if step.kind == "deploy":
        return m.STEP_DEPLOY.format(
            version=_version(step.version),
            colour=step.colour,
            timeout=format_duration(timedelta(seconds=step.seconds or 0)),
        )
    if step.kind == "health_check":
        return m.STEP_HEALTH_CHECK.format(colour=step.colour, url=escape(step.url or ""))
    if step.kind == "set_weights":
        return m.STEP_SET_WEIGHTS.format(traffic=describe_weights(step.weights or {}))
    return m.STEP_BAKE.format(
        duration=format_duration(timedelta(seconds=step.seconds or 0)),
        service=plan.target.service,
    )


def state_change(before: DeploymentState, after: DeploymentState) -> tuple[str, str]:
    """(versions line, traffic line), e.g. `blue 100% -> blue 90% / green 10%`."""
    old, new = versions_of(before), versions_of(after)
    versions = " · ".join(
        m.VERSION_SAME.format(colour=c, version=_version(old[c]))
        if old[c] == new[c]
        else m.VERSION_CHANGE.format(colour=c, before=_version(old[c]), after=_version(new[c]))
        for c in COLOURS
    )
    old_weights, new_weights = weights_of(before), weights_of(after)
    if old_weights == new_weights:
        traffic = m.TRAFFIC_UNCHANGED.format(traffic=describe_weights(old_weights))
    else:
        traffic = f"{describe_weights(old_weights)} -> {describe_weights(new_weights)}"
        if new_weights[after.live] == 100 and old_weights[after.live] != 100:
            traffic += " " + m.BECOMES_LIVE.format(colour=after.live)
    return versions, traffic


def _bullets(alerts: Sequence[str]) -> str:
    shown = [f"• {clip(escape(a), MAX_ALERT_LINE)}" for a in alerts[:MAX_ALERTS_SHOWN]]
    if len(alerts) > MAX_ALERTS_SHOWN:
        shown.append(m.MORE_FIRING.format(count=len(alerts) - MAX_ALERTS_SHOWN))
    return "\n".join(shown)


def _alert_lines(service: str, alerts: Sequence[str]) -> str:
    return m.FIRING_ALERTS.format(service=service, alerts=_bullets(alerts))


def render_approval(
    request: ApprovalRequest, config: DeployConfig, *, firing_alerts: Sequence[str] = ()
) -> dict[str, Any]:
    """The approval message: {"text": fallback, "blocks": [...]}, within Slack's limits.

    `firing_alerts`: short lines for the alerts firing for the service now (may be empty).
    """
    plan, status = request.operation, request.status
    command = plan_command(plan)
    header = m.HEADER.format(icon=m.OUTCOME_ICON[status], outcome=status.value, title=title(plan))
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, MAX_HEADER)}}
    ]
    intro = m.REQUESTED.format(user=request.requester, command=escape(command))
    if plan.force:
        intro += "\n" + m.FORCE_NOTE.format(
            service=plan.target.service, extra=config.force_extra_approvals
        )
    blocks.append(_section(intro))
    versions, traffic = state_change(plan.from_state, plan.to_state)
    blocks.append(
        _section(m.VERSIONS.format(versions=versions) + "\n" + m.TRAFFIC.format(traffic=traffic))
    )

    blocks.append(status_fields(request))

    if firing_alerts:
        blocks.append(_section(_alert_lines(plan.target.service, firing_alerts)))
    steps = "\n".join(f"{i}. {describe_step(s, plan)}" for i, s in enumerate(plan.steps, 1))
    blocks.append(_section(m.STEPS.format(steps=steps)))
    if request.result:
        blocks.append(_section(m.RESULT.format(result=request.result)))
    if status in OPEN:
        if request.preempts:
            blocks.append(_section(m.PREEMPTS.format(operation=request.preempts)))
        blocks.append(_context(_how_to_vote(request, config)))
    if request.frozen_by and status is Outcome.FAILED:
        blocks.extend(_frozen(request, config))

    fallback = m.FALLBACK.format(outcome=status.value, command=command)
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks[:MAX_BLOCKS]}


FORCE_ACTION = "operation.force"
"""The frozen request's button: ask again with `--force`, as the user who clicks."""


def _frozen(request: ApprovalRequest, config: DeployConfig) -> list[Block]:
    target = request.target
    usual = config.services[target.service].environments[target.environment].approvals
    note = m.FROZEN.format(
        service=target.service,
        alerts=_bullets(request.frozen_by),
        required=usual + config.force_extra_approvals,
        extra=config.force_extra_approvals,
    )
    button = {
        "type": "button",
        "action_id": FORCE_ACTION,
        "text": {"type": "plain_text", "text": m.FORCE_BUTTON},
        "value": request.id,
        "style": "danger",
    }
    return [_section(note), {"type": "actions", "elements": [button]}]


def _how_to_vote(request: ApprovalRequest, config: DeployConfig) -> str:
    return how_to_vote(request, config, approvers_for(config, request.target))


def status_fields(request: Approval) -> Block:
    """The votes and the moment that matters (expiry, start, end), for any approval kind."""
    status = request.status
    who = ": " + mentions(request.approved_by) if request.votes else m.APPROVALS_NONE
    fields = [
        m.APPROVALS_FIELD.format(received=len(request.votes), required=request.required, who=who)
    ]
    if request.rejected_by:
        fields.append(m.REJECTED_FIELD.format(user=request.rejected_by))
    if status is Outcome.EXPIRED:
        fields.append(_date(m.EXPIRED_FIELD, request.expires_at))
    elif status in FINAL and request.finished_at:
        fields.append(_date(m.FINISHED_FIELD, request.finished_at))
    elif status is Outcome.PENDING:
        fields.append(_date(m.EXPIRES_FIELD, request.expires_at))
    elif status is Outcome.RUNNING and request.started_at:
        fields.append(_date(m.STARTED_FIELD, request.started_at))
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": clip(f, MAX_FIELD)} for f in fields],
    }


def how_to_vote(
    request: Approval,
    config: DeployConfig,
    approvers: Sequence[str],
    *,
    nobody: str = m.NO_APPROVERS,
) -> str:
    others = [p for p in approvers if p != request.requester]
    text = m.HOW_TO_VOTE.format(
        approve=" or ".join(f":{r}:" for r in config.approve_reactions),
        reject=" or ".join(f":{r}:" for r in config.reject_reactions),
        approvers=mentions(others) or nobody,
    )
    return f"{text} {m.OWN_DOES_NOT_COUNT}"


# --- Thread progress -------------------------------------------------------------------


def progress_started(request: ApprovalRequest) -> str:
    return m.PROGRESS_STARTED.format(
        command=escape(plan_command(request.operation)),
        approvers=mentions(request.approved_by),
    )


def progress_step_started(plan: OperationPlan, index: int) -> str:
    """`index` counts from 1, as people do."""
    step = describe_step(plan.steps[index - 1], plan)
    return m.PROGRESS_STEP_STARTED.format(index=index, total=len(plan.steps), step=step)


def progress_step_finished(
    plan: OperationPlan, index: int, duration: timedelta, *, error: str | None = None
) -> str:
    step = describe_step(plan.steps[index - 1], plan)
    values = {"index": index, "total": len(plan.steps), "step": step}
    if error is None:
        return m.PROGRESS_STEP_DONE.format(duration=format_duration(duration), **values)
    return m.PROGRESS_STEP_FAILED.format(
        duration=format_duration(duration), error=escape(error), **values
    )


def progress_rolled_back(plan: OperationPlan, reason: str) -> str:
    return m.PROGRESS_ROLLED_BACK.format(
        reason=escape(reason), traffic=describe_weights(plan.rollback_weights or {})
    )


def progress_finished(request: ApprovalRequest) -> str:
    return m.PROGRESS_FINISHED.format(
        icon=m.OUTCOME_ICON[request.status],
        outcome=request.status.value,
        result=request.result or "",
    )


def _operation_state(status: str) -> str:
    return {
        "baking": m.STATE_BAKING,
        "bake_failed": m.STATE_BAKE_FAILED,
    }.get(status, m.STATE_RUNNING)


def progress_preempting(plan: OperationPlan, status: str) -> str:
    """In the rollback's thread: which operation it cancelled (`status` as it was)."""
    return m.PROGRESS_PREEMPTING.format(
        command=escape(plan_command(plan)), state=_operation_state(status)
    )


def progress_superseded(rollback: ApprovalRequest, cancelled: OperationPlan) -> str:
    """In the cancelled operation's thread: which rollback took over, and who approved it."""
    return m.PROGRESS_SUPERSEDED.format(
        command=escape(plan_command(rollback.operation)),
        id=rollback.id,
        requester=rollback.requester,
        approvers=mentions(rollback.approved_by),
        kind=cancelled.kind,
    )


def progress_late_step(plan: OperationPlan, index: int, problem: str | None) -> str:
    """A step that was in flight when a rollback took over, and finished after it."""
    step = describe_step(plan.steps[index - 1], plan)
    traffic = describe_weights(plan.rollback_weights or {})
    if problem is None:
        return m.PROGRESS_LATE_STEP.format(index=index, step=step, traffic=traffic)
    return m.PROGRESS_LATE_STEP_FAILED.format(
        index=index, step=step, traffic=traffic, error=escape(problem)
    )


def preempt_line(
    plan: OperationPlan, requester: str, status: str, step: int, bake_until: datetime | None
) -> str:
    """What a /rollback's approval message says it will cancel."""
    if status == "baking" and bake_until is not None:
        state = m.PREEMPT_BAKING.format(until=date(bake_until))
    elif status == "bake_failed":
        state = m.STATE_BAKE_FAILED
    else:
        state = m.PREEMPT_RUNNING.format(index=max(step, 1), total=len(plan.steps))
    return m.PREEMPT_OPERATION.format(
        command=escape(plan_command(plan)), requester=requester, state=state
    )


def progress_interrupted(plan: OperationPlan, index: int, state: DeploymentState) -> str:
    """For start-up: an operation a crash cut off at step `index` (from 1)."""
    return m.PROGRESS_INTERRUPTED.format(
        command=escape(plan_command(plan)),
        index=index,
        total=len(plan.steps),
        step=describe_step(plan.steps[index - 1], plan),
        state=describe_state(state),
    )


# --- Result lines ----------------------------------------------------------------------
# `ApprovalRequest.result` holds mrkdwn that is already escaped, so it is built only here
# (or by `approval.abort` from a `recheck` reason, which escapes its own parts).


def result_succeeded(plan: OperationPlan) -> str:
    after, versions = plan.to_state, versions_of(plan.to_state)
    traffic = describe_weights(weights_of(after))
    if plan.kind == "deploy":
        colour = plan.steps[0].colour
        return m.RESULT_DEPLOYED.format(
            colour=colour, version=_version(plan.version), traffic=traffic
        )
    if plan.kind == "rollback":
        colour = plan.baseline.colour
        return m.RESULT_ROLLED_BACK_MANUAL.format(
            colour=colour, version=_version(versions[colour]), traffic=traffic
        )
    if weights_of(after)[after.live] == 100:
        return m.RESULT_SHIFTED_LIVE.format(
            traffic=traffic, colour=after.live, version=_version(versions[after.live])
        )
    return m.RESULT_SHIFTED.format(traffic=traffic)


def result_failed(plan: OperationPlan, index: int, error: str, traffic_now: DeploymentState) -> str:
    return m.RESULT_FAILED.format(
        step=describe_step(plan.steps[index - 1], plan),
        error=escape(error),
        traffic=describe_weights(weights_of(traffic_now)),
    )


def result_superseded(rollback: ApprovalRequest) -> str:
    return m.RESULT_SUPERSEDED.format(
        command=escape(plan_command(rollback.operation)), id=rollback.id
    )


def result_rolled_back(plan: OperationPlan, reason: str) -> str:
    return m.RESULT_AUTO_ROLLED_BACK.format(
        reason=escape(reason), traffic=describe_weights(plan.rollback_weights or {})
    )


# --- Ephemeral answers -----------------------------------------------------------------


def usage_error(error: UsageError) -> str:
    return error.message


def refused(refusal: Refusal | str) -> str:
    message = refusal.message if isinstance(refusal, Refusal) else refusal
    return m.REFUSED.format(message=message)


def not_approver(request: ApprovalRequest) -> str:
    target = request.target
    return m.NOT_APPROVER.format(target=f"{target.service}/{target.environment}")


def own_approval(config: DeployConfig) -> str:
    return m.OWN_APPROVAL.format(reject=" or ".join(f":{r}:" for r in config.reject_reactions))


def not_deployer(command: str, service: str, environment: str) -> str:
    return m.NOT_DEPLOYER.format(target=f"{service}/{environment}", command=command)


def rate_limited(limit: int, retry_after: timedelta) -> str:
    seconds = max(1, int(retry_after.total_seconds() + 0.999))
    return m.RATE_LIMITED.format(limit=limit, seconds=seconds)


def request_posted(channel: str, ttl: timedelta) -> str:
    return m.REQUEST_POSTED.format(channel=channel, ttl=format_duration(ttl))
