"""The API test server answers as the Kubernetes API server documents it.

The backend tests are only as good as this stand-in, so its behaviour is pinned here over
raw HTTP: Status objects, patch content types, resourceVersion preconditions and the
rollout controller's status fields.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.servers.kube_api import (
    DEPLOYMENTS,
    HTTPROUTES,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    KubeApiServer,
)

DEPLOY = "/apis/apps/v1/namespaces/prod/deployments"
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes"


@pytest.fixture
async def http(kube: KubeApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    kube.add_deployment("prod", "api-blue", "reg/api:v1", labels={"app": "api", "colour": "blue"})
    async with aiohttp.ClientSession(base_url=kube.url) as session:
        yield session


async def send(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body)
    async with http.request(method, path, data=data, headers={"Content-Type": content_type}) as r:
        text = await r.text()
        is_json = r.content_type == "application/json"
        return r.status, json.loads(text) if is_json else text


async def test_unknown_name_is_a_not_found_status(http: aiohttp.ClientSession) -> None:
    status, body = await send(http, "GET", f"{DEPLOY}/nope")

    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


async def test_patch_with_other_content_type_is_415(http: aiohttp.ClientSession) -> None:
    status, body = await send(http, "PATCH", f"{DEPLOY}/api-blue", {"spec": {}})

    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"
    assert body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


async def test_custom_resources_refuse_strategic_merge_patch(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    kube.add_httproute("prod", "web", [{"backendRefs": [{"name": "api-blue", "port": 80}]}])

    status, body = await send(http, "PATCH", f"{ROUTES}/web", {"spec": {}}, STRATEGIC_MERGE_PATCH)

    assert status == 415
    assert "strategic" not in body["message"]
    assert "application/merge-patch+json" in body["message"]


async def test_strategic_merge_patch_merges_containers_by_name(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    kube.add_deployment(
        "prod", "web", "reg/web:v1", sidecars=[{"name": "proxy", "image": "envoy:1"}]
    )
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "reg/web:v2"}]}}}
    }

    status, body = await send(http, "PATCH", f"{DEPLOY}/web", patch, STRATEGIC_MERGE_PATCH)

    assert status == 200
    assert body["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "reg/web:v2"},
        {"name": "proxy", "image": "envoy:1"},
    ]


async def test_merge_patch_replaces_lists_whole(http: aiohttp.ClientSession) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "y:1"}]}}}}

    status, body = await send(http, "PATCH", f"{DEPLOY}/api-blue", patch, MERGE_PATCH)

    assert status == 200
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "x", "image": "y:1"}]


async def test_json_patch_applies_operations_and_needs_a_list(http: aiohttp.ClientSession) -> None:
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
    ]

    status, body = await send(http, "PATCH", f"{DEPLOY}/api-blue", ops, JSON_PATCH)
    bad_status, bad = await send(http, "PATCH", f"{DEPLOY}/api-blue", {"spec": {}}, JSON_PATCH)
    failed_status, _ = await send(
        http,
        "PATCH",
        f"{DEPLOY}/api-blue",
        [{"op": "test", "path": "/spec/replicas", "value": 9}],
        JSON_PATCH,
    )

    assert status == 200
    assert (body["spec"]["replicas"], body["metadata"]["labels"]["tier"]) == (3, "web")
    assert (bad_status, bad["reason"]) == (400, "BadRequest")
    assert bad["message"] == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    assert failed_status == 422


async def test_resource_version_moves_and_stale_writes_conflict(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    _, before = await send(http, "GET", f"{DEPLOY}/api-blue")
    stale = before["metadata"]["resourceVersion"]
    patch = {"metadata": {"labels": {"a": "b"}}}

    _, after = await send(http, "PATCH", f"{DEPLOY}/api-blue", patch, MERGE_PATCH)
    conflict_status, conflict = await send(
        http, "PATCH", f"{DEPLOY}/api-blue", {"metadata": {"resourceVersion": stale}}, MERGE_PATCH
    )
    put_status, _ = await send(http, "PUT", f"{DEPLOY}/api-blue", before)

    assert int(after["metadata"]["resourceVersion"]) > int(stale)
    assert (conflict_status, conflict["reason"], conflict["code"]) == (409, "Conflict", 409)
    assert conflict["message"] == (
        'Operation cannot be fulfilled on deployments.apps "api-blue": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    assert put_status == 409
    assert kube.get(DEPLOYMENTS, "prod", "api-blue")["metadata"]["labels"] == {
        "app": "api",
        "colour": "blue",
        "a": "b",
    }


async def test_custom_resource_replace_needs_a_resource_version(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    route = kube.add_httproute("prod", "web", [{"backendRefs": [{"name": "api-blue", "port": 80}]}])
    del route["metadata"]["resourceVersion"]

    status, body = await send(http, "PUT", f"{ROUTES}/web", route)

    assert (status, body["reason"]) == (422, "Invalid")
    assert "metadata.resourceVersion" in body["message"]


async def test_rollout_controller_converges_in_ticks(kube: KubeApiServer) -> None:
    kube.add_deployment("prod", "api-blue", "reg/api:v1")
    kube.auto_tick = False

    def new_image(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "reg/api:v2"

    edited = kube.edit(DEPLOYMENTS, "prod", "api-blue", new_image)
    kube.tick()
    observed = kube.get(DEPLOYMENTS, "prod", "api-blue")["status"]
    kube.tick(10)
    done = kube.get(DEPLOYMENTS, "prod", "api-blue")

    assert edited["metadata"]["generation"] == 2
    assert observed["observedGeneration"] == 2
    assert "updatedReplicas" not in observed  # zero counters are omitted, as the API does
    assert {
        k: done["status"][k]
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    } == {
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    progressing = [c for c in done["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["reason"] == "NewReplicaSetAvailable"
    assert {p["spec"]["containers"][0]["image"] for p in kube.pods("prod", "api-blue")} == {
        "reg/api:v2"
    }


async def test_failing_image_exceeds_the_progress_deadline(kube: KubeApiServer) -> None:
    kube.add_deployment("prod", "api-blue", "reg/api:v1")
    kube.auto_tick = False
    kube.fail_image("reg/api:bad")

    def bad_image(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "reg/api:bad"

    kube.edit(DEPLOYMENTS, "prod", "api-blue", bad_image)
    kube.tick(10)
    status = kube.get(DEPLOYMENTS, "prod", "api-blue")["status"]

    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    assert status["updatedReplicas"] == 1 and status["availableReplicas"] == 2
    crashing = [
        p for p in kube.pods("prod", "api-blue") if not p["status"]["containerStatuses"][0]["ready"]
    ]
    assert (
        crashing[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        == "CrashLoopBackOff"
    )


async def test_pods_list_filters_by_label_selector(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    kube.add_deployment("prod", "api-green", "reg/api:v1", labels={"app": "api", "colour": "green"})
    path = "/api/v1/namespaces/prod/pods"

    _, blue = await send(http, "GET", f"{path}?labelSelector=app%3Dapi,colour%3Dblue")
    _, both = await send(http, "GET", f"{path}?labelSelector=colour+in+(blue,green)")
    _, none = await send(http, "GET", f"{path}?labelSelector=colour!%3Dblue,colour!%3Dgreen")
    bad_status, _ = await send(http, "GET", f"{path}?labelSelector=a+%3D%3D+(")

    assert blue["kind"] == "PodList"
    assert {p["metadata"]["labels"]["colour"] for p in blue["items"]} == {"blue"}
    assert len(both["items"]) == 4
    assert none["items"] == []
    assert bad_status == 400


async def test_pod_log_honours_tail_lines_and_container(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    kube.add_deployment(
        "prod", "two", "reg/two:v1", replicas=1, sidecars=[{"name": "proxy", "image": "envoy:1"}]
    )
    pod = kube.pods("prod", "two")[0]["metadata"]["name"]
    kube.set_logs("prod", pod, "app", ["one", "two", "three"])
    path = f"/api/v1/namespaces/prod/pods/{pod}/log"

    status, text = await send(http, "GET", f"{path}?container=app&tailLines=2")
    missing_status, missing = await send(http, "GET", path)

    assert (status, text) == (200, "two\nthree\n")
    assert missing_status == 400
    assert (
        missing["message"]
        == f"a container name must be specified for pod {pod}, choose one of: [app proxy]"
    )


async def test_scale_subresource_reads_and_writes_replicas(http: aiohttp.ClientSession) -> None:
    _, scale = await send(http, "GET", f"{DEPLOY}/api-blue/scale")
    status, scaled = await send(
        http, "PATCH", f"{DEPLOY}/api-blue/scale", {"spec": {"replicas": 0}}, MERGE_PATCH
    )
    _, deployment = await send(http, "GET", f"{DEPLOY}/api-blue")
    bad_status, _ = await send(
        http, "PATCH", f"{DEPLOY}/api-blue/scale", {"spec": {"replicas": -1}}, MERGE_PATCH
    )

    assert (scale["kind"], scale["apiVersion"], scale["spec"]) == (
        "Scale",
        "autoscaling/v1",
        {"replicas": 2},
    )
    assert scale["status"]["selector"] == "app=api,colour=blue"
    assert status == 200 and scaled["spec"] == {}  # replicas is omitempty
    assert deployment["spec"]["replicas"] == 0
    assert bad_status == 422


async def test_requests_are_recorded_and_faults_injected(
    kube: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    kube.inject_error("GET", f"{DEPLOY}/api-blue", 503)

    first, body = await send(http, "GET", f"{DEPLOY}/api-blue")
    second, _ = await send(http, "PATCH", f"{DEPLOY}/api-blue", {"metadata": {}}, MERGE_PATCH)

    assert (first, body["reason"], second) == (503, "ServiceUnavailable", 200)
    recorded = kube.requests[-1]
    assert (recorded.method, recorded.path, recorded.content_type, recorded.body) == (
        "PATCH",
        f"{DEPLOY}/api-blue",
        MERGE_PATCH,
        {"metadata": {}},
    )


async def test_route_is_a_custom_object(kube: KubeApiServer, http: aiohttp.ClientSession) -> None:
    kube.add_httproute(
        "prod", "web", [{"backendRefs": [{"name": "api-blue", "port": 80, "weight": 1}]}]
    )
    patch = {"spec": {"hostnames": ["api.example.com"]}}

    status, body = await send(http, "PATCH", f"{ROUTES}/web", patch, MERGE_PATCH)

    assert status == 200
    assert body["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert body["metadata"]["generation"] == 2
    assert kube.get(HTTPROUTES, "prod", "web")["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1
