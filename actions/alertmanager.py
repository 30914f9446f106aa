"""Alertmanager API v2 client: creating and expiring silences, and how far one would reach."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from alerts.silences import covered, covers_note, silences_reaching_beyond, why_broader


class SilenceError(Exception):
    """Alertmanager refused or could not be reached; the message is safe to show in Slack."""


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def as_api(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @property
    def operator(self) -> str:
        if self.is_equal:
            return "=~" if self.is_regex else "="
        return "!~" if self.is_regex else "!="

    def as_filter(self) -> str:
        """The matcher in the API's `filter` syntax, its value quoted and escaped."""
        return f"{self.name}{self.operator}{json.dumps(self.value, ensure_ascii=False)}"

    def __str__(self) -> str:
        return f'{self.name}{self.operator}"{self.value}"'


# The states GET /api/v2/alerts filters on; "silenced" and "inhibited" are the muted ones.
ALERT_STATES = ("active", "silenced", "inhibited", "unprocessed")
MUTED_STATES = ("silenced", "inhibited")


def equality_matchers(labels: Mapping[str, str]) -> list[Matcher]:
    return [Matcher(name, value) for name, value in sorted(labels.items())]


class AlertmanagerClient:
    def __init__(self, session: aiohttp.ClientSession, url: str, *, timeout: float = 10) -> None:
        self._session = session
        self._url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def create_silence(
        self,
        matchers: list[Matcher],
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
        covers: Iterable[str] | None,
    ) -> str:
        """POST /api/v2/silences; returns the new silence's id. `covers`: the fingerprints
        of the alerts it is made for, so it is expired if found silencing any other; None
        for a silence an approver made broader on purpose."""
        if not matchers:
            raise SilenceError("a silence needs at least one label matcher")
        body = {
            "matchers": [m.as_api() for m in matchers],
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": created_by,
            "comment": comment + (covers_note(covers) if covers is not None else ""),
        }
        try:
            async with self._session.post(
                f"{self._url}/api/v2/silences", json=body, timeout=self._timeout
            ) as response:
                text = await response.text()
                if response.status != 200:
                    raise SilenceError(f"Alertmanager answered {response.status}: {text[:200]}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SilenceError(f"Alertmanager could not be reached ({type(exc).__name__})") from exc
        silence_id = data.get("silenceID") if isinstance(data, dict) else None
        if not isinstance(silence_id, str):
            raise SilenceError("Alertmanager's answer had no silenceID")
        return silence_id

    async def fingerprints_matching(
        self, matchers: list[Matcher], states: Collection[str] = ALERT_STATES
    ) -> set[str]:
        """GET /api/v2/alerts: the fingerprints of every alert Alertmanager holds in one of
        `states` (by default any: active, silenced, inhibited or unprocessed) that all of
        `matchers` match."""
        params = [("filter", m.as_filter()) for m in matchers]
        params += [(state, "true" if state in states else "false") for state in ALERT_STATES]
        data = await self._get_list("/api/v2/alerts", params)
        return {str(item["fingerprint"]) for item in data if "fingerprint" in item}

    async def _get_list(self, path: str, params: list[tuple[str, str]]) -> list[Any]:
        try:
            async with self._session.get(
                f"{self._url}{path}", params=params, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise SilenceError(f"Alertmanager answered {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SilenceError(f"Alertmanager could not be reached ({type(exc).__name__})") from exc
        if not isinstance(data, list):
            raise SilenceError(f"Alertmanager's answer to {path} was not a list")
        return [item for item in data if isinstance(item, dict)]

    async def silences_beyond_their_alerts(
        self,
    ) -> dict[str, tuple[frozenset[str], dict[str, str]]]:
        """The bot's active silences that silence an alert they were not made for: silence
        id -> (the fingerprints it was made for, {other fingerprint: its alertname})."""
        ours = {
            str(item["id"]): str(item.get("comment", ""))
            for item in await self._get_list("/api/v2/silences", [])
            if isinstance(item.get("status"), dict)
            and item["status"].get("state") == "active"
            and "id" in item
            and covered(str(item.get("comment", ""))) is not None
        }
        if not ours:
            return {}
        alerts = await self._get_list(
            "/api/v2/alerts", [("silenced", "true"), ("inhibited", "true"), ("active", "false")]
        )
        names: dict[str, str] = {}
        listed: list[tuple[str, list[str]]] = []
        for item in alerts:
            status, labels = item.get("status"), item.get("labels")
            by = status.get("silencedBy") if isinstance(status, dict) else None
            if not isinstance(by, list) or "fingerprint" not in item:
                continue
            fingerprint = str(item["fingerprint"])
            listed.append((fingerprint, [str(sid) for sid in by]))
            name = labels.get("alertname", "") if isinstance(labels, dict) else ""
            names[fingerprint] = str(name)
        beyond = silences_reaching_beyond(ours, listed)
        return {
            sid: (covered(ours[sid]) or frozenset(), {fp: names.get(fp, "") for fp in extra})
            for sid, extra in beyond.items()
        }

    async def expire_silence(self, silence_id: str) -> None:
        try:
            async with self._session.delete(
                f"{self._url}/api/v2/silence/{silence_id}", timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise SilenceError(f"Alertmanager answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SilenceError(f"Alertmanager could not be reached ({type(exc).__name__})") from exc


async def silence_breadth(
    client: AlertmanagerClient,
    labels: Mapping[str, str],
    ours: frozenset[str],
    extra: Sequence[Matcher] = (),
) -> str | None:
    """Why a silence on `labels` (and `extra` matchers) would reach beyond the group whose
    alerts are `ours` (fingerprints), or None; asks Alertmanager which alerts it would
    match now. Raises SilenceError when Alertmanager cannot say."""
    if not labels.get("alertname"):
        return why_broader(labels, 0)  # broad whatever Alertmanager holds now
    matchers = [*equality_matchers(labels), *extra]
    outside = len(await client.fingerprints_matching(matchers) - ours)
    return why_broader(labels, outside)
