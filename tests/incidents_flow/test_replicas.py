"""Two replicas on one PostgreSQL declaring for the same alert group at the same moment
make one incident and one channel: the unique link decides, whichever commits first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import Config
from bot.incidents.models import Incident, IncidentGroup
from bot.sandbox.emulator import SlackEmulator
from incidents.commands import Declare
from tests.conftest import StartService
from tests.incidents_flow.conftest import ONCALL, p0, p1, settle, with_incidents
from tests.support.databases import fresh_database


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


async def test_declarations_racing_on_two_replicas_make_one_incident_per_group(
    pg_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = with_incidents(example_config, auto_declare=["P0"])
    first = await start_service(pg_url, config=config)
    second = await start_service(pg_url, config=config)
    for index in range(5):
        await first.deliver(p1(group_key=f'{{}}:{{alertname="ApiSlow{index}"}}'))
    await first.settle()

    for group_id in range(1, 6):
        answers = await asyncio.gather(
            first.service.incidents.declare(Declare("API slow", "P1"), ONCALL, group_id=group_id),
            second.service.incidents.declare(Declare("API slow", "P1"), ONCALL, group_id=group_id),
            first.service.incidents.declare(Declare("API slow", "P1"), ONCALL, group_id=group_id),
        )
        assert sum("Declared incident" in a for a in answers) == 1, answers
    # A P0's automatic declaration racing a click on the other replica.
    await first.deliver(p0())
    await asyncio.gather(
        first.service.processor.process_pending(),
        second.service.incidents.declare(Declare("API down", "P0"), ONCALL, group_id=6),
    )
    for _ in range(2):
        await settle(first)
        await settle(second)

    async with first.service.sessions() as session:
        incidents = await session.scalar(select(func.count()).select_from(Incident))
        links = await session.scalar(select(func.count()).select_from(IncidentGroup))
    assert (incidents, links) == (6, 6)
    created = [c for c in emulator.calls("conversations.create") if c.response.get("ok")]
    assert len(created) == 6 == len(emulator.channels.state)
    # Five titles alike: the names taken got -2, -3...
    names = {str(c.response["channel"]["name"]) for c in created}
    slow = "inc-2026-01-01-api-slow"
    assert {slow, f"{slow}-2", f"{slow}-3", f"{slow}-4", f"{slow}-5"} < names
