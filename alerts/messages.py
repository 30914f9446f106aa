"""Every user-facing string of the alert side, so the tone stays consistent."""

from __future__ import annotations

PRIORITY_ICON = {"P0": "🔴", "P1": "🟠", "P2": "🟡", "P3": "🔵"}
RESOLVED_ICON = "✅"

ACK_BUTTON = "Acknowledge"
SILENCE_BUTTON = "Silence 1h"
RUNBOOK_BUTTON = "Runbook"

FIRING = "FIRING"
RESOLVED = "RESOLVED"

ACKED_BY = "Acknowledged by <@{user}> <!date^{unix}^{{time}}|at {fallback}>"
FIRING_SINCE = "Firing since <!date^{unix}^{{date_short_pretty}} {{time}}|{fallback}> ({duration})"
RESOLVED_AFTER = "Resolved after {duration}"
MORE_ALERTS = "+{count} more alert(s) in this group"
TRUNCATED_BY_ALERTMANAGER = "Alertmanager left out {count} more alert(s) (max_alerts)"

THREAD_RESOLVED = "✅ Resolved after {duration}."
THREAD_REFIRED = "🔁 Firing again (was resolved {ago} ago)."
THREAD_ACKED = "👀 <@{user}> acknowledged this."
THREAD_ALREADY_ACKED = "Already acknowledged by <@{user}>."
THREAD_SILENCED = (
    "🔕 <@{user}> silenced this group for {duration} (silence `{silence_id}`, {matchers})."
)
SILENCE_FAILED = "Could not create the silence in Alertmanager: {error}"
SILENCE_NOT_CONFIGURED = (
    "Silencing needs ALERTMANAGER_URL (the Alertmanager API) to be set for the bot."
)
UNKNOWN_GROUP = "That alert is no longer known to the bot (it may have been cleaned up)."
