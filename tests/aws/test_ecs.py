"""The pure ECS helpers: image references, task-definition copies, rollout progress.

rollout_progress is also where FAILED rollouts and the no-rolloutState fallback are shown:
moto never reports FAILED and always reports a rolloutState, so they cannot be reached
through the server.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from actions.aws.ecs import (
    ImageRef,
    check_version,
    parse_image,
    primary_deployment_id,
    rollout_progress,
    running_version,
    task_definition_copy,
)
from actions.deploy.aws import AwsTargetConfig
from actions.deploy.base import BackendError, RolloutFailed


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("nginx", ImageRef("nginx")),
        ("nginx:1.27", ImageRef("nginx", "1.27")),
        ("registry:5000/team/api", ImageRef("registry:5000/team/api")),
        ("registry:5000/team/api:v1.2.3", ImageRef("registry:5000/team/api", "v1.2.3")),
        ("repo/api@sha256:abc", ImageRef("repo/api", None, "sha256:abc")),
        ("repo/api:v1@sha256:abc", ImageRef("repo/api", "v1", "sha256:abc")),
    ],
)
def test_parse_image(reference: str, expected: ImageRef) -> None:
    assert parse_image(reference) == expected


@pytest.mark.parametrize("version", ["v1.4.0", "1.4.0-rc.1", "build_123", "a" * 128])
def test_valid_versions_pass(version: str) -> None:
    check_version(version)


@pytest.mark.parametrize("version", ["", "-v1", "v1:latest", "v1 2", "a" * 129, "../v1"])
def test_invalid_versions_are_refused(version: str) -> None:
    with pytest.raises(BackendError, match="not a valid image tag"):
        check_version(version)


def task_definition(image: str) -> dict[str, Any]:
    return {
        "family": "api",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        "revision": 7,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2025-01-01T00:00:00Z",
        "cpu": "256",
        "volumes": [],
        "proxyConfiguration": None,
        "containerDefinitions": [
            {"name": "app", "image": image, "environment": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "envoy:1.30"},
        ],
    }


def test_running_version_is_the_tag_of_the_configured_container() -> None:
    definition = task_definition("repo/api:v2.0.0")

    assert running_version(definition, "app", "repo/api") == "v2.0.0"
    assert running_version(task_definition("repo/api@sha256:ff"), "app", "repo/api") == "sha256:ff"


def test_running_version_shows_a_foreign_repository_in_full() -> None:
    definition = task_definition("other/api:v2.0.0")

    assert running_version(definition, "app", "repo/api") == "other/api:v2.0.0"


def test_missing_container_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="no container named 'web'"):
        running_version(task_definition("repo/api:v1"), "web", "repo/api")


def test_copy_keeps_accepted_fields_and_changes_only_the_image() -> None:
    described: dict[str, Any] = {
        "taskDefinition": task_definition("repo/api:v1"),
        "tags": [{"key": "k"}],
    }
    accepted = frozenset(
        {"family", "cpu", "volumes", "proxyConfiguration", "containerDefinitions", "tags"}
    )

    params = task_definition_copy(described, accepted, "app", "repo/api:v2")

    assert params == {
        "family": "api",
        "cpu": "256",
        "containerDefinitions": [
            {"name": "app", "image": "repo/api:v2", "environment": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "envoy:1.30"},
        ],
        "tags": [{"key": "k"}],
    }
    # The described task definition is not modified in place.
    assert described["taskDefinition"]["containerDefinitions"][0]["image"] == "repo/api:v1"


def service(*deployments: dict[str, Any]) -> dict[str, Any]:
    return {"serviceName": "api-green", "deployments": list(deployments)}


def deployment(id_: str = "ecs-svc/1", status: str = "PRIMARY", **fields: Any) -> dict[str, Any]:
    return {"id": id_, "status": status, "runningCount": 2, "desiredCount": 2, **fields}


def test_primary_deployment_id() -> None:
    svc = service(deployment("ecs-svc/old", "ACTIVE"), deployment("ecs-svc/new"))

    assert primary_deployment_id(svc) == "ecs-svc/new"
    with pytest.raises(BackendError, match="no PRIMARY deployment"):
        primary_deployment_id(service())


def test_completed_rollout_is_done() -> None:
    progress = rollout_progress(service(deployment(rolloutState="COMPLETED")), "ecs-svc/1")

    assert progress.done
    assert progress.detail == "2 of 2 tasks running"


def test_in_progress_rollout_is_not_done_even_with_all_tasks_running() -> None:
    progress = rollout_progress(service(deployment(rolloutState="IN_PROGRESS")), "ecs-svc/1")

    assert not progress.done
    assert progress.detail == "IN_PROGRESS, 2 of 2 tasks running"


def test_failed_rollout_fails_at_once_with_a_redacted_reason() -> None:
    failed = deployment(
        rolloutState="FAILED",
        rolloutStateReason="tasks failed to start: arn:aws:ecs:us-east-1:1:task/x stopped",
    )

    with pytest.raises(RolloutFailed) as raised:
        rollout_progress(service(failed), "ecs-svc/1")

    assert str(raised.value) == (
        "ECS service api-green: rollout failed: tasks failed to start: [arn] stopped"
    )


def test_failed_rollout_is_reported_after_a_circuit_breaker_rollback() -> None:
    # With rollback on, ECS starts a new PRIMARY deployment and ours becomes ACTIVE/FAILED.
    svc = service(
        deployment("ecs-svc/rollback"),
        deployment("ecs-svc/1", "ACTIVE", rolloutState="FAILED", rolloutStateReason="circuit"),
    )

    with pytest.raises(RolloutFailed, match="rollout failed: circuit"):
        rollout_progress(svc, "ecs-svc/1")


@pytest.mark.parametrize(
    "svc",
    [
        service(deployment("ecs-svc/other")),
        service(deployment("ecs-svc/other"), deployment("ecs-svc/1", "ACTIVE")),
    ],
)
def test_superseded_deployment_fails(svc: dict[str, Any]) -> None:
    with pytest.raises(RolloutFailed, match="replaced by another one"):
        rollout_progress(svc, "ecs-svc/1")


def test_without_rollout_state_done_means_one_deployment_with_all_tasks() -> None:
    old = deployment("ecs-svc/0", "ACTIVE")
    starting = deployment(runningCount=1)

    assert not rollout_progress(service(starting), "ecs-svc/1").done
    assert not rollout_progress(service(deployment(), old), "ecs-svc/1").done
    assert rollout_progress(service(deployment()), "ecs-svc/1").done


def config(**changes: Any) -> dict[str, Any]:
    return {
        "region": "eu-west-1",
        "cluster": "prod",
        "services": {"blue": "api-blue", "green": "api-green"},
        "container": "app",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api",
        "listener_arn": "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/x/y/z",
        "target_groups": {"blue": "arn:tg/blue", "green": "arn:tg/green"},
        **changes,
    }


def test_config_defaults() -> None:
    parsed = AwsTargetConfig.model_validate(config())

    assert (parsed.rollout_timeout, parsed.poll_interval) == (600.0, 5.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"services": {"blue": "api-blue"}}, "exactly one entry for blue and one for green"),
        ({"target_groups": {"blue": "tg", "green": "tg"}}, "must differ"),
        ({"services": {"blue": "a", "green": "b", "red": "c"}}, "services"),
        ({"image": "repo/api:latest"}, "without a tag"),
        ({"poll_interval": 0}, "greater than 0"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_config_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AwsTargetConfig.model_validate(config(**changes))
