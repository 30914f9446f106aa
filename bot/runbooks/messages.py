"""User-facing strings of the running runbook feature (the checklist's own texts live in
alerts/runbooks/messages.py)."""

from __future__ import annotations

NO_RUNBOOK_LINKED = "No runbook covers this alert, so there is no checklist to open."
RUNBOOK_GONE = (
    "The runbook `{id}` linked to this alert is no longer loaded (renamed or removed), "
    "so there is no checklist to open."
)
ALERT_NOT_POSTED = "The alert message is not in Slack yet; try again in a moment."
CHECKLIST_REFRESHED = "The checklist is already in this alert's thread; it has been refreshed."
UNKNOWN_MESSAGE = "That button is not on a checklist the bot knows, so nothing was done."
ALREADY_FINISHED = "That step was already {state} by {user}, so nothing was changed."
ALREADY_RUNNING = "That step is already running; wait for its result in the thread."
NOT_RUNNABLE = "That step has nothing the bot can run; mark it Done or Skip instead."

RUN_STARTED = "▶️ <@{user}> ran *{step}* (`{type}`)."
RUN_OUTPUT = "*{step}* · `{type}` · run by <@{user}>"
RUN_FAILED = "❌ *{step}* failed (`{type}`, run by <@{user}>): {error}"
NO_EXECUTOR = "the bot has no executor for `{type}` in this build"

NEEDS_APPROVAL = (
    "🔐 <@{user}> asked to run *{step}*: `{type}` with {params}. "
    "This step changes things ({why}), so it needs approval before it runs. "
    "*Approval by reaction is not connected in this build yet: nothing was run.* "
    "Do it by hand if it is needed, then mark the step Done."
)
NEEDS_APPROVAL_EPHEMERAL = (
    "*{step}* needs approval before it runs; the request is in the thread. Nothing was run."
)
WHY_CHANGES = "`{type}` changes the system"
WHY_REQUIRED = "the runbook requires approval for it"
