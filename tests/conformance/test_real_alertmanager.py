"""Debian's real Alertmanager 0.25 in the configurations that broke intake, end to end.

Each test writes its own Alertmanager config, pushes alerts into Alertmanager's API and
lets Alertmanager build and send the notifications to the bot, as it does in production:
groups of 1,300 alerts with `max_alerts: 0` (bodies over 1 MiB), truncation with
`max_alerts`, and `group_by: ['...']` under a route with a long regex matcher (group keys
over 1,024 characters); then resolve, fire again and repeat. Every notification must be
answered 2xx (Alertmanager logs a failure otherwise) and reach Slack correctly.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import SystemClock
from bot.sandbox.emulator import Message, SlackEmulator
from bot.storage.models import Alert, AlertGroup, OutboxEntry, WebhookDelivery
from tests.conformance.support import button
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService, bolt_listeners_done
from tests.support.alertmanager import RunningAlertmanager, alertmanager

CHANNEL = "C0000ALERT"


def config(
    *, max_alerts: int, group_by: str = "[alertname]", matchers: str = "", repeat: str = "3s"
) -> str:
    """An Alertmanager config; `{url}` and `{token}` are filled in by the fixture."""
    route_matchers = f"\n      matchers: ['{matchers}']" if matchers else ""
    return f"""\
route:
  receiver: blackhole
  routes:
    - receiver: chatops{route_matchers}
      group_by: {group_by}
      group_wait: 1s
      group_interval: 1s
      repeat_interval: {repeat}
receivers:
  - name: blackhole
  - name: chatops
    webhook_configs:
      - url: {{url}}
        send_resolved: true
        max_alerts: {max_alerts}
        http_config:
          authorization:
            type: Bearer
            credentials: {{token}}
"""


def waiting(
    index: int,
    *,
    description: int = 600,
    starts: datetime | None = None,
    resolved: bool = False,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A KubeContainerWaiting alert as kube-prometheus writes it, with a long description."""
    now = datetime.now(UTC)
    pod = f"worker-{index:05d}"
    body: dict[str, Any] = {
        "labels": {
            "alertname": "KubeContainerWaiting",
            "namespace": namespace or f"batch-{index % 40:02d}",
            "pod": pod,
            "container": "app",
            "severity": "warning",
        },
        "annotations": {
            "summary": f"Pod container waiting longer than 1 hour ({pod})",
            "description": (f"pod/{pod} container app has been in waiting state. " * 40)[
                :description
            ],
            "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubecontainerwaiting",
        },
        "generatorURL": "http://prometheus.test:9090/graph?g0.expr=kube_pod_container_status_waiting",
        "startsAt": (starts or now - timedelta(minutes=65)).isoformat(),
    }
    if resolved:
        body["endsAt"] = (now - timedelta(seconds=1)).isoformat()
    return body


async def push(am: RunningAlertmanager, alerts: list[dict[str, Any]]) -> None:
    await am.push(alerts)  # one request, so that the first notification holds them all


def no_failures(am: RunningAlertmanager) -> None:
    log = am.log()
    assert "Notify for alerts failed" not in log, log[-3000:]
    assert "unrecoverable" not in log.lower()


async def deliveries(bot: RunningService) -> list[WebhookDelivery]:
    async with bot.service.sessions() as session:
        return list(
            (await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all()
        )


async def wait_for_delivery(bot: RunningService, outcome: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if any(d.outcome == outcome for d in await deliveries(bot)):
            return
        await asyncio.sleep(0.2)
    outcomes = [d.outcome for d in await deliveries(bot)]
    raise AssertionError(f"no delivery with outcome {outcome!r}: {outcomes}")


async def start_bot(start_service: StartService, sqlite_url: str) -> RunningService:
    return await start_service(sqlite_url, clock=SystemClock(), run_workers=True)


def text_of(message: Message | None) -> str:
    assert message is not None
    return json.dumps(message.blocks, ensure_ascii=False)


async def test_a_group_of_1300_alerts_over_1_mib_with_max_alerts_0(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_bot(start_service, sqlite_url)
    webhook = f"{bot.url}/webhooks/alertmanager"
    async with alertmanager(
        webhook, WEBHOOK_TOKEN, tmp_path, config_template=config(max_alerts=0)
    ) as am:
        await push(am, [waiting(i) for i in range(1300)])
        message = await emulator.wait_for(
            lambda: next(
                (m for m in emulator.messages(CHANNEL) if "1,300 firing / 1,300" in text_of(m)),
                None,
            ),
            timeout=60,
        )
        bodies = [d.body for d in await deliveries(bot)]
        largest = max(bodies, key=lambda b: len(b["alerts"]))
        assert len(largest["alerts"]) == 1300  # max_alerts: 0 sends every alert
        assert len(json.dumps(largest)) > 1024 * 1024  # the old 1 MiB cap refused it

        shown = text_of(message)
        assert "KubeContainerWaiting" in shown
        assert "+1,290 more alert(s)" in shown
        show_all = button(message.blocks, "alert.page")
        assert show_all is not None and show_all["text"]["text"] == "Show all alerts"

        # The thread pages through the rest, one page per click.
        await emulator.send_block_action(
            user="U0000ONC01",
            action_id="alert.page",
            value=show_all["value"],
            channel=CHANNEL,
            message_ts=message.ts,
        )
        await bolt_listeners_done()
        page = await emulator.wait_for(
            lambda: next(iter(emulator.replies(CHANNEL, message.ts)), None), timeout=20
        )
        assert "Alerts 1–100 of 1,300" in text_of(page)
        assert text_of(page).count("KubeContainerWaiting") == 100
        following = button(page.blocks, "alert.page")
        assert following is not None and following["text"]["text"] == "Next 100"
        await emulator.send_block_action(
            user="U0000ONC01",
            action_id="alert.page",
            value=following["value"],
            channel=CHANNEL,
            message_ts=page.ts,
        )
        await bolt_listeners_done()
        second = await emulator.wait_for(
            lambda: next(iter(emulator.replies(CHANNEL, message.ts)[1:]), None), timeout=20
        )
        assert "Alerts 101–200 of 1,300" in text_of(second)

        # Alertmanager repeats the unchanged group: nothing new in Slack.
        await wait_for_delivery(bot, "duplicate")

        # Resolve all, then fire again: the same message, with thread replies.
        await push(am, [waiting(i, resolved=True) for i in range(1300)])
        await emulator.wait_for(
            lambda: any("Resolved after" in r.text for r in emulator.replies(CHANNEL, message.ts)),
            timeout=60,
        )
        assert "RESOLVED" in text_of(emulator.message(CHANNEL, message.ts))
        await push(am, [waiting(i, starts=datetime.now(UTC)) for i in range(1300)])
        await emulator.wait_for(
            lambda: any("Firing again" in r.text for r in emulator.replies(CHANNEL, message.ts)),
            timeout=60,
        )
        assert "FIRING" in text_of(emulator.message(CHANNEL, message.ts))
        assert len(emulator.messages(CHANNEL)) == 1
        assert {d.state for d in await deliveries(bot)} == {"done"}
        no_failures(am)
        rejected = bot.service.metrics.webhook_rejected
        assert not any(s.value for m in rejected.collect() for s in m.samples)


async def test_max_alerts_truncation_of_a_group_over_1_mib(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_bot(start_service, sqlite_url)
    webhook = f"{bot.url}/webhooks/alertmanager"
    async with alertmanager(
        webhook, WEBHOOK_TOKEN, tmp_path, config_template=config(max_alerts=500)
    ) as am:
        await push(am, [waiting(i, description=2000) for i in range(1200)])
        message = await emulator.wait_for(
            lambda: next(
                (m for m in emulator.messages(CHANNEL) if "left out 700" in text_of(m)), None
            ),
            timeout=60,
        )
        bodies = [d.body for d in await deliveries(bot)]
        largest = max(bodies, key=lambda b: b.get("truncatedAlerts", 0))
        assert len(largest["alerts"]) == 500 and largest["truncatedAlerts"] == 700
        assert len(json.dumps(largest)) > 1024 * 1024
        # Alertmanager may have sent a smaller notification while the alerts were arriving;
        # the group holds every alert it was told about.
        async with bot.service.sessions() as session:
            stored = len((await session.scalars(select(Alert.id))).all())
        assert 500 <= stored < 1200
        shown = await emulator.wait_for(
            lambda: next(
                (
                    t
                    for t in [text_of(emulator.message(CHANNEL, message.ts))]
                    if f"{stored:,} firing / {stored:,}" in t
                ),
                None,
            ),
            timeout=30,
        )
        assert f"+{stored - 10:,} more alert(s)" in shown
        assert "Alertmanager left out 700 more alert(s) (max_alerts)" in shown
        no_failures(am)


LONG_NAMESPACES = [f"payments-settlement-production-eu-{i:03d}" for i in range(32)]


async def test_group_keys_over_1024_characters_from_group_by_all_labels(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_bot(start_service, sqlite_url)
    webhook = f"{bot.url}/webhooks/alertmanager"
    matcher = 'namespace=~"' + "|".join(LONG_NAMESPACES) + '"'
    template = config(max_alerts=0, group_by="['...']", matchers=matcher)
    async with alertmanager(webhook, WEBHOOK_TOKEN, tmp_path, config_template=template) as am:
        alerts = [waiting(i, namespace=LONG_NAMESPACES[i]) for i in range(3)]
        await push(am, alerts)
        await emulator.wait_for(lambda: len(emulator.messages(CHANNEL)) == 3, timeout=60)
        async with bot.service.sessions() as session:
            groups = (await session.scalars(select(AlertGroup))).all()
        assert len(groups) == 3
        for group in groups:
            assert group.group_key_text is not None and len(group.group_key_text) > 1024
            assert len(group.group_key) == 64

        # Resolving one finds its group again by key: updated in place, no new message.
        await push(am, [waiting(0, namespace=LONG_NAMESPACES[0], resolved=True)])
        resolved = await emulator.wait_for(
            lambda: next((m for m in emulator.messages(CHANNEL) if "RESOLVED" in text_of(m)), None),
            timeout=60,
        )
        assert LONG_NAMESPACES[0] in text_of(resolved)
        assert len(emulator.messages(CHANNEL)) == 3
        no_failures(am)


async def test_1000_groups_at_once_are_all_accepted_and_shown(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    """`group_by: ['...']` makes every alert its own group: 1,000 notifications at once."""
    bot = await start_bot(start_service, sqlite_url)
    webhook = f"{bot.url}/webhooks/alertmanager"
    template = config(max_alerts=0, group_by="['...']", repeat="1h")
    async with alertmanager(webhook, WEBHOOK_TOKEN, tmp_path, config_template=template) as am:
        await push(am, [waiting(i) for i in range(1000)])
        deadline = asyncio.get_running_loop().time() + 120
        while asyncio.get_running_loop().time() < deadline:
            done = [d for d in await deliveries(bot) if d.state == "done"]
            if len({d.group_key for d in done}) >= 1000:
                break
            await asyncio.sleep(0.5)
        async with bot.service.sessions() as session:
            groups = (await session.scalars(select(AlertGroup))).all()
            posted = set(
                (
                    await session.scalars(
                        select(OutboxEntry.message_key).where(OutboxEntry.op == "post")
                    )
                ).all()
            )
        assert len(groups) == 1000
        # Each group has a message of its own, or is listed in the channel's storm summary.
        unseen = [g.id for g in groups if f"alert-group:{g.id}" not in posted and not g.storm_id]
        assert unseen == []
        if any(g.storm_id for g in groups):
            summary = await emulator.wait_for(
                lambda: next(
                    (m for m in emulator.messages(CHANNEL) if "Alert storm" in m.text), None
                ),
                timeout=30,
            )
            assert "KubeContainerWaiting" in text_of(summary)
        no_failures(am)
