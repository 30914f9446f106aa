"""Reading who is on call from PagerDuty's REST API v2 (`/oncalls`, `/schedules`, `/services`).

The same transport as the incidents client (token header, error classes, the token
scrubbed from every message); reads only. `GET /oncalls` is paged with `offset`/`limit`
until `more` is false, at most MAX_PAGES pages, so a huge account cannot keep a slash
command busy for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlencode

from pydantic import ValidationError

from actions.pagerduty import TemporaryPagerError
from actions.pagerduty.incidents import IncidentsClient, validate_incident_id
from oncall.pagerduty import OnCall, OnCallPage, Schedule, Service

PAGE_LIMIT = 100  # PagerDuty's largest `limit` for classic pagination
MAX_PAGES = 10
_T = TypeVar("_T", OnCallPage, Schedule, Service)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class OnCallsClient(IncidentsClient):
    """Reads on-calls, schedules and services with a REST API token."""

    async def oncalls(
        self,
        *,
        since: datetime,
        until: datetime,
        schedule_ids: Sequence[str] = (),
        escalation_policy_ids: Sequence[str] = (),
    ) -> list[OnCall]:
        """Every on-call overlapping [since, until] for those schedules or policies."""
        params: list[tuple[str, str]] = [("include[]", "users")]
        params += [("schedule_ids[]", validate_incident_id(s)) for s in schedule_ids]
        params += [
            ("escalation_policy_ids[]", validate_incident_id(p)) for p in escalation_policy_ids
        ]
        params += [("since", _iso(since)), ("until", _iso(until)), ("limit", str(PAGE_LIMIT))]
        found: list[OnCall] = []
        offset = 0
        for _ in range(MAX_PAGES):
            body = await self._request(
                "GET", "/oncalls?" + urlencode([*params, ("offset", str(offset))])
            )
            page = _read(OnCallPage, body, "on-calls")
            found.extend(page.oncalls)
            if not page.more or not page.oncalls:
                break
            offset += len(page.oncalls)
        return found

    async def schedule(self, schedule_id: str) -> Schedule:
        body = await self._request("GET", f"/schedules/{validate_incident_id(schedule_id)}")
        return _read(Schedule, body.get("schedule"), "schedule")

    async def service(self, service_id: str) -> Service:
        body = await self._request("GET", f"/services/{validate_incident_id(service_id)}")
        return _read(Service, body.get("service"), "service")


def _read(model: type[_T], data: object, what: str) -> _T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise TemporaryPagerError(
            f"unreadable {what} in PagerDuty's answer: {exc.error_count()} problem(s)"
        ) from exc
