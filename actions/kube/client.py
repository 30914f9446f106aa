"""Building the Kubernetes ApiClient, and saying what went wrong when a call fails.

The bot normally runs inside the cluster it deploys to (service account), an operator's
laptop has a kubeconfig, and the tests point at a local server. One module covers the
three so that nothing touches kubernetes_asyncio's process-wide default Configuration,
which would leak credentials between clusters and state between tests.

It also turns client-library failures (ApiException, aiohttp errors, timeouts) into one
KubeApiError whose text is fit for Slack and which says whether a retry makes sense, so
the deploy backend and the runbook steps report failures alike, and checks names before
they are put into request URLs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar, cast

import aiohttp
from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration, V1LabelSelector
from kubernetes_asyncio.client.rest import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException
from kubernetes_asyncio.config.incluster_config import InClusterConfigLoader

T = TypeVar("T")
# Builds the client on first use, so a bot without cluster access starts fine.
ApiClientFactory = Callable[[], Awaitable[ApiClient]]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# Status messages can quote whole objects; Slack needs the gist, not a wall of text.
_MAX_MESSAGE = 300


class KubeApiError(Exception):
    """A Kubernetes API call failed; `str()` is safe to show in Slack.

    `status` is the HTTP status (None when the server was not reached), `reason` the
    Status reason such as "NotFound" or "Conflict", `transient` whether retrying later
    may succeed (5xx, 429 throttling, connection errors and timeouts).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.transient = transient


async def api_client_for_host(
    host: str, *, token: str | None = None, ca_cert: str | None = None, verify_ssl: bool = True
) -> ApiClient:
    """A client for an explicit API server URL (tests, or a bot outside any cluster)."""
    configuration = Configuration(host=host.rstrip("/"), ssl_ca_cert=ca_cert)
    configuration.verify_ssl = verify_ssl
    if token:
        configuration.api_key = {"BearerToken": f"Bearer {token}"}
    return ApiClient(configuration=configuration)


async def in_cluster_api_client(
    *,
    token_path: Path = SERVICE_ACCOUNT_DIR / "token",
    ca_path: Path = SERVICE_ACCOUNT_DIR / "ca.crt",
    environ: Mapping[str, str] | None = None,
) -> ApiClient:
    """A client using the pod's service account; the token is re-read as it rotates."""
    configuration = Configuration()
    loader = InClusterConfigLoader(
        token_filename=str(token_path),
        cert_filename=str(ca_path),
        environ=dict(os.environ if environ is None else environ),
    )
    loader.load_and_set(configuration)
    return ApiClient(configuration=configuration)


async def kubeconfig_api_client(
    path: str | os.PathLike[str] | None = None, *, context: str | None = None
) -> ApiClient:
    """A client from a kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."""
    configuration = Configuration()
    # persist_config=False: refreshed tokens must not be written back into the
    # operator's kubeconfig behind their back.
    await config.load_kube_config(
        config_file=None if path is None else os.fspath(path),
        context=context,
        client_configuration=configuration,
        persist_config=False,
    )
    return ApiClient(configuration=configuration)


async def build_api_client(
    *,
    host: str | None = None,
    token: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ApiClient:
    """Pick the way to reach the API server, most explicit first.

    An explicit `host` wins, then an explicit `kubeconfig` (or `context`), then the
    service account when running in a pod (KUBERNETES_SERVICE_HOST is set), and
    otherwise the default kubeconfig.
    """
    env = os.environ if environ is None else environ
    try:
        if host:
            return await api_client_for_host(host, token=token)
        if kubeconfig is not None or context is not None:
            return await kubeconfig_api_client(kubeconfig, context=context)
        if env.get("KUBERNETES_SERVICE_HOST"):
            return await in_cluster_api_client(environ=env)
        return await kubeconfig_api_client()
    except (ConfigException, OSError) as exc:
        raise KubeApiError(f"No usable Kubernetes client configuration: {exc}") from exc


def _status_fields(exc: ApiException) -> tuple[str | None, str]:
    """The Status object's reason and message, or the HTTP reason when there is none."""
    body = exc.body
    try:
        status = json.loads(body) if body else None
    except (TypeError, ValueError):
        status = None
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        reason = status.get("reason")
        return (reason if isinstance(reason, str) else None), status["message"]
    return None, str(exc.reason or "no details")


def translate(exc: ApiException | aiohttp.ClientError | TimeoutError, what: str) -> KubeApiError:
    """Describe a failed call; `what` names the attempt, e.g. "reading Deployment a/b"."""
    if isinstance(exc, ApiException):
        code = int(exc.status or 0)
        reason, message = _status_fields(exc)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        return KubeApiError(
            f"{what} failed: {message} (HTTP {code})",
            status=code,
            reason=reason,
            transient=code >= 500 or code == 429,
        )
    # The exception text can hold URLs and socket details; its type says enough.
    return KubeApiError(
        f"{what} failed: the Kubernetes API did not answer ({type(exc).__name__})",
        transient=True,
    )


async def call(what: str, request: Awaitable[T]) -> T:
    """Await one API request, raising KubeApiError for every way it can fail."""
    try:
        return await request
    except (ApiException, aiohttp.ClientError, TimeoutError) as exc:
        raise translate(exc, what) from exc


async def call_text(what: str, request: Awaitable[object]) -> str:
    """Await a request made with `_preload_content=False` and return its body as text.

    For plain-text answers (pod logs) the client runs json.loads() on the body first, so
    a log that is one JSON line comes back as the repr of a Python dict. Reading the raw
    response keeps the text exactly as the server sent it.
    """
    try:
        response = cast(aiohttp.ClientResponse, await request)
        async with response:
            text = (await response.read()).decode("utf-8", errors="replace")
            status, reason = response.status, response.reason
    except (ApiException, aiohttp.ClientError, TimeoutError) as exc:
        raise translate(exc, what) from exc
    if not 200 <= status <= 299:
        failure = ApiException(status=status, reason=reason)
        failure.body = text.encode()
        raise translate(failure, what)
    return text


# --- names and selectors ----------------------------------------------------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_name(value: object, what: str, *, label: bool = False) -> str:
    """`value` as a DNS-1123 subdomain (object names) or label (namespaces, containers).

    Names end up in request URLs, and some come from alert labels, so anything else is
    refused with ValueError before a request is made.
    """
    limit, pattern = (63, _DNS_LABEL) if label else (253, _DNS_SUBDOMAIN)
    if not isinstance(value, str) or len(value) > limit or not pattern.fullmatch(value):
        kind = "DNS-1123 label" if label else "DNS-1123 subdomain"
        shown = repr(value)[:80]
        raise ValueError(
            f"{what} {shown} is not a valid Kubernetes name: it must be a {kind} of at most "
            f"{limit} lowercase letters, digits and '-'"
            + ("" if label else " or '.'")
            + ", starting and ending with a letter or digit"
        )
    return value


def selector_string(selector: V1LabelSelector | None) -> str:
    """A LabelSelector in the `labelSelector` query syntax, expressions included."""
    if selector is None:
        return ""
    parts = [f"{key}={value}" for key, value in sorted((selector.match_labels or {}).items())]
    for expression in selector.match_expressions or []:
        values = ",".join(expression.values or [])
        operator = expression.operator
        if operator == "In":
            parts.append(f"{expression.key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{expression.key} notin ({values})")
        elif operator == "Exists":
            parts.append(expression.key)
        elif operator == "DoesNotExist":
            parts.append(f"!{expression.key}")
    return ",".join(parts)
