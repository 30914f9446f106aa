"""What an operation says in its approval request's thread while it runs, and the result
line its approval message ends with, as mrkdwn text. Nothing here calls Slack."""

from __future__ import annotations

from datetime import timedelta

from alerts.durations import format_duration
from alerts.slack_text import escape
from commands import messages as m
from commands.approval import ApprovalRequest
from commands.plan import OperationPlan, describe_state, describe_weights, versions_of, weights_of
from commands.render import describe_step, mentions, plan_command, version_text
from commands.targets import DeploymentState

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
            colour=colour, version=version_text(plan.version), traffic=traffic
        )
    if plan.kind == "rollback":
        colour = plan.baseline.colour
        return m.RESULT_ROLLED_BACK_MANUAL.format(
            colour=colour, version=version_text(versions[colour]), traffic=traffic
        )
    if weights_of(after)[after.live] == 100:
        return m.RESULT_SHIFTED_LIVE.format(
            traffic=traffic, colour=after.live, version=version_text(versions[after.live])
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
