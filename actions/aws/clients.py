"""Thread-safe, reused boto3 clients and a way to call them without blocking the loop.

boto3 is synchronous, so every call is pushed to a worker thread with asyncio.to_thread.
boto3 clients are thread-safe but creating one is slow (it loads the service model) and a
boto3 Session is not thread-safe, so one session per AwsClients creates each
(service, region) client once, under a lock, and the client is then shared by all threads.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from actions.aws.errors import AwsError, translate

# Standard retry mode backs off on throttling and 5xx before we ever see an error. The
# attempt count is left to AWS_MAX_ATTEMPTS / the profile (default 3) so operators and
# tests can tune it. Timeouts are bounded so that a hung connection cannot stall a
# rollout poll for botocore's default 60 seconds.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard"},
    connect_timeout=5,
    read_timeout=20,
)


class AwsClients:
    """Lazily created boto3 clients keyed by (service, region), shared across threads.

    Credentials come from boto3's default chain (environment, profile, instance or task
    role); `endpoint_url` points every client at a stand-in such as moto or LocalStack.
    """

    def __init__(self, *, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._members: dict[tuple[str, str], frozenset[str]] = {}

    def _client(self, service: str, region: str) -> Any:
        # Runs in worker threads: the lock serialises use of the (non-thread-safe) session.
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=_CLIENT_CONFIG,
                )
                self._clients[(service, region)] = client
            return client

    def _invoke(self, service: str, region: str, operation: str, params: dict[str, Any]) -> Any:
        try:
            client = self._client(service, region)
            return getattr(client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, service, operation) from exc

    async def call(
        self, service: str, region: str, operation: str, /, **params: Any
    ) -> dict[str, Any]:
        """Run `client.<operation>(**params)` in a worker thread; failures raise AwsError."""
        result = await asyncio.to_thread(self._invoke, service, region, operation, params)
        if not isinstance(result, dict):
            raise AwsError(f"AWS {service} {operation} returned no data", transient=False)
        return result

    def _input_members(self, service: str, region: str, operation: str) -> frozenset[str]:
        key = (service, operation)
        members = self._members.get(key)
        if members is None:
            model = self._client(service, region).meta.service_model
            members = frozenset(model.operation_model(operation).input_shape.members)
            self._members[key] = members
        return members

    async def input_members(self, service: str, region: str, operation: str) -> frozenset[str]:
        """Parameter names that `operation` (API name, e.g. "RegisterTaskDefinition") accepts.

        Read from botocore's service model, so a copy of a described resource keeps up
        with new API fields without a code change here.
        """
        return await asyncio.to_thread(self._input_members, service, region, operation)
