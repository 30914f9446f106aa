"""Runbook steps against the API test server, and their refusal of untrusted input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actions.kube.client import KubeApiError
from actions.kube.operations import RESTARTED_AT, KubeOperations, PodSummary
from tests.servers.kube_api import DEPLOYMENTS, KubeApiServer

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SCALE = "/apis/apps/v1/namespaces/prod/deployments/api-blue/scale"


@pytest.fixture
def ops(kube: KubeApiServer, api: Any) -> KubeOperations:
    kube.clock = lambda: START
    kube.add_deployment("prod", "api-blue", "reg/api:v1", labels={"app": "api", "colour": "blue"})
    kube.add_deployment("prod", "api-green", "reg/api:v1", labels={"app": "api", "colour": "green"})
    return KubeOperations(api, max_replicas=20)


async def test_pods_lists_the_workloads_pods(kube: KubeApiServer, ops: KubeOperations) -> None:
    pods = await ops.pods("prod", "api-blue", now=START + timedelta(minutes=5))

    names = sorted(p["metadata"]["name"] for p in kube.pods("prod", "api-blue"))
    assert pods == [PodSummary(name, "Running", 1, 1, 0, timedelta(minutes=5)) for name in names]
    assert pods[0].ready_text == "1/1"
    assert kube.requests[-1].query == {"labelSelector": "app=api,colour=blue"}


async def test_pods_follow_set_based_selectors(kube: KubeApiServer, ops: KubeOperations) -> None:
    selector = {
        "matchLabels": {"app": "api"},
        "matchExpressions": [{"key": "colour", "operator": "In", "values": ["green"]}],
    }
    kube.edit(DEPLOYMENTS, "prod", "api-blue", lambda d: d["spec"].update(selector=selector))

    pods = await ops.pods("prod", "api-blue")

    assert kube.requests[-1].query == {"labelSelector": "app=api,colour in (green)"}
    assert {p.name.rsplit("-", 2)[0] for p in pods} == {"api-green"}


async def test_pods_show_crash_loops(kube: KubeApiServer, ops: KubeOperations) -> None:
    kube.auto_tick = False
    kube.fail_image("reg/api:bad")

    def bad(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "reg/api:bad"

    kube.edit(DEPLOYMENTS, "prod", "api-blue", bad)
    kube.tick(4)

    pods = await ops.pods("prod", "api-blue", now=START)

    crashing = [p for p in pods if p.reason == "CrashLoopBackOff"]
    assert len(pods) == 3 and len(crashing) == 1
    assert (crashing[0].ready_text, crashing[0].restarts) == ("0/1", 2)


async def test_logs_of_a_pod_keep_the_text_exactly(
    kube: KubeApiServer, ops: KubeOperations
) -> None:
    pod = kube.pods("prod", "api-blue")[0]["metadata"]["name"]
    # One JSON line: the client library would hand back a Python dict's repr instead.
    kube.set_logs("prod", pod, "app", ["starting", '{"level": "error", "msg": "boom"}'])

    text = await ops.logs("prod", pod, lines=1)

    assert text == '{"level": "error", "msg": "boom"}\n'
    assert kube.requests[-1].query == {"tailLines": "1"}


async def test_logs_of_a_workload_read_its_newest_running_pod(
    kube: KubeApiServer, ops: KubeOperations
) -> None:
    kube.clock = lambda: START + timedelta(hours=1)
    kube.edit(DEPLOYMENTS, "prod", "api-blue", lambda d: d["spec"].update(replicas=3))
    kube.tick(3)
    newest = max(kube.pods("prod", "api-blue"), key=lambda p: p["metadata"]["creationTimestamp"])
    kube.set_logs("prod", newest["metadata"]["name"], "app", ["newest"])

    text = await ops.logs("prod", "api-blue", lines=50)

    assert text == "newest\n"


async def test_logs_pick_the_container(kube: KubeApiServer, ops: KubeOperations) -> None:
    kube.add_deployment(
        "prod", "two", "reg/two:v1", replicas=1, sidecars=[{"name": "proxy", "image": "envoy:1"}]
    )
    pod = kube.pods("prod", "two")[0]["metadata"]["name"]
    kube.set_logs("prod", pod, "proxy", ["proxy line"])

    text = await ops.logs("prod", "two", lines=10, container="proxy")
    with pytest.raises(KubeApiError, match="a container name must be specified") as missing:
        await ops.logs("prod", "two", lines=10)

    assert text == "proxy line\n"
    assert (missing.value.status, missing.value.transient) == (400, False)


async def test_logs_of_an_unknown_pod(ops: KubeOperations) -> None:
    with pytest.raises(KubeApiError, match='pods "ghost" not found') as error:
        await ops.logs("prod", "ghost", lines=10)

    assert error.value.status == 404


async def test_restart_stamps_the_template_and_rolls(
    kube: KubeApiServer, ops: KubeOperations
) -> None:
    before = {p["metadata"]["name"] for p in kube.pods("prod", "api-blue")}

    result = await ops.restart("prod", "api-blue", now=datetime(2024, 5, 1, 14, 30, tzinfo=UTC))
    kube.tick(10)

    assert result.restarted_at == "2024-05-01T14:30:00Z"
    template = kube.get(DEPLOYMENTS, "prod", "api-blue")["spec"]["template"]
    assert template["metadata"]["annotations"] == {RESTARTED_AT: "2024-05-01T14:30:00Z"}
    after = {p["metadata"]["name"] for p in kube.pods("prod", "api-blue")}
    assert len(after) == 2 and not after & before


async def test_restart_refuses_a_paused_deployment(
    kube: KubeApiServer, ops: KubeOperations
) -> None:
    kube.edit(DEPLOYMENTS, "prod", "api-blue", lambda d: d["spec"].update(paused=True))

    with pytest.raises(KubeApiError, match="paused"):
        await ops.restart("prod", "api-blue", now=START)

    assert kube.requests_for("PATCH") == []


async def test_scale_uses_the_scale_subresource(kube: KubeApiServer, ops: KubeOperations) -> None:
    up = await ops.scale("prod", "api-blue", 5)
    down = await ops.scale("prod", "api-blue", 0)
    again = await ops.scale("prod", "api-blue", 1)

    assert (up.old_replicas, up.new_replicas) == (2, 5)
    assert (down.old_replicas, down.new_replicas) == (5, 0)
    assert (again.old_replicas, again.new_replicas) == (0, 1)
    patches = kube.requests_for("PATCH")
    assert {p.path for p in patches} == {SCALE}
    assert patches[0].body["spec"] == {"replicas": 5}
    assert kube.get(DEPLOYMENTS, "prod", "api-blue")["spec"]["replicas"] == 1


async def test_scale_reports_a_concurrent_change(kube: KubeApiServer, ops: KubeOperations) -> None:
    kube.after_next(
        "GET",
        SCALE,
        lambda: kube.edit(DEPLOYMENTS, "prod", "api-blue", lambda d: d["spec"].update(replicas=7)),
    )

    with pytest.raises(KubeApiError, match="scaled by someone else") as error:
        await ops.scale("prod", "api-blue", 3)

    assert error.value.status == 409
    assert kube.get(DEPLOYMENTS, "prod", "api-blue")["spec"]["replicas"] == 7


BAD_NAMES = ["", "Prod", "a_b", "-a", "a-", "a/b", "../etc", "a" * 254, "x\ny", None, 5]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        *((lambda o, n=n: o.pods(n, "api-blue"), "namespace") for n in BAD_NAMES),
        *((lambda o, n=n: o.pods("prod", n), "Deployment name") for n in BAD_NAMES),
        *((lambda o, n=n: o.logs("prod", n, lines=10), "workload or pod") for n in BAD_NAMES),
        (lambda o: o.logs("a.b", "api-blue", lines=10), "namespace"),
        (lambda o: o.logs("prod", "api-blue", lines=10, container="a.b"), "container"),
        *(
            (lambda o, n=n: o.logs("prod", "api-blue", lines=n), "lines")
            for n in [0, 1001, -5, True, "10", 2.5]
        ),
        (lambda o: o.restart("prod", "api-blue", now=datetime(2024, 5, 1)), "timezone"),
        (lambda o: o.restart("prod", "a b", now=START), "Deployment name"),
        *(
            (lambda o, n=n: o.scale("prod", "api-blue", n), "replicas")
            for n in [-1, 21, True, "3", 1.0]
        ),
        (lambda o: o.scale("prod/x", "api-blue", 1), "namespace"),
    ],
)
async def test_invalid_input_is_refused_before_any_request(
    kube: KubeApiServer, ops: KubeOperations, step: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await step(ops)

    assert kube.requests == []
