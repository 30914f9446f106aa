"""Building ApiClients from an explicit host, a kubeconfig file or the service account."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import certifi
import pytest
import yaml

from actions.kube.client import (
    KubeApiError,
    api_client_for_host,
    build_api_client,
    check_name,
    in_cluster_api_client,
)
from actions.kube.operations import KubeOperations
from tests.servers.kube_api import KubeApiServer


def write_kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "elsewhere",
        "clusters": [
            {"name": "test", "cluster": {"server": server}},
            {"name": "other", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "bot", "user": {"token": "kubeconfig-token"}}],
        "contexts": [
            {"name": "test", "context": {"cluster": "test", "user": "bot"}},
            {"name": "elsewhere", "context": {"cluster": "other", "user": "bot"}},
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def list_pods_with(kube: KubeApiServer, client: Any) -> str | None:
    """Make one request through `client` and return the Authorization header it sent."""
    kube.add_deployment("prod", "api", "reg/api:v1", replicas=1)
    await KubeOperations(client).pods("prod", "api")
    return kube.requests[-1].headers.get("Authorization")


async def test_explicit_host_with_a_token(kube: KubeApiServer) -> None:
    client = await api_client_for_host(kube.url + "/", token="s3cret")
    try:
        assert await list_pods_with(kube, client) == "Bearer s3cret"
    finally:
        await client.close()


async def test_kubeconfig_file_and_context(kube: KubeApiServer, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", kube.url)

    client = await build_api_client(kubeconfig=path, context="test")
    try:
        assert await list_pods_with(kube, client) == "Bearer kubeconfig-token"
    finally:
        await client.close()
    # The file is left as it was: refreshed credentials are not written back.
    assert yaml.safe_load(path.read_text())["current-context"] == "elsewhere"


async def test_in_cluster_uses_the_service_account(tmp_path: Path) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    # Any real PEM bundle will do: the client loads it but connects nowhere here.
    shutil.copy(certifi.where(), ca)
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    client = await in_cluster_api_client(token_path=token, ca_path=ca, environ=environ)
    try:
        configuration = client.configuration
        assert configuration.host == "https://10.0.0.1:443"
        assert configuration.ssl_ca_cert == str(ca)
        assert await configuration.get_api_key_with_prefix("BearerToken") == "Bearer sa-token"
    finally:
        await client.close()


async def test_explicit_host_wins_over_the_environment(kube: KubeApiServer) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    client = await build_api_client(host=kube.url, environ=environ)
    try:
        assert client.configuration.host == kube.url
    finally:
        await client.close()


async def test_in_cluster_without_a_service_account_is_an_error() -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    with pytest.raises(KubeApiError, match="No usable Kubernetes client configuration"):
        await build_api_client(environ=environ)


async def test_missing_kubeconfig_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KubeApiError, match="No usable Kubernetes client configuration"):
        await build_api_client(kubeconfig=tmp_path / "absent", environ={})


@pytest.mark.parametrize("name", ["a", "api-blue", "a.b-c", "0", "x" * 253])
def test_subdomain_names_pass(name: str) -> None:
    assert check_name(name, "name") == name


@pytest.mark.parametrize("name", ["a.b", "x" * 64])
def test_labels_are_stricter_than_subdomains(name: str) -> None:
    assert check_name(name, "name") == name
    with pytest.raises(ValueError, match="DNS-1123 label"):
        check_name(name, "namespace", label=True)
