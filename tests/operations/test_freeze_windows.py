"""Freeze windows (`deploy.freezes`): a /deploy or /shift asked inside one is refused the
moment it is posted, one approved before the window opened is re-checked before it runs,
and /rollback is never frozen. Through the service, with the dryrun backend and a fake
clock in a time zone with daylight saving time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Config, ConfigError, parse_config
from bot.sandbox.emulator import SlackEmulator
from commands.freeze_windows import FreezeWindowConfig, in_force, next_window
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, DEPLOYER, Flow

WEEKEND = FreezeWindowConfig(
    name="Weekend freeze",
    when="fri 16:00 - mon 08:00",
    timezone="Europe/Madrid",
    environments=["production"],
)


def frozen_config(config: Config, *windows: FreezeWindowConfig) -> Config:
    deploy = config.deploy.model_copy(update={"freezes": list(windows)})
    return config.model_copy(update={"deploy": deploy})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_weekend_freeze_refuses_deploys_re_checks_approved_shifts_and_lets_rollbacks_run(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    # Thursday 2 July 2026, 12:00 in Madrid (summer time, UTC+2).
    clock = FakeClock(utc(2026, 7, 2, 10, 0))
    bot = await start_service(
        sqlite_url, config=frozen_config(example_config, WEEKEND), clock=clock
    )
    flow = Flow(bot, emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    clock.advance(timedelta(minutes=10))
    await flow.sweep()

    # Friday 15:55 in Madrid: asked before the window, approved once it is open.
    clock.advance(utc(2026, 7, 3, 13, 55) - clock.now())
    await flow.command("/shift", "50 api production")
    shift = flow.latest().ts
    assert "Pending" in flow.header(shift)
    clock.advance(timedelta(minutes=10))  # 16:05 local
    for approver in APPROVERS:
        await flow.react(shift, approver)
    assert "Failed" in flow.header(shift), flow.text(shift)
    assert "Weekend freeze, until Mon 06 Jul 08:00 Europe/Madrid" in flow.text(shift)
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}

    # Saturday: a rollback runs (the way out of a frozen weekend is never frozen) ...
    clock.advance(timedelta(days=1))
    rollback = await flow.request_and_approve("/rollback", "api production")
    assert "Frozen" not in flow.text(rollback)
    assert "Succeeded" in flow.header(rollback)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}

    # ... a deploy to production is refused as it is posted; staging is not frozen.
    await flow.command("/deploy", "api v1.5.0 production")
    deploy = flow.latest().ts
    text = flow.text(deploy)
    assert "Failed" in flow.header(deploy) and "v1.5.0" in flow.header(deploy)
    assert "Frozen" in text and "Weekend freeze, until Mon 06 Jul 08:00" in text
    assert "--force" in text and "3 approvals (1 more than usual)" in text
    assert "Approve with" not in text
    await flow.command("/deploy", "api v1.5.0 staging")
    assert "Pending" in flow.header(flow.latest().ts)

    await flow.command("/deploy", "status api production")
    answer = flow.ephemerals_for(DEPLOYER)[-1]
    assert "Frozen:* Weekend freeze, until Mon 06 Jul 08:00 Europe/Madrid" in answer

    # Monday 08:00 in Madrid: open again.
    clock.advance(utc(2026, 7, 6, 6, 0) - clock.now())
    await flow.command("/deploy", "api v1.5.0 production")
    assert "Pending" in flow.header(flow.latest().ts)


def test_a_recurring_window_follows_daylight_saving_time() -> None:
    # Summer (UTC+2): Friday 16:00 local is 14:00 UTC.
    assert in_force([WEEKEND], "api", "production", utc(2026, 7, 3, 13, 59)) is None
    assert in_force([WEEKEND], "api", "production", utc(2026, 7, 3, 14, 0)) is not None
    # Winter (UTC+1): 15:00 UTC.
    assert in_force([WEEKEND], "api", "production", utc(2026, 1, 9, 14, 59)) is None
    assert in_force([WEEKEND], "api", "production", utc(2026, 1, 9, 15, 0)) is not None
    # The weekend the clocks go forward (29 March 2026): starts 16:00 CET, ends 08:00 CEST.
    found = in_force([WEEKEND], "api", "production", utc(2026, 3, 28, 12, 0))
    assert found is not None
    assert (found.start, found.end) == (utc(2026, 3, 27, 15, 0), utc(2026, 3, 30, 6, 0))
    assert in_force([WEEKEND], "api", "staging", utc(2026, 3, 28, 12, 0)) is None
    upcoming = next_window([WEEKEND], "api", "production", utc(2026, 3, 30, 7, 0))
    assert upcoming is not None and upcoming.start == utc(2026, 4, 3, 14, 0)


def test_a_dated_window_includes_its_last_day() -> None:
    holidays = FreezeWindowConfig(name="Holidays", when="2026-12-24 - 2027-01-02")
    assert in_force([holidays], "api", "staging", utc(2026, 12, 23, 23, 59)) is None
    assert in_force([holidays], "web", "production", utc(2026, 12, 24, 0, 0)) is not None
    assert in_force([holidays], "api", "staging", utc(2027, 1, 2, 23, 59)) is not None
    assert in_force([holidays], "api", "staging", utc(2027, 1, 3, 0, 0)) is None


CONFIG = """\
alerts:
  routes:
    - channel: C0000ALERT
deploy:
  services:
    api:
      channel: C0000DEPLY
      environments: {{staging: {{}}, production: {{}}}}
  freezes:
{windows}
"""


@pytest.mark.parametrize(
    ("windows", "says"),
    [
        (
            "    - {name: x, when: 'fri 16:00 - mon 08:00', timezone: Mars/Olympus}",
            "unknown time zone 'Mars/Olympus'",
        ),
        ("    - {name: x, when: '2027-01-02 - 2026-12-24'}", "ends before it starts"),
        ("    - {name: x, when: 'friday afternoon'}", "write it like `fri 16:00 - mon 08:00`"),
        ("    - {name: x, when: 'fri 25:00 - mon 08:00'}", "is not a time of day"),
        (
            "    - {name: x, when: 'fri 16:00 - mon 08:00', services: [billing]}",
            "deploy.freezes.0.services: unknown service 'billing'",
        ),
        (
            "    - {name: x, when: 'fri 16:00 - mon 08:00', environments: [prod]}",
            "no service has an environment 'prod'",
        ),
        (
            "    - {name: a, when: '2026-12-20 - 2026-12-28'}\n    - {name: b, when: '2026-12-24 - 2027-01-02'}",
            "deploy.freezes.0 (a) and deploy.freezes.1 (b) overlap",
        ),
    ],
)
def test_check_config_names_bad_windows_with_their_key_and_line(windows: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(windows=windows))
    [problem] = caught.value.problems
    assert says in problem and problem.startswith("line "), problem


def test_a_holiday_freeze_over_a_weekend_freeze_is_not_an_overlap() -> None:
    windows = (
        "    - {name: weekend, when: 'fri 16:00 - mon 08:00'}\n"
        "    - {name: holidays, when: '2026-12-24 - 2027-01-02'}"
    )
    config = parse_config(CONFIG.format(windows=windows))
    assert [w.name for w in config.deploy.freezes] == ["weekend", "holidays"]
