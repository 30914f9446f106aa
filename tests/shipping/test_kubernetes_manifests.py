"""The manifests in deploy/ are valid Kubernetes objects and deploy the bot safely.

No cluster: every document is checked against the Kubernetes API models (see
k8s_schema.py); the rest checks what a schema cannot: probes hit real endpoints, the
Role grants exactly what the backends call, no secret value is in the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import load_config
from bot.http.routes import build_web_app
from tests.shipping import k8s_schema
from tests.shipping.tools import ROOT, routes_only

DEPLOY = ROOT / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
BOT_NAMESPACE = "chatops"
SECRET_NAME = "chatops-secrets"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for name in KUSTOMIZATION["resources"]:
        for doc in yaml.safe_load_all((DEPLOY / name).read_text()):
            if doc is not None:
                docs.append((name, doc))
    return docs


DOCS = _documents()


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _generated_files() -> set[str]:
    return {f for gen in KUSTOMIZATION.get("configMapGenerator", []) for f in gen["files"]}


def test_the_kustomization_lists_every_manifest_and_only_existing_files() -> None:
    on_disk = {p.name for p in DEPLOY.glob("*.y*ml")} - {"kustomization.yaml"}
    listed = set(KUSTOMIZATION["resources"]) | _generated_files()
    assert listed == on_disk, (
        f"not listed: {on_disk - listed}; listed but missing: {listed - on_disk}"
    )


@pytest.mark.parametrize(
    ("source", "doc"), DOCS, ids=[f"{s}:{d['kind']}/{d['metadata']['name']}" for s, d in DOCS]
)
def test_every_document_is_a_valid_kubernetes_object(source: str, doc: dict[str, Any]) -> None:
    assert k8s_schema.check(doc) == []
    assert doc["metadata"].get("namespace") or doc["kind"] == "Namespace", "name the namespace"


def test_the_schema_check_catches_typos_wrong_types_and_missing_required_fields() -> None:
    deployment = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    container["ports"][0]["containerPort"] = "3000"
    del deployment["spec"]["selector"]
    problems = "\n".join(k8s_schema.check(deployment))
    assert "containers[0].readinessprobe: unknown field of V1Container" in problems
    assert "containerPort: expected int, got str" in problems
    assert "`selector`, must not be `None`" in problems


def _get_routes() -> set[str]:
    app = build_web_app(routes_only())  # type: ignore[arg-type]
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


def _bot_deployment() -> dict[str, Any]:
    return _one("Deployment", "chatops")


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def test_the_deployment_runs_two_replicas_of_serve_without_migrating() -> None:
    deployment = _bot_deployment()
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = _container(deployment)
    assert container["command"] == ["chatops"]
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.host, args.port, args.no_migrate) == ("serve", "0.0.0.0", 3000, True)  # noqa: S104
    assert [p["containerPort"] for p in container["ports"]] == [args.port]


def test_probes_point_at_real_endpoints_of_the_bot() -> None:
    container = _container(_bot_deployment())
    port_names = {p["name"] for p in container["ports"]}
    routes = _get_routes()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] in routes, (
            f"{probe} {http['path']} is not a GET route of bot/http/routes.py"
        )
        assert http["port"] in port_names


def test_the_migration_job_runs_chatops_migrate_once() -> None:
    job = _one("Job", "chatops-migrate")
    pod = job["spec"]["template"]["spec"]
    container = _container(job)
    args = build_parser().parse_args(container["args"])
    assert container["command"] == ["chatops"]
    assert (args.command, args.action) == ("migrate", "upgrade")
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert container["image"] == _container(_bot_deployment())["image"]


@pytest.mark.parametrize("workload", [("Deployment", "chatops"), ("Job", "chatops-migrate")])
def test_pods_meet_the_restricted_pod_security_standard(workload: tuple[str, str]) -> None:
    obj = _one(*workload)
    pod = obj["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    container = _container(obj)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "add" not in security["capabilities"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    # A read-only root still needs a writable /tmp (tempfile, libraries).
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}


def test_secrets_come_from_the_chatops_secrets_secret_and_are_never_literal() -> None:
    secret_words = re.compile(r"TOKEN|SECRET|PASSWORD|KEY|DATABASE_URL", re.IGNORECASE)
    for _, doc in DOCS:
        assert doc["kind"] != "Secret", "no Secret manifests: create chatops-secrets out of band"
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        container = _container(doc)
        assert container["envFrom"] == [{"secretRef": {"name": SECRET_NAME}}]
        for env in container.get("env", []):
            assert not secret_words.search(env["name"]), f"{env['name']} must come from the Secret"
    for path in DEPLOY.iterdir():
        assert not re.search(r"xox[abp]-|BEGIN [A-Z ]*PRIVATE KEY", path.read_text()), path


def test_the_config_map_holds_a_valid_chatops_yaml_mounted_where_chatops_config_points() -> None:
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    assert generator["namespace"] == BOT_NAMESPACE
    load_config(DEPLOY / "chatops.yaml")  # the bot's own loader: unknown keys are errors
    deployment = _bot_deployment()
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    container = _container(deployment)
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
    assert volumes["config"]["configMap"]["name"] == generator["name"]
    assert env["CHATOPS_CONFIG"] == f"{mount['mountPath']}/{generator['files'][0]}"


def test_service_and_disruption_budget_select_the_bot_pods() -> None:
    pod_labels = _bot_deployment()["spec"]["template"]["metadata"]["labels"]
    service = _one("Service", "chatops")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = _one("PodDisruptionBudget", "chatops")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# --- RBAC -----------------------------------------------------------------------------

TARGET_RULES = {
    ("apps", "deployments"): {"get", "list", "watch", "patch"},
    ("apps", "deployments/scale"): {"get", "patch"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "patch"},
    ("", "services"): {"get", "patch"},
    ("", "pods"): {"get", "list"},
    ("", "pods/log"): {"get"},
}
SELF_RULES = {
    ("coordination.k8s.io", "leases"): {"create", "get", "update"},
    ("", "pods"): {"get", "list"},
    ("", "pods/log"): {"get"},
}


def _grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def test_no_role_uses_wildcards_or_cluster_scope() -> None:
    kinds = {d["kind"] for _, d in DOCS}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    for _, doc in DOCS:
        if doc["kind"] != "Role":
            continue
        for rule in doc["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{doc['metadata']['name']}: wildcard in {field}"
            assert not rule.get("nonResourceURLs")


def test_the_roles_grant_exactly_what_the_backends_and_leader_election_need() -> None:
    assert _grants(_one("Role", "chatops-operator")) == TARGET_RULES
    assert _grants(_one("Role", "chatops-self")) == SELF_RULES
    for name in ("chatops-operator", "chatops-self"):
        binding = _one("RoleBinding", name)
        role = _one("Role", name)
        assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": name,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "chatops", "namespace": BOT_NAMESPACE}
        ]
    assert _bot_deployment()["spec"]["template"]["spec"]["serviceAccountName"] == "chatops"
    _one("ServiceAccount", "chatops")


_VERBS = {"read": "get", "list": "list", "patch": "patch", "replace": "update",
          "create": "create", "delete": "delete"}  # fmt: skip
_RESOURCES = {"deployment": ("apps", "deployments"),
              "deployment_scale": ("apps", "deployments/scale"),
              "deployment_status": ("apps", "deployments/status"),
              "pod": ("", "pods"), "pod_log": ("", "pods/log"),
              "service": ("", "services"), "lease": ("coordination.k8s.io", "leases")}  # fmt: skip


def test_the_operator_role_covers_every_kubernetes_call_the_backends_make() -> None:
    """Scans actions/ for API calls, so a new call without its RBAC rule fails here."""
    grants = _grants(_one("Role", "chatops-operator"))
    calls = set()
    for path in (ROOT / "actions").rglob("*.py"):
        text = path.read_text()
        for verb, resource in re.findall(
            r"\.(read|list|patch|replace|create|delete)_namespaced_(\w+?)\(", text
        ):
            if resource == "custom_object":
                continue
            assert resource in _RESOURCES, (
                f"{path}: unknown resource {resource}: map it here and in the Role"
            )
            calls.add((_RESOURCES[resource], _VERBS[verb]))
        for verb in re.findall(
            r"\.(get|patch|replace|create|delete)_namespaced_custom_object\(", text
        ):
            calls.add((("gateway.networking.k8s.io", "httproutes"), _VERBS.get(verb, verb)))
    assert calls, "found no Kubernetes calls in actions/: the scan is broken"
    leases = {call for call in calls if call[0][1] == "leases"}
    missing = {c for c in calls - leases if c[1] not in grants.get(c[0], set())}
    assert not missing, f"the chatops-operator Role lacks {sorted(missing)}"


def test_every_target_namespace_in_the_config_has_the_operator_role() -> None:
    config = load_config(DEPLOY / "chatops.yaml")
    namespaces = {
        env.kubernetes["namespace"]
        for service in config.deploy.services.values()
        for env in service.environments.values()
        if env.backend == "kubernetes" and env.kubernetes
    }
    assert namespaces, "deploy/chatops.yaml should show a kubernetes environment"
    with_role = {
        d["metadata"]["namespace"]
        for _, d in DOCS
        if d["kind"] == "Role" and d["metadata"]["name"] == "chatops-operator"
    }
    assert namespaces <= with_role


def test_kustomize_builds_the_base_when_a_kustomize_binary_is_here() -> None:
    """Optional: neither kustomize nor kubectl is a project dependency (kubeconform is on
    neither PyPI nor Debian), so this only adds a check where one is installed."""
    if shutil.which("kustomize"):
        command = ["kustomize", "build", str(DEPLOY)]
    elif shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(DEPLOY)]
    else:
        pytest.skip("no kustomize or kubectl: `kubectl kustomize deploy/` is checked where present")
    built = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    problems = [p for d in docs for p in k8s_schema.check(d)]
    assert problems == []
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert Path("chatops.yaml").name in config_map["data"]
