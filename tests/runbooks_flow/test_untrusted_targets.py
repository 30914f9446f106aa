"""Alert data cannot pick what a runbook step reaches: targets outside `runbooks.targets`
need approval to be read and are refused for changes; http.check never reaches loopback,
link-local, private or metadata addresses, follows no redirect, and takes a host from alert data only from
`runbooks.http_hosts`. A loopback listener shows that nothing is requested."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from alerts.allow_lists import RouteRunbooks
from bot.config import Config
from bot.sandbox.emulator import Message, SlackEmulator
from bot.storage.models import AuditEvent
from tests.conftest import RunningService, StartService
from tests.runbooks_flow.conftest import (
    CHANNEL,
    click,
    fire,
    open_checklist,
    step_value,
    until,
    with_runbooks,
)
from tests.servers.kube_api import KubeApiServer

PROBE = """---
id: PROBE
title: Probe
applies_to:
  - alertname="Probe"
steps:
  - id: from-annotation
    title: Check the URL the alert names
    detail: d
    action:
      type: http.check
      params: {{url: "http://{{{{ annotations.target }}}}/latest/meta-data/"}}
  - id: localhost
    title: Check the admin endpoint
    detail: d
    action:
      type: http.check
      params: {{url: "http://localhost:{port}/admin/shutdown"}}
  - id: loopback-literal
    title: Check the loopback address
    detail: d
    action:
      type: http.check
      params: {{url: "http://127.0.0.1:{port}/admin/shutdown"}}
  - id: private-literal
    title: Check the cluster-internal service
    detail: d
    action:
      type: http.check
      params: {{url: "http://10.0.0.1:{port}/internal"}}
  - id: redirecting
    title: Check the page that redirects
    detail: d
    action:
      type: http.check
      params: {{url: "http://localhost:{port}/moved", expect_status: 302}}
---

# Probe
"""


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[str]]]:
    """A loopback HTTP server that records every request it receives."""
    received: list[str] = []

    async def record(request: web.Request) -> web.Response:
        received.append(request.path_qs)
        if request.path == "/moved":
            # Back to the same loopback listener: only a followed redirect would reach it.
            raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/latest/meta-data/")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port, received
    await runner.cleanup()


def thread_text(emulator: SlackEmulator, alert_ts: str) -> str:
    return "\n".join(r.text for r in emulator.replies(CHANNEL, alert_ts))


async def audited(bot: RunningService, action: str) -> list[AuditEvent]:
    async with bot.service.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list((await session.scalars(query)).all())


async def test_alert_labels_cannot_point_runbook_steps_at_kube_system(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    kube.add_deployment("kube-system", "coredns", "reg/coredns:v1", labels={"k8s-app": "dns"})
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    outside = {"namespace": "kube-system", "deployment": "coredns"}
    alert = await fire(bot, emulator, labels=outside)
    checklist = await open_checklist(bot, emulator, alert)

    # A change is refused outright, with a note in the thread and an audit event.
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user="U0000APR01")
    await until(bot, lambda: "not in runbooks.targets" in thread_text(emulator, alert.ts))
    [refusal] = await audited(bot, "runbook.step.refused")
    assert "kube-system/coredns" in refusal.details["reason"]

    # Reading pods there needs the approval a change needs: nothing is read meanwhile.
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: "needs approval" in thread_text(emulator, alert.ts))
    assert not kube.requests_for("GET", "kube-system")
    assert not kube.requests_for("PATCH")
    assert "pod(s) of" not in thread_text(emulator, alert.ts)


async def probe_checklist(
    bot: RunningService, emulator: SlackEmulator, annotations: dict[str, str]
) -> tuple[str, Message]:
    """A Probe alert (linked to PROBE by its annotation): its ts and its open checklist."""
    alert = await fire(
        bot,
        emulator,
        group_key='{}:{alertname="Probe"}',
        labels={"alertname": "Probe"},
        annotations={**annotations, "runbook": "PROBE"},
    )
    return alert.ts, await open_checklist(bot, emulator, alert)


async def test_http_check_reaches_no_loopback_address_and_no_host_from_alert_data(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
    listener: tuple[int, list[str]],
) -> None:
    port, received = listener
    (runbook_dir / "PROBE.md").write_text(PROBE.format(port=port))
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    alert_ts, checklist = await probe_checklist(bot, emulator, {"target": f"127.0.0.1:{port}"})
    for step in ("from-annotation", "localhost", "loopback-literal", "private-literal"):
        await click(emulator, checklist, "run", step_value(checklist, step))
    await until(
        bot, lambda: thread_text(emulator, alert_ts).count("was not requested") == 3, timeout=10
    )
    thread = thread_text(emulator, alert_ts)
    assert "not in runbooks.http_hosts" in thread
    assert "resolves to 127.0.0.1" in thread or "resolves to ::1" in thread
    assert "127.0.0.1 is a loopback, link-local, private or metadata address" in thread
    assert "10.0.0.1 is a loopback, link-local, private or metadata address" in thread
    assert received == []


async def allowing_localhost(
    start_service: StartService,
    database_url: str,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
    port: int,
) -> RunningService:
    """A bot with PROBE whose config lists `localhost` in runbooks.http_hosts."""
    (runbook_dir / "PROBE.md").write_text(PROBE.format(port=port))
    config = with_runbooks(example_config, kube, runbook_dir)
    section = config.runbooks.model_copy(update={"http_hosts": ["localhost"]})
    return await start_service(database_url, config=config.model_copy(update={"runbooks": section}))


async def test_a_host_listed_in_http_hosts_is_reached(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
    listener: tuple[int, list[str]],
) -> None:
    port, received = listener
    bot = await allowing_localhost(
        start_service, sqlite_url, example_config, kube, runbook_dir, port
    )
    _, checklist = await probe_checklist(bot, emulator, {})
    await click(emulator, checklist, "run", step_value(checklist, "localhost"))
    await until(bot, lambda: received, timeout=10)
    assert received == ["/admin/shutdown"]


async def test_http_check_follows_no_redirect_even_from_an_allowed_host(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
    listener: tuple[int, list[str]],
) -> None:
    port, received = listener
    bot = await allowing_localhost(
        start_service, sqlite_url, example_config, kube, runbook_dir, port
    )
    alert_ts, checklist = await probe_checklist(bot, emulator, {})
    await click(emulator, checklist, "run", step_value(checklist, "redirecting"))
    await until(bot, lambda: "answered *302*" in thread_text(emulator, alert_ts), timeout=10)
    assert received == ["/moved"]


def with_targets(config: Config, targets: dict[str, list[str]], route: int | None = None) -> Config:
    """`targets` as runbooks.targets, or as route number `route`'s own."""
    if route is None:
        section = config.runbooks.model_copy(update={"targets": targets})
        return config.model_copy(update={"runbooks": section})
    routes = list(config.alerts.routes)
    routes[route] = routes[route].model_copy(update={"runbooks": RouteRunbooks(targets=targets)})
    alerts = config.alerts.model_copy(update={"routes": routes})
    return config.model_copy(update={"alerts": alerts})


async def test_a_label_selector_allows_the_deployments_whose_labels_hold_it(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    # api-blue carries app=api (the kube fixture); a neighbour in the same namespace does not.
    kube.add_deployment("prod", "billing", "reg/billing:v1", labels={"app": "billing"})
    config = with_targets(with_runbooks(example_config, kube, runbook_dir), {"prod": ["app=api"]})
    bot = await start_service(sqlite_url, config=config)

    alert = await fire(bot, emulator)  # prod/api-blue
    checklist = await open_checklist(bot, emulator, alert)
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: "pod(s) of" in thread_text(emulator, alert.ts))

    other = await fire(
        bot, emulator, group_key='{}:{alertname="DiskFull",x="1"}', labels={"deployment": "billing"}
    )
    checklist = await open_checklist(bot, emulator, other)
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user="U0000APR01")
    await until(bot, lambda: "not in runbooks.targets" in thread_text(emulator, other.ts))
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: "needs approval" in thread_text(emulator, other.ts))
    assert "pod(s) of" not in thread_text(emulator, other.ts)
    assert not kube.requests_for("PATCH")


async def test_a_routes_own_targets_replace_the_global_ones_for_its_alerts(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    kube.add_deployment("team-a", "worker", "reg/worker:v1", labels={"app": "worker"})
    # runbooks.targets still lists prod/api-blue; the catch-all route (where the test
    # alerts go) lists only team-a.
    config = with_targets(with_runbooks(example_config, kube, runbook_dir), {"team-a": ["*"]}, 1)
    bot = await start_service(sqlite_url, config=config)

    alert = await fire(bot, emulator)  # prod/api-blue
    checklist = await open_checklist(bot, emulator, alert)
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user="U0000APR01")
    await until(
        bot, lambda: "not in alerts.routes[1].runbooks.targets" in thread_text(emulator, alert.ts)
    )

    ours = await fire(
        bot,
        emulator,
        group_key='{}:{alertname="DiskFull",x="1"}',
        labels={"namespace": "team-a", "deployment": "worker"},
    )
    checklist = await open_checklist(bot, emulator, ours)
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))
    await until(bot, lambda: "pod(s) of" in thread_text(emulator, ours.ts))
    assert not kube.requests_for("PATCH")
