"""AwsBackend against moto's server: state, deploy, shifts, rollback, timeouts, errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from actions.deploy.aws import AwsBackend
from actions.deploy.base import BackendError, RolloutFailed, TemporaryBackendError
from commands.targets import DeploymentState, Target
from tests.aws.conftest import IMAGE, SECRET_ARN, Infra, SetupClients
from tests.servers.moto_server import MotoServer


def listener_weights(clients: SetupClients, infra: Infra) -> dict[str, int]:
    listener = clients.elbv2.describe_listeners(ListenerArns=[infra.config.listener_arn])
    forward = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]
    by_arn = {g["TargetGroupArn"]: g["Weight"] for g in forward["TargetGroups"]}
    return {colour: by_arn[arn] for colour, arn in infra.config.target_groups.items()}


def service_task_definition(clients: SetupClients, infra: Infra, name: str) -> dict[str, Any]:
    service = clients.ecs.describe_services(cluster=infra.config.cluster, services=[name])
    arn = service["services"][0]["taskDefinition"]
    described = clients.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    return {**described["taskDefinition"], "tags": described.get("tags", [])}


def revisions(clients: SetupClients, infra: Infra) -> list[str]:
    listed = clients.ecs.list_task_definitions(familyPrefix=infra.family)
    return list(listed["taskDefinitionArns"])


async def test_state_reads_versions_and_weights(backend: AwsBackend, infra: Infra) -> None:
    state = await backend.state(infra.target)

    assert state == DeploymentState(
        live="blue",
        versions={"blue": "v1.0.0", "green": "v0.9.0"},
        weights={"blue": 100, "green": 0},
    )


async def test_deploy_registers_a_revision_and_updates_only_that_colour(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    blue_before = service_task_definition(clients, infra, "api-blue")
    green_before = service_task_definition(clients, infra, "api-green")

    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)

    green = service_task_definition(clients, infra, "api-green")
    assert green["revision"] == 3  # green v0.9.0 was 1, blue v1.0.0 was 2
    app, log_router = green["containerDefinitions"]
    assert app["image"] == f"{IMAGE}:v1.1.0"
    # Everything else is carried over from the revision green ran before.
    assert {**app, "image": None} == {**green_before["containerDefinitions"][0], "image": None}
    assert app["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}]
    assert log_router == green_before["containerDefinitions"][1]
    for field in ("family", "cpu", "memory", "networkMode", "executionRoleArn", "tags"):
        assert green[field] == green_before[field], field
    assert green["requiresCompatibilities"] == ["FARGATE"]
    # Blue and the traffic split are untouched.
    assert service_task_definition(clients, infra, "api-blue") == blue_before
    assert listener_weights(clients, infra) == {"blue": 100, "green": 0}
    state = await backend.state(infra.target)
    assert state.versions == {"blue": "v1.0.0", "green": "v1.1.0"}
    assert state.live == "blue"


async def test_redeploying_the_running_version_registers_nothing(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)
    count = len(revisions(clients, infra))

    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)

    assert len(revisions(clients, infra)) == count
    assert (await backend.state(infra.target)).versions["green"] == "v1.1.0"


async def test_shift_steps_set_exact_listener_weights(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)
    expected_live = {10: "blue", 50: "blue", 100: "green"}

    for percent in (10, 50, 100):
        await backend.set_weights(infra.target, {"blue": 100 - percent, "green": percent})

        assert listener_weights(clients, infra) == {"blue": 100 - percent, "green": percent}
        state = await backend.state(infra.target)
        assert state.weights == {"blue": 100 - percent, "green": percent}
        assert state.live == expected_live[percent]

    # The rest of the listener is as it was.
    listener = clients.elbv2.describe_listeners(ListenerArns=[infra.config.listener_arn])
    listener = listener["Listeners"][0]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    stickiness = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"]
    assert stickiness == {"Enabled": True, "DurationSeconds": 300}


async def test_rollback_returns_all_traffic_to_the_previous_colour(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)
    await backend.set_weights(infra.target, {"blue": 50, "green": 50})

    await backend.set_weights(infra.target, {"blue": 100, "green": 0})

    assert listener_weights(clients, infra) == {"blue": 100, "green": 0}
    assert await backend.state(infra.target) == DeploymentState(
        live="blue",
        versions={"blue": "v1.0.0", "green": "v1.1.0"},
        weights={"blue": 100, "green": 0},
    )


@pytest.mark.parametrize(("call_timeout", "config_timeout"), [(0.3, 600.0), (600.0, 0.3)])
async def test_rollout_that_never_completes_fails_after_the_shorter_timeout(
    moto: MotoServer,
    make_infra: Callable[..., Infra],
    clients: SetupClients,
    call_timeout: float,
    config_timeout: float,
) -> None:
    # Three desired tasks where moto only ever runs two: rolloutState stays IN_PROGRESS.
    infra = make_infra(green_desired=3)
    config = infra.config.model_copy(update={"rollout_timeout": config_timeout})
    backend = AwsBackend({infra.target: config}, endpoint_url=moto.endpoint_url)

    started = time.monotonic()
    with pytest.raises(RolloutFailed, match=r"api-green was not healthy after 0\.3s") as failed:
        await backend.deploy(infra.target, "green", "v1.1.0", timeout=call_timeout)

    assert 0.3 <= time.monotonic() - started < 2
    assert "IN_PROGRESS" in str(failed.value)
    # The service was updated; only the wait gave up.
    green = service_task_definition(clients, infra, "api-green")
    assert green["containerDefinitions"][0]["image"] == f"{IMAGE}:v1.1.0"


async def test_aws_error_becomes_backend_error_without_arns(moto: MotoServer, infra: Infra) -> None:
    missing = infra.config.listener_arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    config = infra.config.model_copy(update={"listener_arn": missing})
    backend = AwsBackend({infra.target: config}, endpoint_url=moto.endpoint_url)

    with pytest.raises(BackendError) as raised:
        await backend.set_weights(infra.target, {"blue": 0, "green": 100})

    assert type(raised.value) is BackendError  # not worth retrying
    message = str(raised.value)
    assert message.startswith("AWS elbv2 describe_listeners failed (ListenerNotFound)")
    assert "arn:" not in message


async def test_missing_ecs_service_is_reported_by_name(moto: MotoServer, infra: Infra) -> None:
    services = {"blue": "api-blue", "green": "api-purple"}
    config = infra.config.model_copy(update={"services": services})
    backend = AwsBackend({infra.target: config}, endpoint_url=moto.endpoint_url)

    with pytest.raises(BackendError, match="ECS service api-purple not found in cluster prod-"):
        await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)


async def test_invalid_version_is_refused_before_touching_aws(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    count = len(revisions(clients, infra))

    with pytest.raises(BackendError, match="not a valid image tag"):
        await backend.deploy(infra.target, "green", "v1; rm -rf /", timeout=5)

    assert len(revisions(clients, infra)) == count


async def test_weights_that_do_not_add_up_are_refused(
    backend: AwsBackend, infra: Infra, clients: SetupClients
) -> None:
    with pytest.raises(BackendError, match="add up to 100"):
        await backend.set_weights(infra.target, {"blue": 60, "green": 60})

    assert listener_weights(clients, infra) == {"blue": 100, "green": 0}


async def test_unknown_target_is_a_backend_error(backend: AwsBackend) -> None:
    with pytest.raises(BackendError, match="no AWS configuration for api/staging"):
        await backend.state(Target("api", "staging"))


async def test_unreachable_endpoint_is_temporary(infra: Infra) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there any more: connection refused, which may pass.
    backend = AwsBackend({infra.target: infra.config}, endpoint_url=f"http://127.0.0.1:{port}")

    with pytest.raises(TemporaryBackendError, match="could not reach AWS"):
        await backend.state(infra.target)


async def test_clients_are_created_once_per_service_and_region(
    backend: AwsBackend, infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[tuple[str, str]] = []
    original = boto3.session.Session.client

    def counting(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        created.append((service, kwargs["region_name"]))
        return original(self, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting)

    for _ in range(3):
        await backend.state(infra.target)
    await backend.set_weights(infra.target, {"blue": 90, "green": 10})
    await backend.deploy(infra.target, "green", "v1.1.0", timeout=5)

    assert sorted(created) == [("ecs", "us-east-1"), ("elbv2", "us-east-1")]
