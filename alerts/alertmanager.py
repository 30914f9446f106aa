"""Reading Alertmanager-compatible webhook notifications into typed values, tolerantly.

Two senders post to the same endpoint: Alertmanager (version "4") and Grafana alerting's
webhook contact point (version "1", the same shape plus Grafana's fields, see
alerts/grafana.py). A refused notification is a lost one (Alertmanager gives up on a 4xx),
so the reader checks only what the bot acts on: the group's identity, each alert's status,
labels and start. Everything else is taken when it makes sense and ignored when not;
what can be defaulted is (a missing alert status takes the notification's, a missing or
zero start takes the time of receipt and is marked so the message can say so). When the
bot truly cannot act, every problem is named at once, not just the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from alerts import grafana

Status = Literal["firing", "resolved"]
STATUSES: tuple[Status, ...] = ("firing", "resolved")
# The stored status of an alert its group holds as firing that a later, complete
# notification of the group left out (bot/alerts/notification.py). Alertmanager sends every
# alert of a group that is not muted in each notification (Grafana's alerting, built on
# Alertmanager's dispatcher, does the same), so it was silenced or inhibited there: shown
# as "no longer reported", not counted as firing, and left out of Silence all, Acknowledge
# all and paging, until a notification reports it again.
UNREPORTED = "unreported"
MAX_LABEL_VALUE = 4096
MAX_PROBLEMS = 20


class PayloadError(ValueError):
    """The body is not a notification the bot can act on; names every field at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more problems" if more else ""))


def group_key_digest(group_key: str) -> str:
    """The stored key of a group: groupKeys have no length limit (a `group_by: ['...']`
    under a long regex route makes kilobytes), a digest always fits an index."""
    return hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AlertmanagerAlert:
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    fingerprint: str = ""
    # No usable start was sent: `starts_at` is the time of receipt, and the message says so.
    starts_at_assumed: bool = False
    # Grafana's extra per-alert fields (links, image, values), already checked.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def key(self) -> str:
        """The alert's identity: the sender's fingerprint, or a hash of its labels."""
        if self.fingerprint:
            return self.fingerprint[:64]
        canonical = json.dumps(self.labels, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]


@dataclass(frozen=True)
class AlertmanagerNotification:
    version: str
    group_key: str
    status: Status
    alerts: list[AlertmanagerAlert]
    truncated_alerts: int = 0
    receiver: str = ""
    group_labels: dict[str, str] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    source: str = "alertmanager"  # or "grafana"

    @property
    def key_digest(self) -> str:
        return group_key_digest(self.group_key)

    def digest(self) -> str:
        """What makes two deliveries "the same notification" for redelivery purposes.

        Alertmanager re-sends a group on every repeat_interval and after failed attempts;
        only a change in an alert's status or start time is news worth a Slack update. An
        assumed start (the time of receipt) changes with every delivery, so it is left out.
        """
        states = sorted(
            (a.key, a.status, "" if a.starts_at_assumed else a.starts_at.isoformat())
            for a in self.alerts
        )
        raw = json.dumps([self.status, states, self.truncated_alerts]).encode()
        return hashlib.sha256(raw).hexdigest()


def parse_notification(
    body: bytes | str | Mapping[str, Any], *, received_at: datetime | None = None
) -> AlertmanagerNotification:
    """Read a webhook body; raises PayloadError naming every problem when it cannot be used.

    `received_at` stands in for start times the sender did not give (default: now)."""
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(["body is not valid JSON"]) from exc
    else:
        data = body
    if not isinstance(data, Mapping):
        raise PayloadError(["body must be a JSON object (an Alertmanager webhook notification)"])
    return _Reader(received_at or datetime.now(UTC)).notification(data)


class _Reader:
    def __init__(self, received_at: datetime) -> None:
        self.received_at = received_at
        self.problems: list[str] = []

    def fail(self, where: str, problem: str) -> None:
        self.problems.append(f"{where}: {problem}")

    def notification(self, data: Mapping[str, Any]) -> AlertmanagerNotification:
        version = _text(data.get("version")) or "4"
        source = "grafana" if version == "1" or "orgId" in data else "alertmanager"
        receiver = _text(data.get("receiver"))
        group_labels = self.str_map(data.get("groupLabels"), "groupLabels")
        raw_alerts = data.get("alerts")
        items: list[Mapping[str, Any]] = []
        if raw_alerts is None:
            self.fail("alerts", "missing (the list of alerts)")
        elif not isinstance(raw_alerts, list):
            self.fail("alerts", "must be a list of alerts")
        else:
            for index, item in enumerate(raw_alerts):
                if isinstance(item, Mapping):
                    items.append(item)
                else:
                    self.fail(f"alerts.{index}", "must be an object")
        status = self.status(data, items)
        alerts = [self.alert(item, index, status) for index, item in enumerate(items)]
        group_key = _text(data.get("groupKey"))
        if not group_key:
            # Alertmanager always sends one; for other senders, the same shape it has.
            group_key = f"{receiver}:{json.dumps(group_labels, sort_keys=True)}"
        truncated = data.get("truncatedAlerts")
        if self.problems or status is None:
            raise PayloadError(self.problems or ["status: missing"])
        return AlertmanagerNotification(
            version=version,
            group_key=group_key,
            status=status,
            alerts=alerts,
            truncated_alerts=truncated
            if isinstance(truncated, int) and _is_count(truncated)
            else 0,
            receiver=receiver,
            group_labels=group_labels,
            common_labels=self.str_map(data.get("commonLabels"), "commonLabels"),
            common_annotations=self.str_map(
                data.get("commonAnnotations"), "commonAnnotations", nested_ok=True
            ),
            external_url=_text(data.get("externalURL")),
            source=source,
        )

    def status(self, data: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Status | None:
        raw = data.get("status")
        if raw is not None:
            status = _status(raw)
            if status is None:
                self.fail("status", f"must be firing or resolved, not {_shown(raw)}")
            return status
        # Not sent: Grafana's state says it, else the alerts do.
        state = grafana.status_of_state(data.get("state"))
        if state is not None:
            return cast(Status, state)
        statuses = [_status(item.get("status")) for item in items]
        if statuses and all(s is not None for s in statuses):
            return "firing" if "firing" in statuses else "resolved"
        self.fail("status", "missing (firing or resolved), and the alerts do not say either")
        return None

    def alert(
        self, raw: Mapping[str, Any], index: int, default: Status | None
    ) -> AlertmanagerAlert:
        at = f"alerts.{index}"
        status = default
        if raw.get("status") is not None:
            status = _status(raw["status"])
            if status is None:
                self.fail(
                    f"{at}.status", f"must be firing or resolved, not {_shown(raw['status'])}"
                )
        labels = self.str_map(raw.get("labels"), f"{at}.labels", required=True)
        starts_at = self.time(raw.get("startsAt"), f"{at}.startsAt")
        ends_at = self.time(raw.get("endsAt"), f"{at}.endsAt", strict=False)
        assumed = starts_at is None
        if starts_at is None:
            starts_at = self.received_at
        if status != "resolved" or (ends_at is not None and ends_at < starts_at):
            # A firing alert's endsAt is only the sender's guess of when it would lapse.
            ends_at = None
        fingerprint = raw.get("fingerprint")
        return AlertmanagerAlert(
            status=status or "firing",
            labels=labels,
            annotations=self.str_map(raw.get("annotations"), f"{at}.annotations", nested_ok=True),
            starts_at=starts_at,
            ends_at=ends_at,
            generator_url=_text(raw.get("generatorURL"))[:2048],
            fingerprint=fingerprint if isinstance(fingerprint, str) else "",
            starts_at_assumed=assumed,
            extras=grafana.alert_extras(raw),
        )

    def str_map(
        self, value: object, where: str, *, required: bool = False, nested_ok: bool = False
    ) -> dict[str, str]:
        """Labels and annotations: strings, with numbers and booleans written as text (as
        some Alertmanager-compatible senders send them); null values are dropped."""
        if value is None:
            if required:
                self.fail(where, "missing (an object of strings)")
            return {}
        if not isinstance(value, Mapping):
            self.fail(where, "must be an object of strings")
            return {}
        out: dict[str, str] = {}
        for key, item in value.items():
            if item is None:
                continue
            text = _scalar_text(item)
            if text is None:
                if not nested_ok:
                    self.fail(f"{where}.{key}", "must be a string, not a list or an object")
                    continue
                text = json.dumps(item, sort_keys=True, default=str)
            out[str(key)] = text[:MAX_LABEL_VALUE]
        return out

    def time(self, value: object, where: str, *, strict: bool = True) -> datetime | None:
        """None for "not given" (missing, null, empty, or Go's zero time)."""
        if value is None or value == "":
            return None
        moment = _parse_time(value)
        if moment is None:
            if strict:
                self.fail(where, f"must be an RFC 3339 time, not {_shown(value)}")
            return None
        return None if moment.year <= 1 else moment


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.year <= 1:
        return moment.replace(tzinfo=UTC)  # the zero time; converting it could overflow
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        return None


def _status(value: object) -> Status | None:
    text = value.strip().lower() if isinstance(value, str) else ""
    return next((status for status in STATUSES if status == text), None)


def _scalar_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _text(value: object) -> str:
    """A string field the bot does not act on: taken when it is text, else empty."""
    if isinstance(value, bool):
        return ""
    return _scalar_text(value) or ""


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"
