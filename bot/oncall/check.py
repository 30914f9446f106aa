"""`chatops check-config`: schedules in `oncall.schedules` that PagerDuty does not know.

A typo in a schedule id would otherwise show as "PagerDuty did not answer" at the first
/oncall, and as handoffs never announced. With PAGERDUTY_API_TOKEN set each schedule is
read once (`GET /schedules/{id}`); a 404 is a problem named by key and line, anything
else (PagerDuty unreachable, the token refused) a note: the file may be right.
"""

from __future__ import annotations

import asyncio

import aiohttp
import yaml

from actions.pagerduty import PagerError
from actions.pagerduty.oncalls import OnCallsClient
from bot.config import Config, line_of
from bot.settings import Settings

CHECK_TIMEOUT = aiohttp.ClientTimeout(total=10)


def check_schedules(config: Config, text: str, settings: Settings) -> tuple[list[str], list[str]]:
    """(problems, notes)."""
    schedules = config.oncall.schedules
    if not schedules:
        return [], []
    token = settings.pagerduty_api_token
    if token is None or not token.get_secret_value():
        return [], ["note: oncall.schedules not checked against PagerDuty (no PAGERDUTY_API_TOKEN)"]
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return asyncio.run(_check(schedules, root, settings, token.get_secret_value()))


async def _check(
    schedules: dict[str, str], root: yaml.Node | None, settings: Settings, token: str
) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    async with aiohttp.ClientSession() as http:
        client = OnCallsClient(http, settings.pagerduty_api_url, token=token, timeout=CHECK_TIMEOUT)
        for name, schedule_id in schedules.items():
            key = f"oncall.schedules.{name}"
            line = line_of(root, ["oncall", "schedules", name])
            where = f"line {line}: " if line else ""
            try:
                await client.schedule(schedule_id)
            except PagerError as exc:
                if exc.status == 404:
                    problems.append(f"{where}{key}: PagerDuty has no schedule {schedule_id}")
                else:
                    notes.append(f"note: {key} not checked: {exc}")
    return problems, notes
