"""Fixtures for the Kubernetes tests: the API test server and a real client aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio.client import ApiClient

from actions.kube.client import api_client_for_host
from tests.servers.kube_api import KubeApiServer


@pytest.fixture
async def kube() -> AsyncIterator[KubeApiServer]:
    server = KubeApiServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(kube: KubeApiServer) -> AsyncIterator[ApiClient]:
    client = await api_client_for_host(kube.url)
    try:
        yield client
    finally:
        await client.close()
