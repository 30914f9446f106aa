"""Acknowledging and resolving PagerDuty incidents through the REST API v2.

This is the Slack -> PagerDuty half of acknowledgement sync: when someone presses
Acknowledge in Slack, the bot updates the incident as that person (the `From` header
names the PagerDuty user the change is attributed to, and PagerDuty requires it for
updates made with an account token). The Events API cannot do this: it addresses alerts
by dedup_key, and incidents that PagerDuty grouped or that humans opened have none of ours.

Like the events client, one HTTP attempt per call, with failures classified for the
durable retry queue: 4xx is permanent (PagerDuty's message and error code kept, so
that e.g. 1001 "Incident Already Resolved" can be treated as done), 408/429/5xx and
network failures are temporary. Setting a status is idempotent, so retrying a PUT whose
answer got lost is safe. The API token never appears in messages or logs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import aiohttp
from pydantic import Field, ValidationError

from actions.pagerduty import InvalidIncidentId, TemporaryPagerError, failure, json_object
from alerts.pagerduty import PagerDutyModel, Reference

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10)
_INCIDENT_ID = re.compile(r"[A-Z0-9]{1,64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_REDACTED = "[api token]"

UpdateStatus = Literal["acknowledged", "resolved"]

# What a refusal means to the person the change was made for, for the REST error codes
# they can do something about; the codes are those of PagerDuty's "Errors" page
# (https://github.com/PagerDuty/developer-docs/blob/main/docs/REST-API/14-Errors.md, served
# under https://developer.pagerduty.com/docs/). 2016 is PagerDuty's answer to a write
# without a From header, though that page's table gives the code another meaning.
_MEANINGS = {
    1001: "the incident is already resolved in PagerDuty",
    1008: "PagerDuty has no user with the login {requester}",
    1018: "the PagerDuty user {requester} may not change this incident",
    2006: "PagerDuty did not accept the bot's API token",
    2010: "the bot's PagerDuty API token may not do this",
    2016: "no PagerDuty user was named for the change",
    2100: "PagerDuty has no such incident",
}


class Assignment(PagerDutyModel):
    at: datetime | None = None
    assignee: Reference


class Incident(PagerDutyModel):
    """The fields of the REST incident representation that the bot uses."""

    id: str
    status: str
    incident_number: int | None = None
    title: str | None = None
    summary: str | None = None
    html_url: str | None = None
    incident_key: str | None = None
    urgency: str | None = None
    created_at: datetime | None = None
    service: Reference | None = None
    escalation_policy: Reference | None = None
    assignments: list[Assignment] = Field(default_factory=list)


def validate_incident_id(incident_id: str) -> str:
    """Return the id if it has PagerDuty's shape, else raise `InvalidIncidentId`.

    Ids reach us from Slack buttons and webhooks; checking them keeps anything else
    (slashes, dots, query strings) out of the request path.
    """
    if not isinstance(incident_id, str) or not _INCIDENT_ID.fullmatch(incident_id):
        raise InvalidIncidentId(f"not a PagerDuty incident id: {incident_id!r:.80}")
    return incident_id


NOTE_LIMIT = 25_000  # PagerDuty's documented limit for a note's content


class IncidentsClient:
    """`GET` and `PUT /incidents/{id}` with a REST API token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str = DEFAULT_API_URL,
        *,
        token: str,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not token:
            raise ValueError("a PagerDuty REST API token is required")
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"IncidentsClient(api_url={self._api_url!r})"

    def use_token(self, token: str) -> None:
        """A rotated API token (SIGHUP) applies to the next request."""
        if not token:
            raise ValueError("a PagerDuty REST API token is required")
        self._token = token

    async def acknowledge(self, incident_id: str, from_email: str) -> Incident:
        """Acknowledge the incident on behalf of the PagerDuty user `from_email`."""
        return await self._update(incident_id, "acknowledged", from_email)

    async def resolve(self, incident_id: str, from_email: str) -> Incident:
        """Resolve the incident on behalf of the PagerDuty user `from_email`."""
        return await self._update(incident_id, "resolved", from_email)

    async def add_note(self, incident_id: str, from_email: str, content: str) -> None:
        """`POST /incidents/{id}/notes` as the PagerDuty user `from_email` (PagerDuty keeps
        a note's author from the From header)."""
        validate_incident_id(incident_id)
        if not _EMAIL.fullmatch(from_email):
            raise ValueError("from_email must be the email address of a PagerDuty user")
        payload = {"note": {"content": content[:NOTE_LIMIT]}}
        await self._request(
            "POST", f"/incidents/{incident_id}/notes", from_email=from_email, payload=payload
        )

    async def get(self, incident_id: str) -> Incident:
        validate_incident_id(incident_id)
        body = await self._request("GET", f"/incidents/{incident_id}")
        return _incident(body)

    async def _update(self, incident_id: str, status: UpdateStatus, from_email: str) -> Incident:
        validate_incident_id(incident_id)
        if not _EMAIL.fullmatch(from_email):
            raise ValueError("from_email must be the email address of a PagerDuty user")
        update = {"incident": {"type": "incident_reference", "status": status}}
        body = await self._request(
            "PUT", f"/incidents/{incident_id}", from_email=from_email, payload=update
        )
        log.info("pagerduty incident %s %s by %s", incident_id, status, from_email)
        return _incident(body)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        from_email: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Token token={self._token}",
            "Accept": ACCEPT,
            "Content-Type": "application/json",
        }
        if from_email is not None:
            headers["From"] = from_email
        data = None if payload is None else json.dumps(payload)
        try:
            async with self._session.request(
                method, self._api_url + path, headers=headers, data=data, timeout=self._timeout
            ) as response:
                status = response.status
                response_headers = response.headers
                raw = await response.read()
        except TimeoutError as exc:
            raise TemporaryPagerError(f"PagerDuty REST API timed out: {method} {path}") from exc
        except aiohttp.ClientError as exc:
            # The token is in a header, never in the URL, so aiohttp's message is safe.
            raise TemporaryPagerError(
                f"could not reach PagerDuty REST API: {type(exc).__name__}: {exc}"
            ) from exc

        body = json_object(raw)
        if 200 <= status < 300:
            if body is None:
                raise TemporaryPagerError(
                    f"PagerDuty answered {status} to {method} {path} without a JSON object",
                    status=status,
                )
            return body

        message, code, errors = self._error(body, raw)
        detail = f"{message}: {'; '.join(errors)}" if errors else message
        log.warning("pagerduty %s %s answered %d: %s", method, path, status, detail)
        raise failure(
            status,
            throttled=f"PagerDuty throttled {method} {path} (429): {detail}",
            unavailable=f"PagerDuty REST API error {status} on {method} {path}: {detail}",
            refused=_refusal(f"{method} {path}", status, code, detail, from_email),
            retry_after=_retry_after(response_headers),
            code=code,
            errors=errors,
        )

    def _error(self, body: dict[str, Any] | None, raw: bytes) -> tuple[str, int | None, list[str]]:
        """PagerDuty's `{"error": {"message", "code", "errors"}}`, token scrubbed."""
        error = body.get("error") if body else None
        if not isinstance(error, dict):
            text = raw[:200].decode("utf-8", errors="replace").strip()
            return self._scrub(text or "no response body"), None, []
        code = error.get("code")
        details = error.get("errors")
        return (
            self._scrub(str(error.get("message") or "no message")),
            code if isinstance(code, int) else None,
            [self._scrub(str(item)) for item in details] if isinstance(details, list) else [],
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, _REDACTED)


def _incident(body: dict[str, Any]) -> Incident:
    try:
        return Incident.model_validate(body.get("incident"))
    except ValidationError as exc:
        # A 2xx we cannot read: the request may well have worked, and setting a status
        # again is harmless, so let the queue retry rather than drop the update.
        raise TemporaryPagerError(
            f"unreadable incident in PagerDuty's answer: {exc.error_count()} problem(s)"
        ) from exc


def _refusal(
    request: str, status: int, code: int | None, detail: str, requester: str | None
) -> str:
    """A 4xx in words: what it means for the clicker first, then PagerDuty's own answer."""
    answer = f"PagerDuty refused {request} ({status}): {detail}"
    meaning = _MEANINGS.get(code) if code is not None else None
    if meaning is None or (requester is None and "{requester}" in meaning):
        return answer
    return f"{meaning.format(requester=requester)} ({answer}, code {code})"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """PagerDuty's `ratelimit-reset` (seconds until the window resets), else Retry-After."""
    for name in ("ratelimit-reset", "Retry-After"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds > 0:
            return seconds
    return None
