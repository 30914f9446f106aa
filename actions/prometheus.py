"""Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`): PromQL for graphs and
bake analysis.

Queries are POSTed as a form: alerting expressions can be long, and Prometheus accepts
both methods for both endpoints. Every failure (unreachable, timeout, a query Prometheus
refuses, an answer that is not what the API documents) is one `PrometheusError` whose
message says which, so callers can tell people why a graph or a check is missing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

MAX_POINTS = 11_000  # Prometheus refuses a range query of more than 11,000 points per series
# Queries from the bot's own config (bake analysis and charts) are small; the cap is there
# so that no answer, whatever the query, can take the bot's memory. Graphs of alert
# expressions pass their own, smaller cap (`alerts.graphs.max_response`).
MAX_RESPONSE = 32 * 1024 * 1024
_CHUNK = 64 * 1024


class PrometheusError(Exception):
    """A query that gave no data; the message says why, fit to show people."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[datetime, float]]


class PrometheusClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_response: int = MAX_RESPONSE,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._max_response = max_response

    async def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        """An instant query; a scalar answer comes back as one sample without labels."""
        form = {"query": expr}
        if at is not None:
            form["time"] = f"{at.timestamp():.3f}"
        data = await self._post("/api/v1/query", form)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list) and len(result) == 2:
            return [Sample({}, _number(result[1]))]
        if kind != "vector" or not isinstance(result, list):
            raise PrometheusError(f"unexpected answer ({kind}) to an instant query")
        return [Sample(_labels(item), _number(item["value"][1])) for item in result]

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step: timedelta
    ) -> list[RangeSeries]:
        seconds = max(step.total_seconds(), 1.0)
        if (end - start).total_seconds() / seconds > MAX_POINTS:
            seconds = math.ceil((end - start).total_seconds() / MAX_POINTS)
        form = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{seconds:g}",
        }
        data = await self._post("/api/v1/query_range", form)
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError(f"unexpected answer ({data.get('resultType')}) to a range query")
        return [
            RangeSeries(
                _labels(item),
                [(datetime.fromtimestamp(float(t), UTC), _number(v)) for t, v in item["values"]],
            )
            for item in data["result"]
        ]

    async def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            async with self._http.post(
                self._base + path,
                data=form,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                raw = await self._read(response)
                status = response.status
        except TimeoutError as exc:
            raise PrometheusError(f"Prometheus did not answer within {self._timeout:g}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise PrometheusError(f"Prometheus unreachable ({type(exc).__name__})") from exc
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise PrometheusError(f"Prometheus answered {status} without a JSON body")
        if body.get("status") != "success":
            error = str(body.get("error") or "no error message")[:300]
            raise PrometheusError(f"Prometheus refused the query ({status}): {error}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise PrometheusError("Prometheus answered without data")
        return data

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The answer's body, read as it arrives and given up (the connection closed, so
        Prometheus stops sending) as soon as it is over `max_response` bytes."""
        too_large = PrometheusError(
            f"Prometheus's answer is over {_size(self._max_response)}, more than a graph "
            "needs: the expression selects too many series"
        )
        if response.content_length is not None and response.content_length > self._max_response:
            response.close()
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_response:
                response.close()
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def _labels(item: dict[str, Any]) -> dict[str, str]:
    metric = item.get("metric") or {}
    return {str(k): str(v) for k, v in metric.items()}


def _number(value: Any) -> float:
    # Prometheus sends sample values as strings, including "NaN", "+Inf" and "-Inf".
    return float(value)


def series_label(labels: dict[str, str]) -> str:
    """`name{a="1", b="2"}` as Prometheus writes a series, for legends."""
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest else (name or "{}")
