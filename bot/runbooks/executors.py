"""The executors behind Run, bound per Service to its own step registry.

Each takes the validated parameter model of its type (alerts.runbooks.resolve_action has
already filled and checked it) and returns a channel-neutral StepOutcome whose text the
Slack layer posts in the alert's thread. Failures of the outside world (API errors,
timeouts) become a failed outcome with a message fit for Slack, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from actions.alertmanager import (
    AlertmanagerClient,
    SilenceError,
    equality_matchers,
    silence_breadth,
)
from actions.http_guard import ForbiddenAddress, guarded_session, literal_address_problem
from actions.kube.client import KubeApiError
from actions.kube.operations import KubeConnector, PodSummary
from actions.steps.registry import StepContext, StepOutcome, StepRegistry
from alerts.durations import format_duration
from alerts.runbooks.specs import (
    HttpCheckParams,
    K8sLogsParams,
    K8sPodsParams,
    K8sRestartParams,
    K8sScaleParams,
    SilenceParams,
)
from alerts.silences import matchers_text
from alerts.slack_text import code_block, escape, inline_code
from bot.clock import Clock

SILENCE_TOO_BROAD = (
    "not silenced: a silence on {matchers} would be broader than this alert group ({why}), "
    "and the approval did not confirm that; Run it again to ask for approval of it"
)
# A section block holds 3,000 characters; keep room for the line that introduces it.
MAX_OUTPUT = 2800


def output_block(text: str) -> str:
    """Output of the outside world (logs, tables): escaped, and within a section's size."""
    return code_block(text, limit=MAX_OUTPUT)


async def _guarded(run: Callable[[], Awaitable[StepOutcome]]) -> StepOutcome:
    try:
        return await run()
    except KubeApiError as exc:
        return StepOutcome(False, escape(str(exc)))
    except ValueError as exc:  # KubeOperations re-checks names and counts
        return StepOutcome(False, escape(str(exc)))


def _pods_table(pods: list[PodSummary]) -> str:
    rows = [("NAME", "READY", "STATUS", "RESTARTS", "AGE")]
    for pod in pods:
        age = format_duration(pod.age) if pod.age is not None else "?"
        rows.append((pod.name, pod.ready_text, pod.reason or pod.phase, str(pod.restarts), age))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class K8sPods:
    def __init__(self, kube: KubeConnector, clock: Clock) -> None:
        self._kube, self._clock = kube, clock

    async def __call__(self, params: K8sPodsParams, context: StepContext) -> StepOutcome:
        async def run() -> StepOutcome:
            ops = await self._kube.operations()
            pods = await ops.pods(params.namespace, params.workload, now=self._clock.now())
            where = inline_code(f"{params.namespace}/{params.workload}")
            if not pods:
                return StepOutcome(True, f"Deployment {where} has no pods.")
            return StepOutcome(
                True, f"{len(pods)} pod(s) of {where}:\n{output_block(_pods_table(pods))}"
            )

        return await _guarded(run)


class K8sLogs:
    def __init__(self, kube: KubeConnector) -> None:
        self._kube = kube

    async def __call__(self, params: K8sLogsParams, context: StepContext) -> StepOutcome:
        async def run() -> StepOutcome:
            ops = await self._kube.operations()
            text = await ops.logs(params.namespace, params.workload, params.lines, params.container)
            where = inline_code(f"{params.namespace}/{params.workload}")
            head = f"Last {params.lines} log line(s) of {where}:"
            return StepOutcome(True, f"{head}\n{output_block(text)}")

        return await _guarded(run)


class K8sRestart:
    def __init__(self, kube: KubeConnector, clock: Clock) -> None:
        self._kube, self._clock = kube, clock

    async def __call__(self, params: K8sRestartParams, context: StepContext) -> StepOutcome:
        async def run() -> StepOutcome:
            ops = await self._kube.operations()
            result = await ops.restart(params.namespace, params.deployment, self._clock.now())
            return StepOutcome(
                True,
                f"Rolling restart of `{result.namespace}/{result.deployment}` started "
                f"(restartedAt {result.restarted_at}).",
            )

        return await _guarded(run)


class K8sScale:
    def __init__(self, kube: KubeConnector) -> None:
        self._kube = kube

    async def __call__(self, params: K8sScaleParams, context: StepContext) -> StepOutcome:
        async def run() -> StepOutcome:
            ops = await self._kube.operations()
            result = await ops.scale(params.namespace, params.deployment, params.replicas)
            return StepOutcome(
                True,
                f"Scaled `{result.namespace}/{result.deployment}` from "
                f"{result.old_replicas} to {result.new_replicas} replicas.",
            )

        return await _guarded(run)


class AlertmanagerSilence:
    def __init__(self, alertmanager: Callable[[], AlertmanagerClient | None], clock: Clock) -> None:
        self._alertmanager, self._clock = alertmanager, clock

    async def __call__(self, params: SilenceParams, context: StepContext) -> StepOutcome:
        client = self._alertmanager()
        if client is None:
            return StepOutcome(False, "silencing needs ALERTMANAGER_URL to be set for the bot")
        matchers = equality_matchers(context.labels)
        now = self._clock.now()
        try:
            broader = await silence_breadth(client, context.labels, context.fingerprints)
        except SilenceError as exc:
            return StepOutcome(False, escape(str(exc)))
        shown = matchers_text(matchers)
        if broader is not None and not context.broader_confirmed:
            # Not what the approver saw: alerts outside the group arrived since.
            return StepOutcome(False, SILENCE_TOO_BROAD.format(matchers=shown, why=escape(broader)))
        try:
            silence_id = await client.create_silence(
                matchers,
                starts_at=now,
                ends_at=now + params.duration,
                created_by=f"slack:{context.user}",
                comment=f"Runbook {context.runbook_id} step {context.step_id}",
                covers=context.fingerprints if broader is None else None,
            )
        except SilenceError as exc:
            return StepOutcome(False, escape(str(exc)))
        return StepOutcome(
            True,
            f"Silenced {shown} for {format_duration(params.duration)} (silence `{silence_id}`).",
        )


class HttpCheck:
    """The hosts it may reach on non-global addresses come with each run (StepContext):
    they depend on the alert's route."""

    async def __call__(self, params: HttpCheckParams, context: StepContext) -> StepOutcome:
        started = time.monotonic()
        host = urlsplit(params.url).hostname or ""
        allowed = context.http_hosts
        refused = literal_address_problem(host, allowed)
        if refused is not None:
            return StepOutcome(False, f"{inline_code(params.url)} was not requested: {refused}")
        try:
            timeout = aiohttp.ClientTimeout(total=params.timeout)
            # No redirects: the runbook names the URL it means, and a redirect could lead
            # the bot somewhere the runbook's author did not intend.
            async with (
                guarded_session(allowed, timeout=timeout) as http,
                http.get(params.url, allow_redirects=False) as response,
            ):
                status = response.status
        except ForbiddenAddress as exc:
            return StepOutcome(False, f"{inline_code(params.url)} was not requested: {exc}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            url = inline_code(params.url)
            return StepOutcome(False, f"{url} did not answer ({type(exc).__name__})")
        took = timedelta(seconds=time.monotonic() - started)
        ok = status == params.expect_status
        verdict = "as expected" if ok else f"expected {params.expect_status}"
        millis = took.total_seconds() * 1000
        url = inline_code(params.url)
        return StepOutcome(ok, f"{url} answered *{status}* ({verdict}) in {millis:.0f} ms.")


def bind_executors(
    registry: StepRegistry,
    *,
    kube: KubeConnector,
    alertmanager: Callable[[], AlertmanagerClient | None],
    clock: Clock,
) -> None:
    executors: dict[str, Any] = {
        "k8s.pods": K8sPods(kube, clock),
        "k8s.logs": K8sLogs(kube),
        "k8s.restart": K8sRestart(kube, clock),
        "k8s.scale": K8sScale(kube),
        "alertmanager.silence": AlertmanagerSilence(alertmanager, clock),
        "http.check": HttpCheck(),
    }
    for action_type, executor in executors.items():
        registry.bind(action_type, executor)
