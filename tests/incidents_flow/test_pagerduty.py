"""PagerDuty follows a declared incident: its page's PagerDuty incident is on the summary,
updates become notes written by their author, resolving resolves it there, and PagerDuty
resolving it marks the incident Mitigated, never Resolved."""

from __future__ import annotations

from alerts.config import PagerDutyConfig
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import RunningService, StartService
from tests.escalation.conftest import (  # noqa: F401 (fixture)
    WEBHOOK_SECRET,
    pagerduty_settings,
    pd_server,
)
from tests.incidents_flow.conftest import (
    ONCALL,
    P0_CHANNEL,
    incident_command,
    p0,
    settle,
    summary,
    text_of,
    the_channel,
    told,
    with_incidents,
)
from tests.servers.pagerduty import PagerDutyServer, ServerIncident

EMAIL = "olu@example.com"


async def paged_incident(
    url: str, start_service: StartService, example_config: Config, pd: PagerDutyServer
) -> tuple[RunningService, ServerIncident]:
    config = with_incidents(example_config, auto_declare=["P0"]).model_copy(
        update={"pagerduty": PagerDutyConfig(users={ONCALL: EMAIL})}
    )
    bot = await start_service(url, config=config, **pagerduty_settings(pd))
    await bot.deliver(p0())
    await settle(bot)
    await bot.service.escalation.tick()  # a P0 pages at once
    [incident] = pd.incidents.values()
    await webhook(bot, pd, "incident.triggered", incident)
    await settle(bot)
    return bot, incident


async def webhook(
    bot: RunningService, pd: PagerDutyServer, event: str, incident: ServerIncident
) -> None:
    await pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty", event, pd.webhook_data(incident), WEBHOOK_SECRET
    )


async def test_updates_become_notes_by_their_author_and_resolve_resolves_it_in_pagerduty(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    pd_server: PagerDutyServer,  # noqa: F811
) -> None:
    bot, incident = await paged_incident(sqlite_url, start_service, example_config, pd_server)
    channel = the_channel(emulator)
    assert incident.id in text_of(summary(emulator, channel))

    await incident_command(bot, emulator, "update rolled back api", user=ONCALL, channel=channel)
    assert incident.notes == [(EMAIL, "rolled back api")]
    await incident_command(bot, emulator, "resolve", user=ONCALL, channel=channel)
    assert incident.status == "resolved" and incident.updated_by == [EMAIL]
    assert told(emulator, ONCALL)[-1] == "Done."


async def test_pagerduty_resolving_the_page_marks_the_incident_mitigated_not_resolved(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    pd_server: PagerDutyServer,  # noqa: F811
) -> None:
    bot, incident = await paged_incident(sqlite_url, start_service, example_config, pd_server)
    channel = the_channel(emulator)
    incident.status = "resolved"
    await webhook(bot, pd_server, "incident.resolved", incident)
    await settle(bot)

    shown = text_of(summary(emulator, channel))
    assert "Mitigated" in shown and "Resolved" not in shown.replace("resolved", "")
    assert any("PagerDuty resolved" in m.text for m in emulator.messages(channel))
    assert any("is now *Mitigated*" in m.text for m in emulator.messages(P0_CHANNEL))
    await settle(bot)
    assert sum("PagerDuty resolved" in m.text for m in emulator.messages(channel)) == 1


async def test_a_p0_declared_by_hand_pages_pagerduty_and_resolving_it_resolves_the_page(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    pd_server: PagerDutyServer,  # noqa: F811
) -> None:
    bot = await start_service(
        sqlite_url, config=with_incidents(example_config), **pagerduty_settings(pd_server)
    )
    await incident_command(
        bot, emulator, "declare Checkout is down --severity P0", user=ONCALL, channel=P0_CHANNEL
    )
    await bot.service.escalation.tick()  # the timer holder delivers pages
    [page] = pd_server.incidents.values()
    assert page.dedup_key == "chatops:incident:1" and page.status == "triggered"
    assert page.title == "Incident 1 (P0): Checkout is down"

    channel = the_channel(emulator)
    await incident_command(bot, emulator, "resolve", user=ONCALL, channel=channel)
    await bot.service.escalation.tick()
    assert page.status == "resolved"


async def test_a_p2_declared_by_hand_pages_nobody(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    pd_server: PagerDutyServer,  # noqa: F811
) -> None:
    bot = await start_service(
        sqlite_url, config=with_incidents(example_config), **pagerduty_settings(pd_server)
    )
    await incident_command(
        bot, emulator, "declare Slow search --severity P2", user=ONCALL, channel=P0_CHANNEL
    )
    await bot.service.escalation.tick()
    assert pd_server.incidents == {}
