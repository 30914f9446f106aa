"""What a Deployment says about its rollout and the image it runs.

Pure reading of Deployment objects, apart from the calls that fetch them: the backend
polls, this module judges (with `kubectl rollout status`'s rules and wording) and finds
the container and tag that a deploy changes.
"""

from __future__ import annotations

from typing import Literal

from kubernetes_asyncio.client import V1Container, V1Deployment

from actions.deploy.base import BackendError
from actions.deploy.kubernetes_config import KubernetesTargetConfig


def rollout_status(deployment: V1Deployment) -> tuple[Literal["done", "waiting", "failed"], str]:
    """Judge a rollout as `kubectl rollout status` does, with its wording."""
    generation = (deployment.metadata.generation if deployment.metadata else None) or 0
    status, spec = deployment.status, deployment.spec
    if status is None or generation > (status.observed_generation or 0):
        return "waiting", "waiting for the Deployment controller to observe the change"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return "failed", f"it exceeded its progress deadline ({condition.message})"
    wanted = spec.replicas if spec is not None and spec.replicas is not None else 1
    updated, total = status.updated_replicas or 0, status.replicas or 0
    available = status.available_replicas or 0
    if updated < wanted:
        return "waiting", f"{updated} out of {wanted} new replicas have been updated"
    if total > updated:
        return "waiting", f"{total - updated} old replicas are pending termination"
    if available < updated:
        return "waiting", f"{available} of {updated} updated replicas are available"
    return "done", "successfully rolled out"


def container_of(cfg: KubernetesTargetConfig, deployment: V1Deployment) -> V1Container:
    spec = deployment.spec.template.spec if deployment.spec else None
    containers = (spec.containers if spec else None) or []
    for container in containers:
        if cfg.container is None or container.name == cfg.container:
            return container
    name = deployment.metadata.name if deployment.metadata else "?"
    have = ", ".join(c.name for c in containers) or "none"
    raise BackendError(f"Deployment {name} has no container {cfg.container!r} (it has: {have})")


def container_image(deployment: V1Deployment, name: str) -> str | None:
    spec = deployment.spec.template.spec if deployment.spec else None
    return next((c.image for c in (spec.containers if spec else []) if c.name == name), None)


def split_image(image: str) -> tuple[str, str | None]:
    """(repository, tag); the tag is None for digests and untagged images."""
    if "@" in image:
        return image.split("@", 1)[0], None
    slash, colon = image.rfind("/"), image.rfind(":")
    # A ':' before the last '/' is a registry port, not a tag.
    return (image[:colon], image[colon + 1 :]) if colon > slash else (image, None)
