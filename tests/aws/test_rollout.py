"""deploy()'s wait loop driven through scripted ECS answers.

moto fixes a service's rolloutState when the service is created, so it can show neither
a rollout that progresses from IN_PROGRESS to COMPLETED nor one that FAILS. Here the
backend's AWS client layer is swapped for a script of DescribeServices answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actions.aws.errors import AwsError
from actions.deploy.aws import AwsBackend, AwsTargetConfig
from actions.deploy.base import Backend, BackendError, RolloutFailed
from commands.targets import Target

TARGET = Target("api", "production")
CONFIG = AwsTargetConfig(
    region="eu-west-1",
    cluster="prod",
    services={"blue": "api-blue", "green": "api-green"},
    container="app",
    image="repo/api",
    listener_arn="arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/y/z",
    target_groups={"blue": "arn:tg/blue", "green": "arn:tg/green"},
    poll_interval=0.01,
)


def ecs_service(rollout_state: str, deployment_id: str = "ecs-svc/new") -> dict[str, Any]:
    return {
        "serviceName": "api-green",
        "status": "ACTIVE",
        "taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/api:1",
        "deployments": [
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "rolloutState": rollout_state,
                "rolloutStateReason": f"deployment {rollout_state.lower()}",
                "runningCount": 1,
                "desiredCount": 2,
            }
        ],
    }


class ScriptedAws:
    """Stands in for AwsClients: fixed answers, then one DescribeServices answer per poll."""

    def __init__(self, polls: list[dict[str, Any] | AwsError]) -> None:
        self._polls: Iterator[dict[str, Any] | AwsError] = iter(polls)
        self.calls: list[str] = []

    async def call(self, service: str, region: str, operation: str, /, **params: Any) -> Any:
        self.calls.append(operation)
        if operation == "describe_services":
            if self.calls.count("describe_services") == 1:
                return {"services": [ecs_service("COMPLETED", "ecs-svc/old")]}
            answer = next(self._polls)
            if isinstance(answer, AwsError):
                raise answer
            return {"services": [answer]}
        if operation == "describe_task_definition":
            containers = [{"name": "app", "image": "repo/api:v1"}]
            return {"taskDefinition": {"family": "api", "containerDefinitions": containers}}
        if operation == "register_task_definition":
            return {"taskDefinition": {"taskDefinitionArn": "arn:td/api:2"}}
        if operation == "update_service":
            return {"service": ecs_service("IN_PROGRESS")}
        raise AssertionError(f"unexpected {operation}")

    async def input_members(self, service: str, region: str, operation: str) -> frozenset[str]:
        return frozenset({"family", "containerDefinitions"})


Make = Callable[[list[dict[str, Any] | AwsError]], tuple[Backend, ScriptedAws]]


@pytest.fixture
def make_backend() -> Make:
    def make(polls: list[dict[str, Any] | AwsError]) -> tuple[Backend, ScriptedAws]:
        backend = AwsBackend({TARGET: CONFIG})
        scripted = ScriptedAws(polls)
        backend._aws = scripted  # type: ignore[assignment]
        return backend, scripted

    return make


async def test_deploy_waits_through_in_progress_until_completed(make_backend: Make) -> None:
    backend, aws = make_backend(
        [ecs_service("IN_PROGRESS"), ecs_service("IN_PROGRESS"), ecs_service("COMPLETED")]
    )

    await backend.deploy(TARGET, "green", "v2", timeout=5)

    assert aws.calls.count("describe_services") == 4  # the initial read and three polls


async def test_a_transient_error_while_polling_does_not_abort_the_wait(make_backend: Make) -> None:
    blip = AwsError("AWS ecs describe_services failed (Throttling): slow down", transient=True)
    backend, aws = make_backend([blip, ecs_service("COMPLETED")])

    await backend.deploy(TARGET, "green", "v2", timeout=5)

    assert aws.calls.count("describe_services") == 3


async def test_failed_rollout_fails_at_once_not_at_the_timeout(make_backend: Make) -> None:
    backend, _ = make_backend([ecs_service("IN_PROGRESS"), ecs_service("FAILED")])

    started = time.monotonic()
    with pytest.raises(RolloutFailed, match="api-green: rollout failed: deployment failed"):
        await backend.deploy(TARGET, "green", "v2", timeout=60)

    assert time.monotonic() - started < 1


async def test_a_permanent_error_while_polling_aborts_the_wait(make_backend: Make) -> None:
    denied = AwsError("AWS ecs describe_services failed (AccessDenied): no", transient=False)
    backend, _ = make_backend([denied])

    with pytest.raises(BackendError, match="AccessDenied") as raised:
        await backend.deploy(TARGET, "green", "v2", timeout=60)

    assert type(raised.value) is BackendError  # not Temporary: retrying will not help
