"""Pure helpers for ECS: image references, task-definition copies and rollout progress.

They work on the plain dicts boto3 returns, so the decisions that matter for a deploy
(which fields survive a copy, when a rollout counts as done or failed) can be tested
without AWS or moto.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from actions.aws.errors import redact
from actions.deploy.base import BackendError, RolloutFailed

# Docker's tag grammar. Versions arrive from a Slack command, so anything else is refused
# before it can end up in a task definition.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def check_version(version: str) -> None:
    if not _TAG.fullmatch(version):
        raise BackendError(f"{version!r} is not a valid image tag")


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None = None
    digest: str | None = None


def parse_image(reference: str) -> ImageRef:
    """Split `registry:port/path/name:tag@digest`; the port colon is not a tag separator."""
    name, _, digest = reference.partition("@")
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return ImageRef(name[:colon], name[colon + 1 :], digest or None)
    return ImageRef(name, None, digest or None)


def find_container(task_definition: dict[str, Any], container: str) -> dict[str, Any]:
    for definition in task_definition.get("containerDefinitions", []):
        if definition.get("name") == container:
            return definition  # type: ignore[no-any-return]
    family = task_definition.get("family", "?")
    raise BackendError(f"task definition {family} has no container named {container!r}")


def running_version(task_definition: dict[str, Any], container: str, image: str) -> str | None:
    """The version a task definition runs: the tag (or digest) of `container`'s image.

    When the container runs some other repository than the configured one the whole
    reference is returned, so that whoever reads /status sees that something is off
    rather than a tag that looks normal.
    """
    reference = str(find_container(task_definition, container).get("image", ""))
    if not reference:
        return None
    ref = parse_image(reference)
    if ref.repository != image:
        return reference
    return ref.tag or ref.digest


def task_definition_copy(
    described: dict[str, Any], accepted: frozenset[str], container: str, image: str
) -> dict[str, Any]:
    """RegisterTaskDefinition arguments copying `described` with `container` on `image`.

    `described` is a DescribeTaskDefinition response. Output-only fields (ARN, revision,
    status, registeredAt, ...) are dropped by keeping only what the API accepts, and
    empty values are dropped because the API rejects nulls and some empty lists.
    """
    task_definition = described["taskDefinition"]
    params = {
        key: copy.deepcopy(value)
        for key, value in task_definition.items()
        if key in accepted and value not in (None, [], {})
    }
    find_container(params, container)["image"] = image
    # Tags are returned beside the task definition, not in it.
    if described.get("tags") and "tags" in accepted:
        params["tags"] = copy.deepcopy(described["tags"])
    return params


@dataclass(frozen=True)
class Progress:
    done: bool
    detail: str


def primary_deployment_id(service: dict[str, Any]) -> str:
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return str(deployment["id"])
    raise BackendError(
        f"ECS service {service.get('serviceName', '?')} has no PRIMARY deployment; "
        "only the rolling-update (ECS) deployment controller is supported"
    )


def rollout_progress(service: dict[str, Any], deployment_id: str) -> Progress:
    """How far ECS has got with deployment `deployment_id` of a DescribeServices entry.

    rolloutState is authoritative where ECS reports it (rolling-update services not behind
    a Classic Load Balancer): COMPLETED is done, FAILED (circuit breaker) fails at once.
    Without it, done means the deployment is the only one left and runs all its tasks.
    Our deployment losing PRIMARY means someone deployed over us, or the circuit breaker
    rolled back: either way our version is not what will run.
    """
    name = service.get("serviceName", "?")
    deployments: list[dict[str, Any]] = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)
    if ours is None:
        raise RolloutFailed(f"ECS service {name}: the deployment was replaced by another one")
    state = ours.get("rolloutState")
    reason = redact(str(ours.get("rolloutStateReason") or ""))
    if state == "FAILED":
        raise RolloutFailed(f"ECS service {name}: rollout failed: {reason or 'no reason given'}")
    if ours.get("status") != "PRIMARY":
        raise RolloutFailed(f"ECS service {name}: the deployment was replaced by another one")
    running, desired = ours.get("runningCount", 0), ours.get("desiredCount", 0)
    detail = f"{running} of {desired} tasks running"
    if state == "COMPLETED":
        return Progress(True, detail)
    if state is not None:
        return Progress(False, f"{state}, {detail}")
    return Progress(len(deployments) == 1 and running == desired, detail)
