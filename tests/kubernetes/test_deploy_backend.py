"""KubernetesBackend against the API test server: state, deploys, and traffic weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from actions.deploy.base import BackendError, RolloutFailed, TemporaryBackendError
from actions.deploy.kubernetes import KubernetesBackend
from actions.deploy.kubernetes_config import KubernetesTargetConfig
from actions.kube.client import api_client_for_host
from commands.targets import Colour, DeploymentState, Target
from tests.servers.kube_api import (
    DEPLOYMENTS,
    HTTPROUTES,
    MERGE_PATCH,
    SERVICES,
    STRATEGIC_MERGE_PATCH,
    KubeApiServer,
)

API = Target("api", "production")
REPO = "registry.example.com/api"
DEPLOY = "/apis/apps/v1/namespaces/prod/deployments"
ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/api"
ROUTED = KubernetesTargetConfig(namespace="prod", image=REPO, route="api", poll_interval=0.001)
SWITCHED = KubernetesTargetConfig(namespace="prod", service="api", poll_interval=0.001)
RULE: dict[str, Any] = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
    "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": []}}],
    "backendRefs": [
        {"name": "api-blue", "port": 8080, "weight": 100, "filters": []},
        {"name": "api-green", "port": 8080, "weight": 0, "filters": []},
    ],
}

MakeBackend = Callable[[KubernetesTargetConfig], KubernetesBackend]


@pytest.fixture
def cluster(kube: KubeApiServer) -> KubeApiServer:
    """Blue live on v1.3.0 with all traffic, green idle on v1.2.0."""
    kube.add_deployment(
        "prod", "api-blue", f"{REPO}:v1.3.0", labels={"app": "api", "colour": "blue"}
    )
    kube.add_deployment(
        "prod", "api-green", f"{REPO}:v1.2.0", labels={"app": "api", "colour": "green"}
    )
    kube.add_httproute("prod", "api", [RULE])
    kube.add_service("prod", "api", {"app": "api", "colour": "blue"})
    return kube


@pytest.fixture
def backend(api: Any, cluster: KubeApiServer) -> MakeBackend:
    return lambda config: KubernetesBackend(api, {API: config})


def set_image(image: str) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

    return change


async def test_state_reads_versions_and_route_weights(backend: MakeBackend) -> None:
    state = await backend(ROUTED).state(API)

    assert state == DeploymentState(
        live="blue",
        versions={"blue": "v1.3.0", "green": "v1.2.0"},
        weights={"blue": 100, "green": 0},
    )


async def test_state_has_no_version_for_missing_or_scaled_down_colours(
    kube: KubeApiServer, api: Any
) -> None:
    kube.add_deployment("prod", "web-blue", f"{REPO}:v2", replicas=0)
    rule = {"backendRefs": [{"name": "web-blue", "port": 80}, {"name": "web-green", "port": 80}]}
    kube.add_httproute("prod", "web", [rule])
    config = KubernetesTargetConfig(namespace="prod", deployment_prefix="web", route="web")

    state = await KubernetesBackend(api, {API: config}).state(API)

    assert state.versions == {"blue": None, "green": None}
    # Unset Gateway API weights count as 1 each: an even split, and blue wins the tie.
    assert (state.weights, state.live) == ({"blue": 50, "green": 50}, "blue")


async def test_state_shows_foreign_images_whole(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    cluster.edit(DEPLOYMENTS, "prod", "api-green", set_image("docker.io/library/nginx:1.27"))

    state = await backend(ROUTED).state(API)

    assert state.versions["green"] == "docker.io/library/nginx:1.27"


async def test_state_from_service_selector(cluster: KubeApiServer, backend: MakeBackend) -> None:
    cluster.edit(
        SERVICES, "prod", "api", lambda svc: svc["spec"]["selector"].update(colour="green")
    )

    state = await backend(SWITCHED).state(API)

    assert (state.live, state.weights) == ("green", {"blue": 0, "green": 100})


async def test_state_refuses_routes_with_other_backends(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    def add_backend(route: dict[str, Any]) -> None:
        route["spec"]["rules"][0]["backendRefs"].append({"name": "legacy", "port": 80, "weight": 5})

    cluster.edit(HTTPROUTES, "prod", "api", add_backend)

    with pytest.raises(BackendError, match="other backends"):
        await backend(ROUTED).state(API)


async def test_deploy_patches_the_idle_image_and_waits_for_the_rollout(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)

    patches = cluster.requests_for("PATCH")
    assert [(p.path, p.content_type) for p in patches] == [
        (f"{DEPLOY}/api-green", STRATEGIC_MERGE_PATCH)
    ]
    assert patches[0].body == {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"{REPO}:v1.4.0"}]}}}
    }
    status = cluster.get(DEPLOYMENTS, "prod", "api-green")["status"]
    assert status["observedGeneration"] == 2
    assert status["updatedReplicas"] == status["replicas"] == status["availableReplicas"] == 2
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods("prod", "api-green")} == {
        f"{REPO}:v1.4.0"
    }
    assert len(cluster.requests_for("GET", "/deployments/api-green")) > 3  # it polled
    assert cluster.requests_for("GET", "/httproutes/") == []  # traffic untouched


async def test_deploy_keeps_the_running_repository_when_none_is_configured(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    await backend(SWITCHED).deploy(API, "green", "v1.4.0", timeout=5)

    assert (
        cluster.pods("prod", "api-green")[0]["spec"]["containers"][0]["image"] == f"{REPO}:v1.4.0"
    )


async def test_failing_rollout_raises_rollout_failed(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    cluster.fail_image(f"{REPO}:v1.4.0")

    with pytest.raises(RolloutFailed) as failure:
        await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)

    assert "exceeded its progress deadline" in str(failure.value)
    assert "CrashLoopBackOff" in str(failure.value)


async def test_rollout_still_running_at_the_timeout_fails(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    cluster.auto_tick = False  # the controller never moves: only the timeout can end the wait

    with pytest.raises(RolloutFailed, match=r"did not become healthy .* within 0\.05s"):
        await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=0.05)


async def test_config_rollout_timeout_caps_the_callers(cluster: KubeApiServer, api: Any) -> None:
    cluster.auto_tick = False
    config = ROUTED.model_copy(update={"rollout_timeout": 0.02})

    with pytest.raises(RolloutFailed, match=r"within 0\.02s"):
        await KubernetesBackend(api, {API: config}).deploy(API, "green", "v1.4.0", timeout=600)


async def test_deploy_stops_when_someone_else_changes_the_image(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    cluster.after_next(
        "PATCH",
        f"{DEPLOY}/api-green",
        lambda: cluster.edit(DEPLOYMENTS, "prod", "api-green", set_image("x/y:z")),
    )

    with pytest.raises(BackendError, match="changed by someone else"):
        await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)


@pytest.mark.parametrize("version", ["", "v1 ; rm -rf /", "../x", "-v1", "a" * 129])
async def test_deploy_refuses_invalid_tags_before_any_request(
    cluster: KubeApiServer, backend: MakeBackend, version: str
) -> None:
    with pytest.raises(BackendError, match="not a valid image tag"):
        await backend(ROUTED).deploy(API, "green", version, timeout=5)

    assert cluster.requests == []


@pytest.mark.parametrize(
    ("change", "refusal"),
    [({"replicas": 0}, "scaled to 0"), ({"paused": True}, "paused")],
)
async def test_deploy_refuses_deployments_that_cannot_roll(
    cluster: KubeApiServer, backend: MakeBackend, change: dict[str, Any], refusal: str
) -> None:
    cluster.edit(DEPLOYMENTS, "prod", "api-green", lambda d: d["spec"].update(change))

    with pytest.raises(BackendError, match=refusal):
        await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)

    assert cluster.requests_for("PATCH") == []


async def test_deploy_to_a_missing_deployment(kube: KubeApiServer, api: Any) -> None:
    kube.add_httproute("prod", "api", [RULE])

    with pytest.raises(BackendError, match="Deployment prod/api-green does not exist"):
        await KubernetesBackend(api, {API: ROUTED}).deploy(API, "green", "v1.4.0", timeout=5)


async def test_server_errors_are_temporary(cluster: KubeApiServer, backend: MakeBackend) -> None:
    cluster.inject_error("PATCH", f"{DEPLOY}/api-green", 503)

    with pytest.raises(TemporaryBackendError, match="HTTP 503"):
        await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)


async def test_a_blip_while_polling_does_not_fail_the_rollout(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    path = f"{DEPLOY}/api-green"
    cluster.after_next("PATCH", path, lambda: cluster.inject_error("GET", path, 500, times=2))

    await backend(ROUTED).deploy(API, "green", "v1.4.0", timeout=5)

    polls = [r.status for r in cluster.requests_for("GET", path) if r.path == path]
    assert polls[1:3] == [500, 500]  # the first GET is the read before the patch
    assert polls[-1] == 200 and len(polls) > 4


async def test_unreachable_api_is_temporary(kube: KubeApiServer) -> None:
    url = kube.url
    await kube.stop()
    client = await api_client_for_host(url)
    try:
        with pytest.raises(TemporaryBackendError, match="did not answer"):
            await KubernetesBackend(client, {API: ROUTED}).state(API)
    finally:
        await client.close()


@pytest.mark.parametrize("green", [10, 50, 100])
async def test_weights_move_on_the_route_keeping_other_fields(
    cluster: KubeApiServer, backend: MakeBackend, green: int
) -> None:
    before = cluster.get(HTTPROUTES, "prod", "api")
    kube_backend = backend(ROUTED)

    await kube_backend.set_weights(API, {"blue": 100 - green, "green": green})

    patch = cluster.requests_for("PATCH")[0]
    assert (patch.path, patch.content_type) == (ROUTE, MERGE_PATCH)
    assert patch.body["metadata"] == {"resourceVersion": before["metadata"]["resourceVersion"]}
    rule = cluster.get(HTTPROUTES, "prod", "api")["spec"]["rules"][0]
    assert {k: v for k, v in rule.items() if k != "backendRefs"} == {
        k: v for k, v in RULE.items() if k != "backendRefs"
    }
    assert rule["backendRefs"] == [
        {"name": "api-blue", "port": 8080, "weight": 100 - green, "filters": []},
        {"name": "api-green", "port": 8080, "weight": green, "filters": []},
    ]
    state = await kube_backend.state(API)
    assert state.weights == {"blue": 100 - green, "green": green}
    assert state.live == ("green" if green > 50 else "blue")


async def test_weights_add_a_missing_colour_ref(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    cluster.edit(HTTPROUTES, "prod", "api", lambda r: r["spec"]["rules"][0]["backendRefs"].pop())

    await backend(ROUTED).set_weights(API, {"blue": 90, "green": 10})

    refs = cluster.get(HTTPROUTES, "prod", "api")["spec"]["rules"][0]["backendRefs"]
    assert refs[1] == {"name": "api-green", "port": 8080, "weight": 10, "filters": []}


async def test_concurrent_route_change_is_reported_not_overwritten(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    def someone_edits() -> None:
        cluster.edit(
            HTTPROUTES, "prod", "api", lambda r: r["spec"].update(hostnames=["api.example.com"])
        )

    cluster.after_next("GET", ROUTE, someone_edits)

    with pytest.raises(BackendError, match="changed meanwhile"):
        await backend(ROUTED).set_weights(API, {"blue": 50, "green": 50})

    route = cluster.get(HTTPROUTES, "prod", "api")
    assert route["spec"]["hostnames"] == ["api.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"][1]["weight"] == 0


async def test_service_selector_switches_all_traffic(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    await backend(SWITCHED).set_weights(API, {"blue": 0, "green": 100})

    patch = cluster.requests_for("PATCH")[0]
    assert (patch.content_type, patch.body) == (
        STRATEGIC_MERGE_PATCH,
        {"spec": {"selector": {"colour": "green"}}},
    )
    assert cluster.get(SERVICES, "prod", "api")["spec"]["selector"] == {
        "app": "api",
        "colour": "green",
    }


async def test_service_selector_refuses_a_split(
    cluster: KubeApiServer, backend: MakeBackend
) -> None:
    with pytest.raises(BackendError, match="needs an HTTPRoute"):
        await backend(SWITCHED).set_weights(API, {"blue": 50, "green": 50})

    assert cluster.requests_for("PATCH") == []


@pytest.mark.parametrize(
    "weights",
    [{"blue": 50, "green": 40}, {"blue": 110, "green": -10}, {"blue": 99.5, "green": 0.5}],
)
async def test_invalid_weights_are_refused(
    cluster: KubeApiServer, backend: MakeBackend, weights: Any
) -> None:
    with pytest.raises(BackendError, match="adding up to 100"):
        await backend(ROUTED).set_weights(API, weights)

    assert cluster.requests == []


async def test_unknown_target(backend: MakeBackend) -> None:
    with pytest.raises(BackendError, match="No Kubernetes settings for web/staging"):
        await backend(ROUTED).state(Target("web", "staging"))


async def test_factory_client_is_made_once_and_closed(cluster: KubeApiServer) -> None:
    made: list[Any] = []

    async def factory() -> Any:
        made.append(await api_client_for_host(cluster.url))
        return made[-1]

    backend = KubernetesBackend(factory, {API: ROUTED})
    await backend.state(API)
    await backend.set_weights(API, {"blue": 0, "green": 100})
    await backend.aclose()

    assert len(made) == 1
    assert made[0].rest_client.pool_manager.closed


@pytest.mark.parametrize(
    "fields",
    [
        {"namespace": "prod"},
        {"namespace": "prod", "route": "a", "service": "b"},
        {"namespace": "Prod_1", "route": "a"},
        {"namespace": "prod", "route": "a", "image": "reg/api:v1"},
        {"namespace": "prod", "route": "a", "poll_interval": 0},
    ],
)
def test_config_is_validated(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KubernetesTargetConfig(**fields)


def test_config_names_its_objects() -> None:
    config = KubernetesTargetConfig(namespace="prod", route="r", service_prefix="svc")
    colours: tuple[Colour, Colour] = ("blue", "green")

    assert [config.deployment_name(API, c) for c in colours] == ["api-blue", "api-green"]
    assert config.service_names(API) == {"blue": "svc-blue", "green": "svc-green"}
