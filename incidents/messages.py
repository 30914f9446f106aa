"""What the incident feature says to people, in one place."""

USAGE = (
    "Usage: `/incident declare <title> [--severity P0|P1|P2]`, or `/incident update|lead|"
    "severity|status|resolve|action [id] ...` (no id needed inside the incident's channel)."
)
UNKNOWN_SUBCOMMAND = "`{word}` is not an /incident subcommand. " + USAGE
DECLARE_USAGE = "Give the incident a title: `/incident declare API returns 500s --severity P1`."
TITLE_TOO_LONG = (
    "That title is {length} characters; keep it within {limit} "
    "(`/incident declare <shorter title>`)."
)
BAD_SEVERITY = "`{word}` is not a severity: use P0, P1 or P2 (`--severity P1`)."
LEAD_USAGE = (
    "Name the lead as a mention: `/incident lead @someone` (with an id outside its channel)."
)
STATUS_USAGE = (
    "Status is `identified` or `mitigated` (`/incident status mitigated`); "
    "to close it, `/incident resolve [summary]`."
)
TEXT_USAGE = "Say what to add: `/incident {verb} <text>` (with an id outside its channel)."
TEXT_TOO_LONG = "That text is {length} characters; keep it within {limit}."
NEEDS_ID = (
    "This is not an incident channel: name the incident, e.g. `/incident {verb} 12 ...` "
    "(`chatops incidents list` shows the ids)."
)
UNKNOWN_ID = "There is no incident #{id}; `chatops incidents list` shows the ids."
NOT_A_USER = "<@{user}> is not a person in this workspace; name the lead with `@` from the list."
ALREADY_DECLARED = (
    "This alert is already part of incident #{id}: use <#{channel}> or `/incident update {id} ...`."
)
ALREADY_DECLARED_NO_CHANNEL = (
    "This alert is already part of incident #{id} (its channel is being created): "
    "`/incident update {id} ...`."
)
NOT_ALLOWED = (
    "Only the incident's lead, its alerts' responders and the incident managers may change "
    "incident #{id}."
)
ALREADY_RESOLVED = "Incident #{id} is resolved; declare a new one if it is back."
DECLARED = "Declared incident #{id}: its channel is being created."
DONE = "Done."

STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "mitigated": "Mitigated",
    "resolved": "Resolved",
}
SEVERITY_EMOJI = {"P0": "🔴", "P1": "🟠", "P2": "🟡"}

DECLARE_BUTTON = "Declare incident"
ANNOUNCE = "{emoji} *Incident #{id} declared* ({severity}): {title} · <#{channel}> · lead {lead}"
ANNOUNCE_STATUS = "{emoji} *Incident #{id}* is now *{status}*: {title} · <#{channel}>"
ANNOUNCE_UPDATE = "📣 *Incident #{id}* update by <@{user}>: {text} · <#{channel}>"
GROUP_LINK = "🚨 This alert is part of *incident #{id}*: <#{channel}>"
TOPIC = "{severity} · {status} · lead: {lead_name} · #{id}"
PURPOSE = "Incident #{id}: {title}"
UPDATE_POST = "📣 *Update* from <@{user}>: {text}"
LEAD_POST = "👤 <@{user}> is now the lead (set by <@{actor}>)."
SEVERITY_POST = "⚠️ Severity is now *{severity}* (set by <@{actor}>)."
STATUS_POST = "🔄 Status is now *{status}* (set by <@{actor}>)."
RESOLVE_POST = "✅ Resolved by <@{actor}>{summary}"
ACTION_POST = "📝 Follow-up added by <@{actor}>: {text}"
REMINDER = (
    "⏰ {lead}: no update on incident #{id} for {elapsed}. Post one with "
    "`/incident update <what we know>`."
)
NO_LEAD = "nobody yet (`/incident lead @someone`)"
GROUP_IN_INCIDENT = "🚨 This alert is part of *incident #{id}* (its channel is being created)"
POSTMORTEM_POSTED = (
    "📄 The postmortem draft of incident #{id}: edit it, and `chatops incidents export {id}` "
    "prints it again."
)
PAGERDUTY_MITIGATED = (
    "🔄 PagerDuty resolved this incident's pages: status is now *Mitigated*. "
    "Resolve it here with `/incident resolve [summary]` once it is over."
)
PAGERDUTY_PROBLEMS = "Done, but PagerDuty did not take it: {problems}"
