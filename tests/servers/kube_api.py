"""An in-process stand-in for the parts of the Kubernetes API server the bot uses.

Kubernetes cannot run where the tests run, and mocking the client library would only test
our beliefs about the API against themselves. This aiohttp server speaks the HTTP API
instead, as the API server documents it: the real paths, the three patch content types
(anything else is a 415 Status), Status objects for every error, a resourceVersion that
each write moves on and that a PATCH or PUT may carry as a precondition (409 when stale),
and `metadata.generation` bumped by spec changes. The real kubernetes_asyncio client
therefore talks to it unchanged.

A small deterministic Deployment controller moves rollouts one step per `tick()` and, with
`auto_tick` on, per GET of the Deployment, so a poller converges without any timing.

Simplifications, none touching fields the bot reads:
- strategic merge patch knows the merge keys of the lists it is used on (containers, env,
  volumes, volumeMounts, imagePullSecrets); other lists are replaced. `$patch` directives
  and server-side apply are not simulated and answer 500, so a test that needs them fails
  loudly instead of passing on invented behaviour;
- rollouts use maxSurge 1 / maxUnavailable 0 and each step takes one tick;
- the progress deadline counts ticks without progress (`progress_deadline_ticks`).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name"}
_MERGE_KEYS |= {"volumeMounts": "mountPath", "imagePullSecrets": "name"}
_REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict"}
_REASONS |= {415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests"}
_REASONS |= {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
_NOT_ALLOWED = "the server does not allow this method on the requested resource"
# (type, status, reason, message) as the Deployment controller writes them.
_CONDITIONS = {
    "created": ("Progressing", "True", "NewReplicaSetCreated",
                'Created new replica set "{}"'),
    "progressing": ("Progressing", "True", "ReplicaSetUpdated",
                    'ReplicaSet "{}" is progressing.'),
    "complete": ("Progressing", "True", "NewReplicaSetAvailable",
                 'ReplicaSet "{}" has successfully progressed.'),
    "timed_out": ("Progressing", "False", "ProgressDeadlineExceeded",
                  'ReplicaSet "{}" has timed out progressing.'),
    "available": ("Available", "True", "MinimumReplicasAvailable",
                  "Deployment has minimum availability."),
    "unavailable": ("Available", "False", "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability."),
}  # fmt: skip


@dataclass(frozen=True)
class Kind:
    resource: str
    group: str
    kind: str
    api_version: str
    # Custom resources take no strategic merge patch and no unconditional update.
    custom: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def patch_types(self) -> tuple[str, ...]:
        # In the API server's order, as its 415 message lists them.
        if self.custom:
            return (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
        return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


DEPLOYMENTS = Kind("deployments", "apps", "Deployment", "apps/v1")
SERVICES = Kind("services", "", "Service", "v1")
PODS = Kind("pods", "", "Pod", "v1")
HTTPROUTES = Kind(
    "httproutes", "gateway.networking.k8s.io", "HTTPRoute", "gateway.networking.k8s.io/v1", True
)
LEASES = Kind("leases", "coordination.k8s.io", "Lease", "coordination.k8s.io/v1")
# metav1.MicroTime as the API server parses it (RFC3339Micro: exactly six digits).
_MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")


class ApiError(Exception):
    """Answered as a `Status` object, as the API server does for every failure."""

    def __init__(
        self, code: int, message: str, details: JSON | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.reason = reason or _REASONS.get(code, "Unknown")

    def response(self) -> web.Response:
        body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        body |= {"message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        return web.json_response({**body, "code": self.code}, status=self.code)


def _details(kind: Kind, name: str) -> JSON:
    return {"name": name, **({"group": kind.group} if kind.group else {}), "kind": kind.resource}


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, f'{kind.qualified} "{name}" not found', _details(kind, name))


def conflict(kind: Kind, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, message, _details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    message = f'{kind.qualified} "{name}" already exists'
    return ApiError(409, message, _details(kind, name), reason="AlreadyExists")


def invalid(kind: str, name: str, path: str, value: object, why: str) -> ApiError:
    return ApiError(422, f'{kind} "{name}" is invalid: {path}: Invalid value: {value}: {why}')


# --- patch algorithms -------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A merge patch in which lists with a merge key merge element by element."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            raise ApiError(500, f"strategic merge directive {key} is not simulated")
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _MERGE_KEYS:
            current, merge_key = result.get(key), _MERGE_KEYS[key]
            merged: list[Any] = copy.deepcopy(current) if isinstance(current, list) else []
            for item in value:
                if not isinstance(item, dict) or merge_key not in item:
                    raise ApiError(
                        422, f"map: {item} does not contain declared merge key: {merge_key}"
                    )
                same = [i for i, old in enumerate(merged) if old.get(merge_key) == item[merge_key]]
                if same:
                    merged[same[0]] = strategic_merge_patch(merged[same[0]], item)
                else:
                    merged.append(strategic_merge_patch({}, item))
            result[key] = merged
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _pointer(path: Any) -> list[str]:
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(token: str, size: int) -> int:
    if not token.isdigit() or int(token) > size:
        raise ApiError(422, f"index {token} out of range")
    return int(token)


def _walk(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(token, len(doc) - 1)]
        else:
            raise ApiError(422, f"doc is missing path: /{'/'.join(tokens)}")
    return doc


def _put(doc: Any, tokens: list[str], value: Any, op: str) -> Any:
    """`add` inserts into lists; `replace` needs the target to exist already."""
    if not tokens:
        return value
    parent, last = _walk(doc, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict) and (op == "add" or last in parent):
        parent[last] = value
    elif isinstance(parent, list) and op == "add":
        parent.insert(len(parent) if last == "-" else _index(last, len(parent)), value)
    elif isinstance(parent, list):
        parent[_index(last, len(parent) - 1)] = value
    else:
        raise ApiError(422, f"{op} operation does not apply: doc is missing path: {last}")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    parent, last = _walk(doc, tokens[:-1]), tokens[-1] if tokens else ""
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, len(parent) - 1))
    raise ApiError(422, f"remove operation does not apply: doc is missing path: {last}")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 JSON Patch, all six operations."""
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else "value"
        raise ApiError(400, f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for operation in operations:
        op, path = operation.get("op"), _pointer(operation.get("path"))
        if op in ("add", "replace", "test") and "value" not in operation:
            raise ApiError(422, f"{op} operation missing value")
        value = copy.deepcopy(operation.get("value"))
        if op in ("add", "replace"):
            doc = _put(doc, path, value, op)
        elif op == "remove":
            _remove(doc, path)
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from"))
            moved = _remove(doc, source) if op == "move" else copy.deepcopy(_walk(doc, source))
            doc = _put(doc, path, moved, "add")
        elif op != "test":
            raise ApiError(422, f"Unexpected kind: {op}")
        elif _walk(doc, path) != value:
            raise ApiError(422, f"testing value {operation.get('path')} failed")
    return doc


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][A-Za-z0-9./_-]*)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)|\s(?P<op2>in|notin)\s*\((?P<set>[^)]*)\))?\s*$"
)


def label_selector(text: str) -> Callable[[Mapping[str, str]], bool]:
    """Equality, inequality, set and existence requirements, comma-separated."""
    requirements: list[tuple[str, str, set[str]]] = []
    for part in re.split(r",(?![^()]*\))", text) if text.strip() else []:
        match = _REQUIREMENT.match(part)
        if match is None or (match["neg"] and (match["op"] or match["op2"])):
            raise ApiError(400, f"unable to parse requirement: {part!r}")
        op = match["op"] or match["op2"] or ("!exists" if match["neg"] else "exists")
        values = {v.strip() for v in (match["set"] or match["value"] or "").split(",")}
        requirements.append((match["key"], {"==": "=", "!=": "notin"}.get(op, op), values))

    def matches(labels: Mapping[str, str]) -> bool:
        for key, op, values in requirements:
            if op in ("=", "in"):
                ok = labels.get(key) in values
            elif op == "notin":  # also `!=`; both match objects without the label
                ok = labels.get(key) not in values
            else:
                ok = (key in labels) == (op == "exists")
            if not ok:
                return False
        return True

    return matches


# --- the server -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any  # the parsed JSON when it parses, else the text; None when empty
    headers: dict[str, str]
    status: int


@dataclass
class _Pod:
    obj: JSON
    template_hash: str
    ready: bool = False


@dataclass
class _Controller:
    pods: list[_Pod] = field(default_factory=list)
    stalled: int = 0
    observed_hash: str = ""


_OBJECT_PATHS: list[tuple[re.Pattern[str], Kind, str]] = [
    (
        re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)(/scale)?$"),
        DEPLOYMENTS,
        "",
    ),
    (re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)()$"), SERVICES, ""),
    (re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)(/log)?$"), PODS, ""),
    (
        re.compile(
            r"^/apis/gateway\.networking\.k8s\.io/v1/namespaces/([^/]+)/httproutes/([^/]+)()$"
        ),
        HTTPROUTES,
        "",
    ),
    (
        re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases/([^/]+)()$"),
        LEASES,
        "",
    ),
]
_POD_LIST = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
# Collections that take a POST (create).
_COLLECTIONS = {LEASES: re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases$")}
# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _hash(value: object, length: int = 10) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


class KubeApiServer:
    """Start/stop like an aiohttp AppRunner on 127.0.0.1, port 0; `url` once started."""

    def __init__(self, *, auto_tick: bool = True, progress_deadline_ticks: int = 3) -> None:
        self.requests: list[RecordedRequest] = []
        self.auto_tick = auto_tick
        self.progress_deadline_ticks = progress_deadline_ticks
        self.failing_images: set[str] = set()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._objects: dict[tuple[str, str, str], JSON] = {}
        self._controllers: dict[tuple[str, str], _Controller] = {}
        self._logs: dict[tuple[str, str, str], list[str]] = {}
        self._faults: list[list[Any]] = []  # [method, path, code, remaining]
        self._hooks: list[tuple[str, str, Callable[[], object]]] = []
        self._barriers: list[list[Any]] = []  # [method, path, parties, arrived, event]
        self._revision = self._serial = 1000
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("KubeApiServer is not started")
        return self._url

    # fixtures and inspection for tests

    def add_deployment(
        self,
        namespace: str,
        name: str,
        image: str,
        *,
        replicas: int = 2,
        labels: dict[str, str] | None = None,
        sidecars: list[JSON] | None = None,
    ) -> JSON:
        """A Deployment (container "app") whose rollout has completed, with ready pods."""
        labels = labels or {"app": name}
        pod_spec = {"containers": [{"name": "app", "image": image}, *(sidecars or [])]}
        spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)}}
        spec["template"] = {"metadata": {"labels": dict(labels)}, "spec": pod_spec}
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
        self._add(
            DEPLOYMENTS, namespace, name, {"spec": spec, "status": {}}, generation=1, labels=labels
        )
        self._controllers[(namespace, name)] = _Controller()
        for _ in range(3 * replicas + 3):
            self._sync(namespace, name)
        return self.get(DEPLOYMENTS, namespace, name)

    def add_service(self, namespace: str, name: str, selector: dict[str, str]) -> JSON:
        spec = {
            "selector": selector,
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
        }
        return self._add(SERVICES, namespace, name, {"spec": spec, "status": {"loadBalancer": {}}})

    def add_lease(self, namespace: str, name: str, spec: JSON) -> JSON:
        return self._add(LEASES, namespace, name, {"spec": copy.deepcopy(spec)})

    def add_httproute(self, namespace: str, name: str, rules: list[JSON]) -> JSON:
        spec = {"parentRefs": [{"name": "public", "namespace": "gateways"}], "rules": rules}
        return self._add(HTTPROUTES, namespace, name, {"spec": spec, "status": {}}, generation=1)

    def get(self, kind: Kind, namespace: str, name: str) -> JSON:
        return copy.deepcopy(self._objects[(kind.resource, namespace, name)])

    def edit(self, kind: Kind, namespace: str, name: str, change: Callable[[JSON], object]) -> JSON:
        """Someone else's write (kubectl edit): it moves resourceVersion like any write."""
        current = self._objects[(kind.resource, namespace, name)]
        new = copy.deepcopy(current)
        change(new)
        return copy.deepcopy(self._store(kind, name, current, new))

    def pods(self, namespace: str, deployment: str) -> list[JSON]:
        return [copy.deepcopy(p.obj) for p in self._controllers[(namespace, deployment)].pods]

    def set_logs(self, namespace: str, pod: str, container: str, lines: list[str]) -> None:
        self._logs[(namespace, pod, container)] = list(lines)

    def fail_image(self, image: str) -> None:
        """Pods running `image` crash-loop, so a rollout to it never becomes ready."""
        self.failing_images.add(image)

    def tick(self, times: int = 1) -> None:
        for _ in range(times):
            for namespace, name in list(self._controllers):
                self._sync(namespace, name)

    def inject_error(self, method: str, path: str, code: int = 503, *, times: int = 1) -> None:
        """The next `times` requests for exactly `method path` answer with a `code` Status."""
        self._faults.append([method.upper(), path, code, times])

    def after_next(self, method: str, path: str, action: Callable[[], object]) -> None:
        """Run `action` just after answering the next `method path`: a concurrent writer."""
        self._hooks.append((method.upper(), path, action))

    def barrier(self, method: str, path: str, parties: int) -> None:
        """Hold the next `parties` requests for `method path` until all have arrived, then
        answer them: concurrent clients are sure to read the same resourceVersion."""
        self._barriers.append([method.upper(), path, parties, 0, asyncio.Event()])

    def requests_for(self, method: str, path_part: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and path_part in r.path]

    # HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        gate = next((b for b in self._barriers if b[:2] == [request.method, request.path]), None)
        if gate is not None:
            gate[3] += 1
            if gate[3] >= gate[2]:
                self._barriers.remove(gate)
                gate[4].set()
            await gate[4].wait()
        try:
            fault = next(
                (f for f in self._faults if f[:2] == [request.method, request.path] and f[3]), None
            )
            if fault is not None:
                fault[3] -= 1
                raise ApiError(fault[2], "injected failure")
            if raw and isinstance(body, str) and request.method in ("PATCH", "PUT"):
                raise ApiError(400, "error decoding request body: invalid character")
            response = self._dispatch(request, body)
        except ApiError as error:
            response = error.response()
        headers, ctype = dict(request.headers), request.headers.get("Content-Type")
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                ctype,
                body,
                headers,
                response.status,
            )
        )
        for hook in [h for h in self._hooks if h[:2] == (request.method, request.path)][:1]:
            self._hooks.remove(hook)
            hook[2]()
        return response

    def _dispatch(self, request: web.Request, body: Any) -> web.StreamResponse:
        method, path = request.method, request.path
        if match := _POD_LIST.match(path):
            if method != "GET":
                raise ApiError(405, _NOT_ALLOWED)
            return self._list_pods(match[1], request.query.get("labelSelector", ""))
        for kind, collection in _COLLECTIONS.items():
            if match := collection.match(path):
                if method != "POST":
                    raise ApiError(405, _NOT_ALLOWED)
                return web.json_response(self._create(kind, match[1], body), status=201)
        for pattern, kind, _ in _OBJECT_PATHS:
            if not (match := pattern.match(path)):
                continue
            namespace, name, sub = match[1], match[2], match[3]
            if kind is PODS and method == "GET":
                pod = self._find_pod(namespace, name)
                return self._pod_log(pod, request.query) if sub else web.json_response(pod.obj)
            if sub == "/scale":
                return web.json_response(self._scale(method, namespace, name, request, body))
            if kind is not PODS:
                return web.json_response(self._object(kind, method, namespace, name, request, body))
            raise ApiError(405, _NOT_ALLOWED)
        raise ApiError(404, "the server could not find the requested resource", {})

    def _object(
        self, kind: Kind, method: str, namespace: str, name: str, request: web.Request, body: Any
    ) -> JSON:
        current = self._objects.get((kind.resource, namespace, name))
        if current is None:
            raise not_found(kind, name)
        if method == "GET":
            if kind is DEPLOYMENTS and self.auto_tick:
                self._sync(namespace, name)
            return current
        if method == "PATCH":
            return self._store(kind, name, current, self._patched(kind, current, request, body))
        if method != "PUT":
            raise ApiError(405, _NOT_ALLOWED)
        if not isinstance(body, dict):
            raise ApiError(400, "the request body is not an object")
        if kind.custom and not body.get("metadata", {}).get("resourceVersion"):
            raise invalid(
                kind.qualified,
                name,
                "metadata.resourceVersion",
                "0x0",
                "must be specified for an update",
            )
        return self._store(kind, name, current, copy.deepcopy(body))

    def _create(self, kind: Kind, namespace: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body is not an object")
        meta = body.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise invalid(kind.kind, "", "metadata.name", '""', "name or generateName is required")
        if meta.get("namespace") not in (None, "", namespace):
            raise ApiError(
                400,
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        if meta.get("resourceVersion"):
            raise ApiError(500, "resourceVersion should not be set on objects to be created")
        if (kind.resource, namespace, name) in self._objects:
            raise already_exists(kind, name)
        self._validate(kind, name, body)
        content = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("metadata", "status")}
        extra = {k: copy.deepcopy(v) for k, v in meta.items() if k in ("labels", "annotations")}
        return self._add(kind, namespace, name, content, **extra)

    def _validate(self, kind: Kind, name: str, obj: JSON) -> None:
        if kind is not LEASES:
            return
        spec = obj.get("spec") or {}
        for field_name in ("acquireTime", "renewTime"):
            value = spec.get(field_name)
            if value is not None and not (isinstance(value, str) and _MICRO_TIME.match(value)):
                raise ApiError(
                    400,
                    f'Lease in version "v1" cannot be handled as a Lease: parsing time '
                    f'"{value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse',
                )
        for field_name in ("leaseDurationSeconds", "leaseTransitions"):
            value = spec.get(field_name)
            if value is None:
                continue
            low, why = (
                (1, "must be greater than 0")
                if field_name == "leaseDurationSeconds"
                else (0, "must be greater than or equal to 0")
            )
            if type(value) is not int or value < low:
                raise invalid("Lease.coordination.k8s.io", name, f"spec.{field_name}", value, why)

    def _patched(self, kind: Kind, current: JSON, request: web.Request, body: Any) -> JSON:
        media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media not in kind.patch_types:
            accepted = ", ".join(kind.patch_types)
            message = (
                "the body of the request was in an unknown format - accepted media types include"
            )
            raise ApiError(415, f"{message}: {accepted}")
        if media == APPLY_PATCH:
            raise ApiError(500, "server-side apply is not simulated by this test server")
        if media != JSON_PATCH and not isinstance(body, dict):
            raise ApiError(400, "json: cannot unmarshal array into Go value of type map[string]any")
        patch = {JSON_PATCH: json_patch, MERGE_PATCH: merge_patch}.get(media, strategic_merge_patch)
        result = patch(current, body)
        if not isinstance(result, dict):
            raise ApiError(422, "the patched document is not an object")
        return result

    def _store(self, kind: Kind, name: str, current: JSON, new: JSON) -> JSON:
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        if meta.get("name", name) != name:
            raise ApiError(
                400, f"the name of the object ({meta['name']}) does not match the URL ({name})"
            )
        if meta.get("resourceVersion") not in (None, "", old_meta["resourceVersion"]):
            raise conflict(kind, name)
        spec = new.get("spec") or {}
        if kind is DEPLOYMENTS and (
            type(spec.get("replicas", 1)) is not int or spec.get("replicas", 1) < 0
        ):
            raise invalid(
                "Deployment.apps", name, "spec.replicas", spec.get("replicas"), "must be >= 0"
            )
        self._validate(kind, name, new)
        # Status belongs to its subresource: writes to the main resource leave it alone.
        new.pop("status", None)
        if "status" in current:
            new["status"] = copy.deepcopy(current["status"])
        meta.update({k: old_meta[k] for k in ("name", "namespace", "uid", "creationTimestamp")})
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"] + (new.get("spec") != current.get("spec"))
        meta["resourceVersion"] = self._next_revision()
        current.clear()
        current.update(new)
        return current

    def _scale(
        self, method: str, namespace: str, name: str, request: web.Request, body: Any
    ) -> JSON:
        dep = self._objects.get((DEPLOYMENTS.resource, namespace, name))
        if dep is None:
            raise not_found(DEPLOYMENTS, name)
        meta, replicas = dep["metadata"], dep["spec"].get("replicas", 1)
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
        scale = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            # ScaleSpec.replicas is omitempty: a Deployment scaled to 0 shows an empty spec.
            "spec": {"replicas": replicas} if replicas else {},
            "status": {"replicas": dep["status"].get("replicas", 0), "selector": selector},
        }
        if method == "GET":
            return scale
        if method == "PATCH":
            wanted = self._patched(DEPLOYMENTS, scale, request, body)
        elif method == "PUT" and isinstance(body, dict):
            wanted = body
        else:
            raise ApiError(405, _NOT_ALLOWED)
        count = wanted.get("spec", {}).get("replicas", 0)
        if type(count) is not int or count < 0:
            raise invalid(
                "Scale.autoscaling",
                name,
                "spec.replicas",
                count,
                "must be greater than or equal to 0",
            )
        new = copy.deepcopy(dep)
        new["spec"]["replicas"] = count
        new["metadata"]["resourceVersion"] = wanted.get("metadata", {}).get("resourceVersion")
        self._store(DEPLOYMENTS, name, dep, new)
        return self._scale("GET", namespace, name, request, None)

    def _list_pods(self, namespace: str, selector: str) -> web.Response:
        matches = label_selector(selector)
        items = [
            pod.obj
            for (ns, _), ctl in self._controllers.items()
            for pod in ctl.pods
            if ns == namespace and matches(pod.obj["metadata"]["labels"])
        ]
        meta = {"resourceVersion": str(self._revision)}
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}
        )

    def _find_pod(self, namespace: str, name: str) -> _Pod:
        for (ns, _), ctl in self._controllers.items():
            for pod in ctl.pods:
                if ns == namespace and pod.obj["metadata"]["name"] == name:
                    return pod
        raise not_found(PODS, name)

    def _pod_log(self, pod: _Pod, query: Mapping[str, str]) -> web.Response:
        name, names = (
            pod.obj["metadata"]["name"],
            [c["name"] for c in pod.obj["spec"]["containers"]],
        )
        container = query.get("container") or (names[0] if len(names) == 1 else None)
        if container is None:
            choices = " ".join(names)
            raise ApiError(
                400,
                f"a container name must be specified for pod {name}, choose one of: [{choices}]",
            )
        if container not in names:
            raise ApiError(400, f"container {container} is not valid for pod {name}")
        state = next(s for s in pod.obj["status"]["containerStatuses"] if s["name"] == container)
        if state["state"].get("waiting") and not state["restartCount"]:
            reason = state["state"]["waiting"]["reason"]
            raise ApiError(
                400, f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        default = [f"{name} {container} log line {i}" for i in range(1, 21)]
        lines = self._logs.get((pod.obj["metadata"]["namespace"], name, container), default)
        if "tailLines" in query:
            if not query["tailLines"].isdigit():
                raise ApiError(400, f"invalid tailLines: {query['tailLines']}")
            lines = lines[len(lines) - int(query["tailLines"]) :] if int(query["tailLines"]) else []
        return web.Response(text="".join(f"{line}\n" for line in lines), content_type="text/plain")

    # the Deployment controller

    def _sync(self, namespace: str, name: str) -> None:
        dep, ctl = (
            self._objects[(DEPLOYMENTS.resource, namespace, name)],
            self._controllers[(namespace, name)],
        )
        spec, status, generation = dep["spec"], dep["status"], dep["metadata"]["generation"]
        want, template_hash = spec.get("replicas", 1), _hash(spec["template"])
        replica_set = f"{name}-{template_hash}"
        if status.get("observedGeneration", 0) < generation:
            status["observedGeneration"] = generation
            # A new template starts a new rollout, which clears an earlier timeout.
            if template_hash != ctl.observed_hash:
                self._condition(status, "created", replica_set)
                ctl.observed_hash, ctl.stalled = template_hash, 0
            self._update_status(dep, ctl, template_hash)
            return
        if spec.get("paused"):
            return
        new = [p for p in ctl.pods if p.template_hash == template_hash]
        old = [p for p in ctl.pods if p.template_hash != template_hash]
        failing = any(
            c["image"] in self.failing_images for c in spec["template"]["spec"]["containers"]
        )
        progressed = False
        for pod in (p for p in new if not p.ready):
            if failing:
                self._crash(pod)
            else:
                self._make_ready(pod)
                progressed = True
        while len(new) > want:
            ctl.pods.remove(new.pop())
            progressed = True
        # maxUnavailable 0: retire an old pod only while enough new ones are ready.
        if old and sum(p.ready for p in new) + len(old) > want:
            ctl.pods.remove(next((p for p in old if not p.ready), old[0]))
            progressed = True
        # maxSurge 1: at most one pod above the wanted count.
        if len(new) < want and len(ctl.pods) < want + 1:
            ctl.pods.append(self._new_pod(dep, template_hash))
            progressed = True
        if progressed:
            ctl.stalled = 0
            self._condition(status, "progressing", replica_set)
        elif not self._update_status(dep, ctl, template_hash):
            ctl.stalled += 1
            if ctl.stalled >= self.progress_deadline_ticks:
                self._condition(status, "timed_out", replica_set)
        self._update_status(dep, ctl, template_hash)

    def _update_status(self, dep: JSON, ctl: _Controller, template_hash: str) -> bool:
        """Recompute the counters; zero counters are omitted, as the API omits them."""
        status, want = dep["status"], dep["spec"].get("replicas", 1)
        updated = sum(p.template_hash == template_hash for p in ctl.pods)
        ready = sum(p.ready for p in ctl.pods)
        counts = {"replicas": len(ctl.pods), "updatedReplicas": updated, "readyReplicas": ready}
        counts |= {"availableReplicas": ready, "unavailableReplicas": max(want - ready, 0)}
        for key, value in counts.items():
            if value:
                status[key] = value
            else:
                status.pop(key, None)
        self._condition(status, "available" if ready >= want else "unavailable", "")
        complete = bool(updated == want == len(ctl.pods) and ready >= want)
        if complete and status.get("observedGeneration") == dep["metadata"]["generation"]:
            self._condition(status, "complete", f"{dep['metadata']['name']}-{template_hash}")
        return complete

    def _condition(self, status: JSON, preset: str, replica_set: str) -> None:
        kind, value, reason, message = _CONDITIONS[preset]
        conditions: list[JSON] = status.setdefault("conditions", [])
        current = next((c for c in conditions if c["type"] == kind), None)
        now = self._now()
        if current is None:
            current = {"type": kind, "lastTransitionTime": now}
            conditions.append(current)
        elif current["status"] != value:
            current["lastTransitionTime"] = now
        current |= {
            "status": value,
            "reason": reason,
            "message": message.format(replica_set),
            "lastUpdateTime": now,
        }

    def _new_pod(self, dep: JSON, template_hash: str) -> _Pod:
        template = dep["spec"]["template"]
        namespace, deployment = dep["metadata"]["namespace"], dep["metadata"]["name"]
        meta = self._new_meta(namespace, f"{deployment}-{template_hash}-{_hash(self._serial, 5)}")
        meta["labels"] = {
            **template.get("metadata", {}).get("labels", {}),
            "pod-template-hash": template_hash,
        }
        owner = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{deployment}-{template_hash}",
        }
        meta["ownerReferences"] = [{**owner, "uid": f"rs-{template_hash}", "controller": True}]
        statuses = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
            }
            | {"started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
            for c in template["spec"]["containers"]
        ]
        status = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": copy.deepcopy(template["spec"]),
        }
        return _Pod({**pod, "status": {**status, "containerStatuses": statuses}}, template_hash)

    def _make_ready(self, pod: _Pod) -> None:
        now, status = self._now(), pod.obj["status"]
        status |= {
            "phase": "Running",
            "startTime": now,
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        for container in status["containerStatuses"]:
            container |= {"ready": True, "started": True, "state": {"running": {"startedAt": now}}}
        pod.ready = True
        pod.obj["metadata"]["resourceVersion"] = self._next_revision()

    def _crash(self, pod: _Pod) -> None:
        status, name = pod.obj["status"], pod.obj["metadata"]["name"]
        status |= {"phase": "Running", "startTime": status.get("startTime", self._now())}
        for container in status["containerStatuses"]:
            crashing = container["image"] in self.failing_images
            container |= {"ready": not crashing, "started": not crashing}
            if crashing:
                message = f"back-off 10s restarting failed container={container['name']} pod={name}"
                container["restartCount"] += 1
                container["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
                container["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
            else:
                container["state"] = {"running": {"startedAt": self._now()}}
        pod.obj["metadata"]["resourceVersion"] = self._next_revision()

    # bookkeeping

    def _add(self, kind: Kind, namespace: str, name: str, content: JSON, **meta: Any) -> JSON:
        metadata = {**self._new_meta(namespace, name), **meta}
        obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata, **content}
        self._objects[(kind.resource, namespace, name)] = obj
        return copy.deepcopy(obj)

    def _new_meta(self, namespace: str, name: str) -> JSON:
        self._serial += 1
        uid = f"00000000-0000-4000-8000-{self._serial:012d}"
        meta = {"name": name, "namespace": namespace, "uid": uid}
        return meta | {"resourceVersion": self._next_revision(), "creationTimestamp": self._now()}

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
