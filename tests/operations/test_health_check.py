"""The per-environment health check: expected status and timeout come from the config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from actions.deploy.health import HealthCheck, HealthCheckFailed
from bot.config import BUNDLED_EXAMPLE, load_config
from commands.parsing import DeployRequest
from commands.plan import OperationPlan, plan_operation
from commands.targets import DeploymentState, Target


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def no_content(_request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/ready", no_content)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_expected_status_and_timeout_are_honoured(server: str) -> None:
    check = HealthCheck()
    await check.check(f"{server}/ready", expected_status=204)
    with pytest.raises(HealthCheckFailed, match="answered 204, expected 200"):
        await check.check(f"{server}/ready")
    with pytest.raises(HealthCheckFailed, match=r"did not answer within 0\.2s"):
        await check.check(f"{server}/slow", timeout=0.2)


def test_the_plan_carries_the_environments_health_settings() -> None:
    config = load_config(BUNDLED_EXAMPLE).deploy
    service = config.services["api"]
    env = service.environments["production"].model_copy(
        update={
            "health_url": "http://api/ready",
            "health_expect_status": 204,
            "health_timeout": __import__("datetime").timedelta(seconds=2),
        }
    )
    services = {"api": service.model_copy(update={"environments": {"production": env}})}
    config = config.model_copy(update={"services": services})
    state = DeploymentState(
        live="blue", versions={"blue": "v1.0.0", "green": None}, weights={"blue": 100, "green": 0}
    )
    plan = plan_operation(DeployRequest(Target("api", "production"), "v1.1.0"), state, config)
    assert isinstance(plan, OperationPlan)
    [check] = [step for step in plan.steps if step.kind == "health_check"]
    assert (check.url, check.expect_status, check.seconds) == ("http://api/ready", 204, 2.0)
    assert OperationPlan.from_dict(plan.to_dict()) == plan  # stored plans keep them
