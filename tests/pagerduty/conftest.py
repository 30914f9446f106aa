"""Fixtures for the PagerDuty tests: the stand-in server, an HTTP session, a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.servers.pagerduty import PagerDutyServer

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like a real one
API_TOKEN = "u+TESTTOKEN-not-a-real-one"


class FakeTime:
    """Monotonic seconds that only move when something sleeps on them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)  # yield to other tasks, as a real sleep would


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def routing_key() -> str:
    return ROUTING_KEY


@pytest.fixture
async def pd_server() -> AsyncIterator[PagerDutyServer]:
    async with PagerDutyServer(api_token=API_TOKEN) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
