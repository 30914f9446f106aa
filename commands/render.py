"""Approval requests and ephemeral answers as Slack-ready plain data (thread progress and
result lines are in progress.py).

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


def version_text(version: str | None) -> str:
    """A colour's version as shown, or a word saying it runs none."""
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
            version=version_text(step.version),
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
        m.VERSION_SAME.format(colour=c, version=version_text(old[c]))
        if old[c] == new[c]
        else m.VERSION_CHANGE.format(
            colour=c, before=version_text(old[c]), after=version_text(new[c])
        )
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
    if request.frozen and status is Outcome.FAILED:
        blocks.extend(_frozen(request, config))

    fallback = m.FALLBACK.format(outcome=status.value, command=command)
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks[:MAX_BLOCKS]}


FORCE_ACTION = "operation.force"
"""The frozen request's button: ask again with `--force`, as the user who clicks."""


def _frozen(request: ApprovalRequest, config: DeployConfig) -> list[Block]:
    target = request.target
    usual = config.services[target.service].environments[target.environment].approvals
    required, extra = usual + config.force_extra_approvals, config.force_extra_approvals
    if request.frozen_window is not None:
        note = m.FROZEN_WINDOW.format(
            window=escape(request.frozen_window),
            target=f"{target.service}/{target.environment}",
            required=required,
            extra=extra,
        )
    else:
        note = m.FROZEN.format(
            service=target.service,
            alerts=_bullets(request.frozen_by),
            required=required,
            extra=extra,
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


# --- What a /rollback's approval message says it cancels -------------------------------


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


def clicks_limited(limit: int, retry_after: timedelta) -> str:
    seconds = max(1, int(retry_after.total_seconds() + 0.999))
    return m.CLICKS_LIMITED.format(limit=limit, seconds=seconds)


def request_posted(channel: str, ttl: timedelta) -> str:
    return m.REQUEST_POSTED.format(channel=channel, ttl=format_duration(ttl))
