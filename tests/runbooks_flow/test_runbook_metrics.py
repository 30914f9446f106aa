"""What the runbook checklists show an on-call lead in /metrics: whether steps are used,
fail, are refused, or wait for approval, and for how long.

Clicked through signed Slack requests and reactions, read back from the service's own
/metrics endpoint as Prometheus would scrape it.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import RunningService, StartService
from tests.runbooks_flow.conftest import (
    click,
    ephemerals,
    fire,
    open_checklist,
    step_value,
    until,
    with_runbooks,
)
from tests.runbooks_flow.test_step_approvals import (
    APPROVER,
    OUTSIDER,
    REQUESTER,
    react,
    request_scale,
    settle,
)
from tests.servers.kube_api import KubeApiServer

STEPS = "chatops_runbook_steps_total"
APPROVALS = "chatops_runbook_step_approvals_total"
WAIT = "chatops_runbook_step_approval_wait_seconds"


@pytest.fixture
async def bot(
    sqlite_url: str,
    start_service: StartService,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> RunningService:
    """The bot with the DISK runbook; its clickers are the example config's responders."""
    return await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(bot: RunningService) -> Samples:
    """Every sample /metrics serves, by name and labels."""
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def outcomes(samples: Samples, name: str) -> dict[tuple[str, str], float]:
    """(action, outcome) -> count, for the samples of `name` that are not 0."""
    found: dict[tuple[str, str], float] = {}
    for (sample, labels), count in samples.items():
        if sample == name and count:
            by = dict(labels)
            found[(by["action"], by["outcome"])] = count
    return found


async def test_steps_marked_by_hand_and_run_are_counted_by_action_and_outcome(
    bot: RunningService, emulator: SlackEmulator, kube: KubeApiServer
) -> None:
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)
    # Opening it again refreshes the same checklist: still one opened.
    await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "done", step_value(checklist, "clean-up"))
    await click(emulator, checklist, "skip", step_value(checklist, "scale-out"))
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: kube.requests)
    await bot.settle()

    samples = await scrape(bot)
    assert value(samples, "chatops_runbook_checklists_opened_total") == 1
    assert outcomes(samples, STEPS) == {
        ("none", "done"): 1,
        ("k8s.scale", "skipped"): 1,
        ("k8s.pods", "succeeded"): 1,
    }
    assert outcomes(samples, APPROVALS) == {}


async def test_a_step_whose_api_call_fails_counts_as_failed(
    bot: RunningService, emulator: SlackEmulator, kube: KubeApiServer
) -> None:
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)
    kube.inject_error("GET", "/api/v1/namespaces/prod/pods", 503, times=10)

    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: kube.requests)
    await bot.settle()

    assert outcomes(await scrape(bot), STEPS) == {("k8s.pods", "failed"): 1}


async def test_an_approved_step_counts_its_request_its_wait_for_quorum_and_its_run(
    bot: RunningService, emulator: SlackEmulator, kube: KubeApiServer
) -> None:
    _alert, _checklist, request = await request_scale(bot, emulator)

    waiting = await scrape(bot)
    assert outcomes(waiting, APPROVALS) == {("k8s.scale", "requested"): 1}
    assert outcomes(waiting, STEPS) == {}  # nothing settled while it waits

    bot.clock.advance(90)
    await react(bot, emulator, request, APPROVER)

    samples = await scrape(bot)
    assert outcomes(samples, APPROVALS) == {
        ("k8s.scale", "requested"): 1,
        ("k8s.scale", "approved"): 1,
    }
    assert value(samples, f"{WAIT}_count", action="k8s.scale") == 1
    assert value(samples, f"{WAIT}_sum", action="k8s.scale") == 90
    assert value(samples, f"{WAIT}_bucket", action="k8s.scale", le="60.0") == 0
    assert value(samples, f"{WAIT}_bucket", action="k8s.scale", le="120.0") == 1
    assert outcomes(samples, STEPS) == {("k8s.scale", "succeeded"): 1}


async def test_rejected_and_expired_approval_requests_are_counted_without_a_wait(
    bot: RunningService, emulator: SlackEmulator, kube: KubeApiServer
) -> None:
    _alert, checklist, request = await request_scale(bot, emulator)
    await react(bot, emulator, request, APPROVER, reaction="x")
    # A second request for the same step, which nobody answers in time.
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user=REQUESTER)
    await settle(bot)
    bot.clock.advance(bot.service.config.deploy.request_ttl.total_seconds() + 1)
    await bot.service.operations.sweep()
    await settle(bot)

    samples = await scrape(bot)
    assert outcomes(samples, APPROVALS) == {
        ("k8s.scale", "requested"): 2,
        ("k8s.scale", "rejected"): 1,
        ("k8s.scale", "expired"): 1,
    }
    assert value(samples, f"{WAIT}_count", action="k8s.scale") == 0
    assert outcomes(samples, STEPS) == {}


async def test_refused_runs_and_clicks_by_someone_not_on_call_are_counted(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir, scale_max=3)
    section = config.runbooks.model_copy(update={"oncall": ["S0000ONCAL"]})
    bot = await start_service(sqlite_url, config=config.model_copy(update={"runbooks": section}))
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "run", step_value(checklist, "check-pods"), user=OUTSIDER)
    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=OUTSIDER)
    await until(bot, lambda: len(ephemerals(emulator, OUTSIDER)) == 2)
    # 5 replicas is above runbooks.scale_max: refused before any approval is asked.
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user=REQUESTER)
    await until(bot, lambda: ephemerals(emulator, REQUESTER))

    samples = await scrape(bot)
    assert outcomes(samples, STEPS) == {
        ("k8s.pods", "not_allowed"): 1,
        ("none", "not_allowed"): 1,
        ("k8s.scale", "refused"): 1,
    }
    assert outcomes(samples, APPROVALS) == {}
    assert not kube.requests


async def test_a_decision_whose_transaction_rolls_back_counts_nothing(
    bot: RunningService,
) -> None:
    counts, sessions = bot.service.runbooks.counts, bot.service.sessions

    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            counts.step(session, "k8s.pods", "succeeded")
            raise RuntimeError("the click's transaction failed after deciding")
    async with sessions.begin() as session:
        counts.step(session, "k8s.pods", "failed")
    assert outcomes(await scrape(bot), STEPS) == {("k8s.pods", "failed"): 1}
