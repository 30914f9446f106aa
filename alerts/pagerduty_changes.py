"""What each PagerDuty incident event means for the bot (pure: no database, no Slack).

One decision per event: the line the incident's message shows from now on (`note`), what
is said in its thread (`thread`, already escaped: everything in it that came from
PagerDuty is outside text), and what happens to our own escalation when the incident is
one of our pages (`effect`):

- `acknowledge`: someone holds it in PagerDuty, so our steps stop;
- `restart`: nobody holds it any more (unacknowledged, reopened), so our escalation
  starts again from the priority's policy;
- `stop`: PagerDuty handles it (escalated, reassigned, delegated, resolved);
- `none`: shown, nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alerts import messages as m
from alerts.pagerduty import IncidentActivity, IncidentData, PagerDutyWebhook
from alerts.slack_text import escape, link

Effect = Literal["acknowledge", "restart", "stop", "none"]


@dataclass(frozen=True)
class IncidentChange:
    outcome: str  # the word answered to PagerDuty and recorded: "acknowledged", "annotated"...
    effect: Effect = "none"
    note: str | None = None  # raw text; escaped where it is rendered
    thread: str | None = None  # escaped mrkdwn


def decide(hook: PagerDutyWebhook) -> IncidentChange:
    """The change `hook` makes; `hook` is a routed incident or activity event."""
    event_type = hook.event.event_type
    outcome = event_type.removeprefix("incident.").replace(".", "_")
    who = hook.agent_name or m.NOBODY
    if hook.incident is not None:
        return _incident_change(event_type, outcome, hook.incident, who)
    assert hook.activity is not None
    return IncidentChange(outcome, thread=_activity_thread(event_type, hook.activity, who))


# Events whose line and thread name one person: the effect, the line, the thread, and
# whether that person is who holds the incident now (else whoever made the change).
_NAMED: dict[str, tuple[Effect, str, str, bool]] = {
    "incident.acknowledged": ("acknowledge", m.PD_ACKED, m.THREAD_PD_ACKED, False),
    "incident.reopened": ("restart", m.PD_REOPENED, m.THREAD_PD_REOPENED, False),
    "incident.resolved": ("stop", m.PD_RESOLVED, m.THREAD_PD_RESOLVED, False),
    "incident.escalated": ("stop", m.PD_ESCALATED, m.THREAD_PD_ESCALATED, True),
    "incident.reassigned": ("stop", m.PD_REASSIGNED, m.THREAD_PD_REASSIGNED, True),
}


def _incident_change(
    event_type: str, outcome: str, incident: IncidentData, who: str
) -> IncidentChange:
    held_by = incident.assignee_names
    named = _NAMED.get(event_type)
    if named is not None:
        effect, line, thread, to_holder = named
        target = (held_by or who) if to_holder else who
        return IncidentChange(
            outcome, effect, line.format(who=target), thread.format(who=escape(target))
        )
    if event_type == "incident.unacknowledged":
        by = f" ({escape(who)})" if who != m.NOBODY else ""
        return IncidentChange(outcome, "restart", m.PD_UNACKED, m.THREAD_PD_UNACKED.format(by=by))
    if event_type == "incident.delegated":
        policy = incident.escalation_policy.name if incident.escalation_policy else ""
        policy = policy or held_by or who
        assignees = f" ({escape(held_by)})" if held_by else ""
        return IncidentChange(
            outcome,
            "stop",
            m.PD_DELEGATED.format(policy=policy),
            m.THREAD_PD_DELEGATED.format(policy=escape(policy), assignees=assignees),
        )
    if event_type == "incident.priority_updated":
        priority = incident.priority.name if incident.priority else ""
        text = m.THREAD_PD_PRIORITY.format(
            priority=escape(priority or m.PD_NO_PRIORITY), who=escape(who)
        )
        return IncidentChange(outcome, thread=text)
    if event_type == "incident.service_updated" and incident.service is not None:
        text = m.THREAD_PD_SERVICE.format(service=escape(incident.service.name), who=escape(who))
        return IncidentChange(outcome, thread=text)
    return IncidentChange(outcome)  # triggered: shown by the message itself


def _activity_thread(event_type: str, activity: IncidentActivity, who: str) -> str | None:
    if event_type == "incident.annotated":
        return m.THREAD_PD_NOTE.format(who=escape(who), content=_quote(activity.content or ""))
    if event_type == "incident.status_update_published":
        return m.THREAD_PD_STATUS_UPDATE.format(
            who=escape(who), message=_quote(activity.message or "")
        )
    user = activity.user.name if activity.user is not None else ""
    if event_type == "incident.responder.added":
        message = f":\n{_quote(activity.message)}" if activity.message else "."
        return m.THREAD_PD_RESPONDER_ADDED.format(
            who=escape(who), user=escape(user or m.NOBODY), message=message
        )
    if event_type == "incident.responder.replied":
        state = activity.state or ""
        answer = m.PD_RESPONDER_REPLIES.get(state) or m.PD_RESPONDER_REPLIED.format(
            state=escape(state or "?")
        )
        return m.THREAD_PD_RESPONDER_REPLIED.format(user=escape(user or who), reply=answer)
    if event_type == "incident.conference_bridge.updated":
        parts = [escape(number) for number in activity.numbers]
        joined = link(activity.conference_url or "", m.PD_BRIDGE_LINK)
        if joined:
            parts.insert(0, joined)
        return m.THREAD_PD_BRIDGE.format(bridge=" · ".join(parts) or m.PD_NO_BRIDGE)
    return None


def _quote(text: str) -> str:
    """Outside text as a Slack quote, escaped so that no mention or link survives."""
    lines = escape(text).strip().splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines[:40])
