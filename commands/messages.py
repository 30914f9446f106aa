"""Every user-facing string of the operations side, so the tone stays consistent.

Errors say what was wrong and what would be right; refusals say what to do instead.
Placeholders are filled by the modules that use them; anything a user typed arrives
already escaped and clipped (`parsing.echo`).
"""

from __future__ import annotations

# --- Parsing and usage -----------------------------------------------------------------

USAGE_LINE = "Usage: `{usage}`"
TEXT_TOO_LONG = "That command is {length} characters long; a valid one is at most {limit}."
CONTROL_CHARACTER = (
    "The command contains a line break or an invisible control character; type it on one line."
)
UNKNOWN_FLAG = "Unknown option `{flag}`; the only option is `--force`."
EXTRA_ARGUMENTS = "Unexpected extra argument(s): {words}."
NONE_CONFIGURED = "(none configured)"
NO_SERVICES = "No services are configured under `deploy.services`, so there is nothing to operate."
WHICH_SERVICE = "Which service? This channel belongs to none; name one of: {known}."
CHANNEL_HAS_SEVERAL_SERVICES = "Several services use this channel ({known}); name one."
UNKNOWN_SERVICE = "Unknown service `{name}`. Known services: {known}."
UNKNOWN_ENVIRONMENT = "Unknown environment `{name}` for {service}. Its environments: {known}."
WHICH_ENVIRONMENT = "{service} has several environments ({known}); name one."
UNKNOWN_SERVICE_OR_ENVIRONMENT = (
    "`{name}` is neither a service ({services}) nor an environment of {service} ({environments})."
)
UNKNOWN_COMMAND = "Unknown command `{name}`. Commands: {known}."

DEPLOY_MISSING = "`/deploy` needs a service and a version."
BAD_VERSION = "`{version}` is not a valid version for {service}: it must match `{pattern}`."
SHIFT_MISSING = "`/shift` needs a percentage. Allowed steps for {target}: {steps}."
PERCENT_NOT_A_NUMBER = "`{value}` is not a whole percentage. Allowed steps for {target}: {steps}."
PERCENT_NOT_A_NUMBER_BARE = "`{value}` is not a whole percentage; the percentage comes first."
PERCENT_NOT_A_STEP = "{percent}% is not an allowed step for {target}. Allowed steps: {steps}."

# --- Help ------------------------------------------------------------------------------

DEPLOY_DESCRIPTION = (
    "Roll the idle colour to a new version and wait until it is healthy; traffic stays where it is."
)
SHIFT_DESCRIPTION = (
    "Move that share of traffic to the colour running the new version; at 100 it becomes "
    "live. Lower steps move traffic back (a partial rollback)."
)
ROLLBACK_DESCRIPTION = (
    "Send all traffic back to the previous live colour, which still runs the previous version."
)
ARG_SERVICE_REQUIRED = "a service from the config, e.g. `api`"
ARG_SERVICE_OPTIONAL = "defaults to this channel's service, or the only one configured"
ARG_VERSION = "the version to deploy; must match the service's `version_pattern`"
ARG_ENVIRONMENT = (
    "defaults to the service's only environment or its `default_environment`; otherwise required"
)
ARG_PERCENT = (
    "share of traffic for the new version: one of the environment's steps (default 10, 50, 100)"
)
ARG_FORCE = "run even while a P0/P1 alert fires for the service; needs one more approval"

HELP_TITLE = "*{name}*: {description}"
HELP_ARGUMENT = "• `{usage}`: {description}"
HELP_EXAMPLES = "Examples:"
HELP_EXAMPLE = "• `{example}`"
HELP_OVERVIEW = "*Operations commands* (each needs approval by reactions before it runs):"
HELP_OVERVIEW_LINE = "• `{usage}`: {description}"
HELP_MORE = "Type `{example} help` for details on one command."

# --- Planning and re-checks ------------------------------------------------------------

NO_VERSION = "(no version)"
NO_TRAFFIC = "no traffic"
AND_MORE = " and {count} more"
REFUSE_BAD_WEIGHTS = (
    "The platform reports traffic weights for {target} that do not add up to 100% "
    "({traffic}); fix them there before using the bot."
)
REFUSE_DEPLOY_SPLIT = (
    "Traffic for {target} is split ({traffic}). Finish the release with `/shift 100` or "
    "undo it with `/rollback` before deploying again."
)
REFUSE_ALREADY_LIVE = "{version} is already live on {colour} for {target}; nothing to deploy."
REFUSE_NOTHING_DEPLOYED = (
    "{colour} runs no version for {target} yet, so there is nothing to shift traffic to. "
    "Deploy first: `/deploy {service} <version> {environment}`."
)
REFUSE_SAME_VERSION = (
    "Both colours run {version} for {target}, so shifting would change nothing. "
    "Deploy a new version first."
)
REFUSE_ALREADY_AT = "{colour} ({version}) already takes {percent}% of {target}'s traffic."
REFUSE_NOTHING_TO_ROLL_BACK = (
    "Nothing to roll back for {target}: {colour} ({version}), the previous live colour, "
    "already takes all traffic."
)
HINT_SHIFT_INSTEAD = "To move traffic to {colour} ({version}) instead, use `/shift`."
REFUSE_NO_PREVIOUS = (
    "Nothing to roll back to for {target}: {colour}, the previous live colour, runs no version."
)
RECHECK_BUSY = "Another operation is running for {target}; request again when it has finished."
RECHECK_ROLLBACK_BUSY = (
    "A rollback of {target} is already running and is not cancelled by another one; this "
    "one is not queued either, since it was planned from the state that rollback is "
    "changing. If it fails, request `/rollback` again."
)
RECHECK_DRIFT = (
    "The state of {target} changed since the request was made: it was {before}, "
    "it is now {after}. Request again to act on the new state."
)
RECHECK_ALERTS = (
    "P0/P1 alerts are firing for {service}: {alerts}. Request again with `--force` "
    "(needs one more approval) to run anyway."
)
RECHECK_WINDOW = (
    "the freeze window {window} is in force for {target}. Request again with `--force` "
    "(needs one more approval) to run anyway."
)
NOT_RUN = "Not run: {reason}"

# --- Approval message ------------------------------------------------------------------

OUTCOME_ICON = {
    "Pending": "⏳",
    "Approved": "👍",
    "Rejected": "⛔",
    "Expired": "⌛",
    "Running": "🔄",
    "Succeeded": "✅",
    "Failed": "❌",
    "Rolled back": "↩️",
}
HEADER = "{icon} {outcome} · {title}"
TITLE_DEPLOY = "Deploy {version} to {target}"
TITLE_SHIFT = "Shift {percent}% of {target} to {colour}"
TITLE_ROLLBACK = "Roll back {target} to {colour}"
REQUESTED = "<@{user}> requests `{command}`"
FORCE_NOTE = (
    "⚠️ `--force`: runs even while P0/P1 alerts fire for {service}; needs {extra} more "
    "approval(s) than usual."
)
PREEMPTS = (
    "⏭️ *Preempts* {operation}: approving this cancels it and rolls back at once. "
    "(A rollback in flight is never cancelled.)"
)
PREEMPT_OPERATION = "the running `{command}` by <@{requester}> ({state})"
PREEMPT_RUNNING = "at step {index}/{total}"
PREEMPT_BAKING = "baking until {until}"
FROZEN = (
    "🧊 *Frozen:* P0/P1 alerts are firing for {service}, so this request cannot run and "
    "takes no approvals.\n{alerts}\nTo run it anyway, request it again with `--force`: "
    "it then needs {required} approvals ({extra} more than usual)."
)
FROZEN_WINDOW = (
    "🧊 *Frozen:* the freeze window {window} is in force for {target}, so this request "
    "cannot run and takes no approvals. `/rollback` is never frozen.\nTo run it anyway, "
    "request it again with `--force`: it then needs {required} approvals ({extra} more than "
    "usual)."
)
STATUS_FREEZE = "🧊 *Frozen:* {window} (`/deploy` and `/shift` refused; `/rollback` runs)"
STATUS_NEXT_FREEZE = "Next freeze window: {window}"
FORCE_BUTTON = "Request again with --force"
VERSIONS = "*Versions:* {versions}"
TRAFFIC = "*Traffic:* {traffic}"
TRAFFIC_UNCHANGED = "{traffic} (unchanged)"
BECOMES_LIVE = "({colour} becomes live)"
VERSION_CHANGE = "{colour} {before} -> {after}"
VERSION_SAME = "{colour} {version}"
APPROVALS_FIELD = "*Approvals*\n{received} of {required}{who}"
APPROVALS_NONE = ": none yet"
REJECTED_FIELD = "*Rejected by*\n<@{user}>"
EXPIRES_FIELD = "*Expires*\n<!date^{unix}^{{date_short_pretty}} at {{time}}|{fallback}>"
EXPIRED_FIELD = "*Expired*\n<!date^{unix}^{{date_short_pretty}} at {{time}}|{fallback}>"
STARTED_FIELD = "*Started*\n<!date^{unix}^{{date_short_pretty}} at {{time}}|{fallback}>"
DATE = "<!date^{unix}^{{date_short_pretty}} at {{time}}|{fallback}>"
FINISHED_FIELD = "*Finished*\n<!date^{unix}^{{date_short_pretty}} at {{time}}|{fallback}>"
FIRING_ALERTS = "*Firing for {service}*\n{alerts}"
MORE_FIRING = "+{count} more firing"
STEPS = "*Steps*\n{steps}"
RESULT = "*Result:* {result}"
HOW_TO_VOTE = "Approve with {approve}, reject with {reject}. Who may approve: {approvers}."
OWN_DOES_NOT_COUNT = "The requester's own approval does not count."
NO_APPROVERS = "nobody (set `deploy.approvers`)"
FALLBACK = "{outcome}: {command}"

STEP_DEPLOY = "Deploy {version} to {colour} and wait until healthy (timeout {timeout})"
STEP_HEALTH_CHECK = "Health check {colour} ({url})"
STEP_SET_WEIGHTS = "Set traffic to {traffic}"
STEP_BAKE = "Bake for {duration}: a P0/P1 alert for {service} rolls back"

# --- Thread progress -------------------------------------------------------------------

PROGRESS_STARTED = "🔄 Running `{command}`, approved by {approvers}."
PROGRESS_STEP_STARTED = "▶️ Step {index}/{total}: {step}"
PROGRESS_STEP_DONE = "✔️ Step {index}/{total} done in {duration}: {step}"
PROGRESS_STEP_FAILED = "✖️ Step {index}/{total} failed after {duration}: {step}. {error}"
PROGRESS_ROLLED_BACK = "↩️ Rolled back automatically: {reason}. Traffic is now {traffic}."
PROGRESS_FINISHED = "{icon} {outcome}: {result}"
PROGRESS_PREEMPTING = (
    "⏭️ Preempting `{command}` (it was {state}): it is cancelled; this rollback runs now."
)
PROGRESS_SUPERSEDED = (
    "⏹️ Superseded by rollback `{command}` (request `{id}`, requested by <@{requester}>, "
    "approved by {approvers}): this {kind} stops here and the rollback sets the traffic."
)
PROGRESS_LATE_STEP = (
    "⏹️ Step {index} ({step}) was in flight when the rollback took over; it ended after "
    "it, so traffic was set back to {traffic}."
)
PROGRESS_LATE_STEP_FAILED = (
    "⚠️ Step {index} ({step}) was in flight when the rollback took over and ended after it; "
    "setting traffic back to {traffic} failed: {error}. Check the traffic and run "
    "`/rollback` again if needed."
)
STATE_RUNNING = "running"
STATE_BAKING = "baking"
STATE_BAKE_FAILED = "rolling back after a bake alert"
PROGRESS_INTERRUPTED = (
    "⚠️ `{command}` was interrupted at step {index}/{total} ({step}) by a restart. "
    "State now: {state}. Run `/rollback` or `/shift` to continue; nothing resumes by itself."
)

RESULT_DEPLOYED = "{colour} runs {version}; traffic unchanged ({traffic}). Next: `/shift`."
RESULT_SHIFTED = "Traffic is now {traffic}."
RESULT_SHIFTED_LIVE = "Traffic is now {traffic}; {colour} ({version}) is live."
RESULT_ROLLED_BACK_MANUAL = "Traffic is back on {colour} ({version}): {traffic}."
RESULT_FAILED = "{step} failed: {error}. Traffic stayed {traffic}."
RESULT_AUTO_ROLLED_BACK = "{reason}; traffic was returned to {traffic}."
RESULT_SUPERSEDED = (
    "Superseded by rollback `{command}` (request `{id}`); cancelled so it runs at once."
)

# --- /deploy status ---------------------------------------------------------------------

STATUS_DESCRIPTION = (
    "Show live colour, versions, traffic, what is running or baking, firing alerts and the "
    "last operations with their approvers. Only you see the answer."
)
STATUS_ARG_SERVICE = "defaults to this channel's service, else every service"
STATUS_ARG_ENVIRONMENT = "defaults to every environment of the service"
STATUS_NO_FORCE = "`--force` means nothing for `/deploy status`: it changes nothing."
STATUS_TITLE = "*{target}*"
STATUS_STATE_UNKNOWN = "• State: unknown ({error})"
STATUS_LIVE = "• Live colour: *{colour}*"
STATUS_VERSIONS = "• Versions: {versions}"
STATUS_WEIGHTS = "• Traffic: {weights}"
STATUS_IDLE = "• Running: nothing"
STATUS_ACTIVE = (
    "• Running: `{command}`, {doing} (requested by <@{requester}>, approved by {approvers})"
)
STATUS_BAKING = "baking until {until}"
STATUS_AT_STEP = "step {index}/{total}: {step}"
STATUS_ALERTS = "• Firing ({count}):\n{alerts}"
STATUS_NO_ALERTS = "• Firing: no alerts"
STATUS_RECENT = "• Last {count} operation(s):"
STATUS_NO_RECENT = "• Last operations: none yet"
STATUS_PAST = (
    "  • {when} `{command}`: {outcome} (requested by <@{requester}>, approved by {approvers})"
)
STATUS_NOBODY = "nobody"

# --- Ephemeral answers -----------------------------------------------------------------

NOT_APPROVER = (
    "Your reaction does not count: you are not an approver for {target}. "
    "(You are told this once per request.)"
)
OWN_APPROVAL = (
    "Your own approval does not count: another approver must approve. React with {reject} "
    "to cancel the request."
)
NOT_DEPLOYER = "You are not a deployer for {target}, so `{command}` cannot run for you."
RATE_LIMITED = "Slow down: at most {limit} commands per minute per person. Try again in {seconds}s."
CLICKS_LIMITED = (
    "Slow down: at most {limit} button clicks per minute per person. That click did nothing; "
    "try again in {seconds}s."
)
REFUSED = "Cannot do that: {message}"
FORCE_NOT_FROZEN = "That button is not valid: it belongs to no frozen request."
REQUEST_POSTED = "Approval request posted in <#{channel}>; it expires in {ttl}."
