"""The step executors against the Kubernetes API test server."""

from __future__ import annotations

from actions.kube.operations import KubeConnector
from actions.steps.registry import StepContext
from alerts.runbooks.specs import K8sLogsParams
from bot.runbooks.config import KubernetesConnection
from bot.runbooks.executors import MAX_OUTPUT, K8sLogs, output_block
from tests.servers.kube_api import KubeApiServer

CONTEXT = StepContext(alert_group_id=1, runbook_id="DISK", step_id="logs", user="U0000ONC01")


async def test_long_logs_are_cut_to_slacks_limit_keeping_the_newest_lines(
    kube: KubeApiServer,
) -> None:
    lines = [f"line {n:04d} " + "x" * 60 for n in range(500)]
    for other in kube.pods("prod", "api-blue"):
        kube.set_logs("prod", other["metadata"]["name"], "app", lines)
    connector = KubeConnector(KubernetesConnection(host=kube.url).client_factory(), max_replicas=10)
    try:
        params = K8sLogsParams(namespace="prod", workload="api-blue", lines=500)
        outcome = await K8sLogs(connector)(params, CONTEXT)
    finally:
        await connector.close()

    assert outcome.ok, outcome.text
    assert len(outcome.text) < 3000
    assert "line 0499" in outcome.text and "line 0000" not in outcome.text
    assert "earlier line(s) not shown" in outcome.text


async def test_a_failing_api_is_a_failed_outcome_not_an_exception(kube: KubeApiServer) -> None:
    connector = KubeConnector(KubernetesConnection(host=kube.url).client_factory(), max_replicas=10)
    try:
        params = K8sLogsParams(namespace="prod", workload="nope", lines=5)
        outcome = await K8sLogs(connector)(params, CONTEXT)
    finally:
        await connector.close()
    assert not outcome.ok and "nope" in outcome.text


def test_code_blocks_cannot_be_closed_by_the_text() -> None:
    block = output_block("a```b")
    assert block.count("```") == 2 and len(output_block("y\n" * 5000)) <= MAX_OUTPUT + 100
