"""The same Slack flow through the Kubernetes and AWS backends, and health-check rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from actions.kube.client import api_client_for_host
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.aws.conftest import RUNNING_TASKS, SetupClients, build_infra, build_network
from tests.aws.test_backend import listener_weights, service_task_definition
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, Flow
from tests.servers.kube_api import DEPLOYMENTS, HTTPROUTES, KubeApiServer
from tests.servers.moto_server import MotoServer, credentials_env, running_moto_server

REPO = "registry.example.com/api"


def with_environment(config: Config, name: str, environment: dict[str, Any]) -> Config:
    data = config.model_dump(mode="json")
    data["deploy"]["services"]["api"]["environments"] = {name: environment}
    data["deploy"]["services"]["api"]["default_environment"] = name
    return Config.model_validate(data)


async def approve(flow: Flow, command: str, text: str) -> str:
    await flow.command(command, text)
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0])
    return ts


@pytest.fixture
async def kube() -> AsyncIterator[KubeApiServer]:
    server = KubeApiServer()
    await server.start()
    yield server
    await server.stop()


async def test_deploy_and_shift_through_kubernetes(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
) -> None:
    for colour, version in (("blue", "v1.3.0"), ("green", "v1.2.0")):
        kube.add_deployment(
            "prod", f"api-{colour}", f"{REPO}:{version}", labels={"app": "api", "colour": colour}
        )
    backend_refs = [
        {"name": "api-blue", "port": 8080, "weight": 100},
        {"name": "api-green", "port": 8080, "weight": 0},
    ]
    kube.add_httproute("prod", "api", [{"backendRefs": backend_refs}])
    settings = {"namespace": "prod", "image": REPO, "route": "api", "poll_interval": 0.001}
    config = with_environment(
        example_config,
        "production",
        {"backend": "kubernetes", "approvals": 1, "bake": "0s", "kubernetes": settings},
    )
    bot = await start_service(sqlite_url, config=config)
    bot.service.operations.backends.kube_api = lambda: api_client_for_host(kube.url)
    flow = Flow(bot, emulator)

    deploy = await approve(flow, "/deploy", "api v1.4.0")
    assert "Succeeded" in flow.header(deploy)
    image = kube.get(DEPLOYMENTS, "prod", "api-green")["spec"]["template"]["spec"]["containers"]
    assert image[0]["image"] == f"{REPO}:v1.4.0"

    shift = await approve(flow, "/shift", "10")
    assert "Succeeded" in flow.header(shift)
    refs = kube.get(HTTPROUTES, "prod", "api")["spec"]["rules"][0]["backendRefs"]
    assert {r["name"]: r["weight"] for r in refs} == {"api-blue": 90, "api-green": 10}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with running_moto_server(env={"MOTO_ECS_SERVICE_RUNNING": str(RUNNING_TASKS)}) as server:
        yield server


async def test_deploy_and_shift_through_aws(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    for name, value in credentials_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    clients = SetupClients(moto.client("ec2"), moto.client("elbv2"), moto.client("ecs"))
    infra = build_infra(clients, build_network(clients))
    config = with_environment(
        example_config,
        infra.target.environment,
        {
            "backend": "aws",
            "approvals": 1,
            "bake": "0s",
            "aws": infra.config.model_dump(mode="json"),
        },
    )
    bot = await start_service(sqlite_url, config=config)
    bot.service.operations.backends.aws_endpoint_url = moto.endpoint_url
    flow = Flow(bot, emulator)

    deploy = await approve(flow, "/deploy", "api v1.1.0")
    assert "Succeeded" in flow.header(deploy), flow.thread(deploy)
    green = service_task_definition(clients, infra, "api-green")
    assert green["containerDefinitions"][0]["image"].endswith(":v1.1.0")
    assert listener_weights(clients, infra) == {"blue": 100, "green": 0}

    shift = await approve(flow, "/shift", "10")
    assert "Succeeded" in flow.header(shift), flow.thread(shift)
    assert listener_weights(clients, infra) == {"blue": 90, "green": 10}


async def test_a_failed_health_check_rolls_traffic_back(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
) -> None:
    answer = {"status": 503}

    async def health(_request: web.Request) -> web.Response:
        return web.Response(status=answer["status"])

    app = web.Application()
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        config = with_environment(
            example_config,
            "production",
            {"approvals": 1, "bake": "0s", "health_url": f"http://127.0.0.1:{port}/healthz"},
        )
        flow = Flow(await start_service(sqlite_url, config=config), emulator)
        deploy = await approve(flow, "/deploy", "api v1.4.0")
        assert "Failed" in flow.header(deploy)  # a deploy moves no traffic: nothing to undo
        assert "answered 503" in flow.text(deploy)

        # The service gets healthy: the deploy goes through; then it falls over again.
        answer["status"] = 200
        deploy = await approve(flow, "/deploy", "api v1.4.0")
        assert "Succeeded" in flow.header(deploy)
        answer["status"] = 503

        shift = await approve(flow, "/shift", "10")
        assert "Rolled back" in flow.header(shift)
        assert any("Rolled back automatically" in t for t in flow.thread(shift))
        assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
    finally:
        await runner.cleanup()
