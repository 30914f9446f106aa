"""Every user-facing string of the alert side, so the tone stays consistent."""

from __future__ import annotations

PRIORITY_ICON = {"P0": "🔴", "P1": "🟠", "P2": "🟡", "P3": "🔵"}
RESOLVED_ICON = "✅"

ACK_BUTTON = "Acknowledge"
SILENCE_BUTTON = "Silence 1h"
RUNBOOK_BUTTON = "Runbook"
NO_RUNBOOK = "📋 No runbook covers this alert."

FIRING = "FIRING"
RESOLVED = "RESOLVED"

ACKED_BY = "Acknowledged by <@{user}> <!date^{unix}^{{time}}|at {fallback}>"
FIRING_SINCE = "Firing since <!date^{unix}^{{date_short_pretty}} {{time}}|{fallback}> ({duration})"
RESOLVED_AFTER = "Resolved after {duration}"
MORE_ALERTS = "+{count} more alert(s) in this group"
MORE_ALERTS_PAGED = (
    "+{count} more alert(s) in this group · “Show all alerts” lists them in the thread"
)
SHOW_ALL_BUTTON = "Show all alerts"
NEXT_PAGE_BUTTON = "Next {count}"
ALERT_PAGE_TITLE = "*Alerts {first}–{last} of {total}* in this group"
ALERT_PAGE_EMPTY = "No alerts are stored for this group any more."
START_NOT_SENT = "start time not sent"
THREAD_START_ASSUMED = (
    "ℹ️ {count} alert(s) came without a start time; the time the bot received them "
    "({at}) is shown instead."
)
SOURCE_GRAFANA = "via Grafana"
GRAFANA_SILENCE = "Silence in Grafana"
GRAFANA_DASHBOARD = "Dashboard"
GRAFANA_PANEL = "Panel"
GRAFANA_IMAGE = "Image of the panel when it fired"
VALUES = "Values"
# Alerts a later notification of their group left out (alerts/alertmanager.UNREPORTED).
UNREPORTED_ICON = "🔕"
NOT_REPORTED = "NO LONGER REPORTED"  # the header's state when every firing alert is
UNREPORTED_STATUS = "no longer reported"
UNREPORTED_NOTE = (
    "🔕 {count} alert(s) no longer reported by Alertmanager (silenced or inhibited there): "
    "not counted as firing, not silenced, acknowledged or paged for here"
)
UNREPORTED_FIELD = "{count} no longer reported"
TRUNCATED_BY_ALERTMANAGER = "Alertmanager left out {count} more alert(s) (max_alerts)"

THREAD_RESOLVED = "✅ Resolved after {duration}."
THREAD_REFIRED = "🔁 Firing again (was resolved {ago} ago)."
THREAD_ACKED = "👀 <@{user}> acknowledged this."
THREAD_ALREADY_ACKED = "Already acknowledged by <@{user}>."
THREAD_SILENCED = (
    "🔕 <@{user}> silenced this group for {duration} (silence `{silence_id}`, {matchers})."
)
SILENCE_FAILED = "Could not create the silence in Alertmanager: {error}"
THREAD_SILENCE_WIDENED = (
    "🔔 Silence `{silence_id}` was expired: it also silenced {count} alert(s) that arrived "
    "after it was made ({names}). Silence again if they should be quiet too."
)
SILENCE_TOO_BROAD = (
    "Not silenced: a silence on {matchers} would be broader than this group ({why}). "
    "An approver (`runbooks.approvers`, else `deploy.approvers`) can make it by clicking "
    "Silence 1h themselves."
)
SILENCE_NOT_CONFIGURED = (
    "Silencing needs ALERTMANAGER_URL (the Alertmanager API) to be set for the bot."
)
NOT_A_RESPONDER = (
    "Only the responders for these alerts may acknowledge or silence them "
    "(`responders` of their route, or `alerts.responders`). Ask one of them, or ask for "
    "your user or group to be added."
)
UNKNOWN_GROUP = "That alert is no longer known to the bot (it may have been cleaned up)."
NOT_FROM_ITS_MESSAGE = (
    "That button does not belong to the message it was clicked on, so nothing was done."
)

# Escalation and PagerDuty (issue 3).
ON_CALL = "On call: {people}"
THREAD_RENOTIFY = "🔔 {mention}Still firing and not acknowledged ({duration} so far)."
THREAD_REMIND = "⏰ Reminder: still firing after {duration} and nobody has acknowledged it."
THREAD_PAGED = "📟 Paged PagerDuty."
THREAD_PAGE_DELAYED = (
    "⚠️ Could not reach PagerDuty yet ({error}); the page is kept and retried until it goes out."
)
THREAD_PAGE_LATE = "📟 Paged PagerDuty (after {attempts} attempts)."
THREAD_PAGE_FAILED = "❌ PagerDuty refused the page, so nobody was paged: {error}"
THREAD_PAGE_NOT_CONFIGURED = "⚠️ Nobody was paged: {error}."
THREAD_PD_ACKED = "👀 Acknowledged in PagerDuty by {who}."
THREAD_PD_ESCALATED = "⬆️ Escalated in PagerDuty to {who}."
THREAD_PD_RESOLVED = "✅ Resolved in PagerDuty by {who}."
PAGED = "📟 Paged PagerDuty"
PD_ACKED = "Acknowledged in PagerDuty by {who}"
PD_ESCALATED = "Escalated to {who}"
PD_RESOLVED = "Resolved in PagerDuty by {who}"
NOBODY = "PagerDuty"
# Every PagerDuty incident event (issue 10). `{who}` and the rest are escaped before use.
THREAD_PD_UNACKED = (
    "↩️ Unacknowledged in PagerDuty{by}: nobody has it acknowledged, so escalation restarted."
)
THREAD_PD_REOPENED = "🔁 Reopened in PagerDuty by {who}: escalation restarted."
THREAD_PD_REASSIGNED = "👉 Reassigned in PagerDuty to {who}."
THREAD_PD_DELEGATED = "👉 Delegated in PagerDuty to {policy}{assignees}."
THREAD_PD_PRIORITY = "🏷️ PagerDuty priority set to {priority} by {who}."
THREAD_PD_SERVICE = "🔀 Moved to PagerDuty service {service} by {who}."
THREAD_PD_NOTE = "📝 Note in PagerDuty from {who}:\n{content}"
THREAD_PD_STATUS_UPDATE = "📣 Status update in PagerDuty from {who}:\n{message}"
THREAD_PD_RESPONDER_ADDED = "🙋 {who} asked {user} to respond{message}"
THREAD_PD_RESPONDER_REPLIED = "🙋 {user} {reply} the request to respond."
THREAD_PD_BRIDGE = "📞 Conference bridge: {bridge}"
PD_UNACKED = "Unacknowledged in PagerDuty"
PD_REOPENED = "Reopened in PagerDuty by {who}"
PD_REASSIGNED = "Reassigned to {who}"
PD_DELEGATED = "Delegated to {policy}"
PD_HELD_BY = "Assigned to {who}"
PD_POLICY = "Policy: {policy}"
PD_PRIORITY = "PagerDuty priority {priority}"
PD_NO_PRIORITY = "none"
PD_NO_BRIDGE = "removed"
PD_BRIDGE_LINK = "Join the bridge"
PD_RESPONDER_REPLIES = {"joined": "accepted", "accepted": "accepted", "declined": "declined"}
PD_RESPONDER_REPLIED = "answered ({state})"

DIGEST_TITLE = "🔵 P3 digest · {count} alert group(s)"
DIGEST_EMPTY = "No P3 alerts firing any more."
DIGEST_FOOTER = "Low-priority alerts are gathered here every {every} instead of posted one by one."

PD_INCIDENT_TITLE = "📟 PagerDuty #{number} · {status} · {title}"
PD_ACK_BUTTON = "Acknowledge"
PD_RESOLVE_BUTTON = "Resolve"
PD_NO_USER = (
    "I don't know your PagerDuty login yet. Ask an admin to add you to the bot's config:\n"
    "```pagerduty:\n  users: {{{user}: you@example.com}}```"
)
PD_NOT_CONFIGURED = "PagerDuty actions need PAGERDUTY_API_TOKEN to be set for the bot."
PD_ACTION_FAILED = "PagerDuty did not accept that: {error}"

# Storm mode (issues 6 and 12).
STORM_TITLE = "🌩️ Alert storm · {count} alert group(s) firing, listed here"
STORM_OVER_TITLE = "🌤️ Storm over · {firing} of {count} alert group(s) listed here still firing"
STORM_FOOTER = (
    "This channel's queue would take more than {threshold}s to post at Slack's rate, so new "
    "P2/P3 alert groups are listed here instead of posted one by one. P0 and P1 always get "
    "their own message."
)
STORM_OVER_FOOTER = (
    "The queue is short again: new alert groups get their own message. The groups listed "
    "here stay here until they resolve, rise to P0/P1 (then they are posted on their own) "
    "or are opened."
)
STORM_FIRING = "{count} firing"
STORM_RESOLVED = "{count} resolved"
STORM_MORE = "…and {count} more line(s) of alert groups."
STORM_OWN_MESSAGE = "posted separately"
STORM_NAMES = (
    "➕ {count} more alert group(s) in this storm, listed in the summary at its next update"
)
STORM_NAMES_NONE = "The summary above lists every alert group of this storm."
STORM_REMINDER = "*{name}*: {text}"
STORM_ACKED = "{count} acknowledged"
STORM_ACK_ALL = "Acknowledge all"
STORM_SILENCE_ALL = "Silence all 1h"
STORM_OPEN = "Open a group…"
STORM_NOTHING_TO_DO = "No alert group listed here is still firing without its own message."
STORM_SOME_NOT_YOURS = (
    "{done} alert group(s) done; {left} left alone: only their responders may act on them."
)
STORM_SOME_FAILED = "{done} alert group(s) done; {failed} not: {error}"
STORM_NOT_IN_STORM = "That alert group is not listed in this summary any more."
STORM_ALREADY_OPEN = "That alert group already has its own message."
STORM_NOT_FROM_SUMMARY = (
    "That control does not belong to the summary it was used on, so nothing was done."
)

# Link labels: fixed words, never text from the alert (alerts/slack_text.link).
LINK_SOURCE = "Source"
LINK_RUNBOOK_DOC = "Runbook doc"
LINK_SILENCE = "Silence in Alertmanager"
LINK_PAGERDUTY = "Open in PagerDuty"

# Deliveries that could not be processed (bot/alerts/deliveries.py).
DELIVERY_FAILED = (
    "⚠️ 1 notification from {source} could not be shown: {error}, see `chatops deliveries show {id}`"
)
DECLARE_INCIDENT_BUTTON = "Declare incident"

IMAGE_UNAVAILABLE = (
    "Image unavailable: Slack could not download the panel's image, so the alert was"
    " posted without it."
)
