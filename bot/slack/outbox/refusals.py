"""What Slack said when it refused a call, kept whole, and what the refusal means.

Slack's answer names more than its error word: `errors` (for `invalid_blocks`, which block
and which field, as "<reason> [json-pointer:/blocks/3/image_url]"),
`response_metadata.messages` (the same, with a severity) and `warnings`. Without them
nobody can fix the message that was lost, so the outbox logs them, stores them on the row
(`slack_error`, shown by `chatops slack failed`) and counts refusals by error in /metrics.
Everything in the answer is outside text: bounded here, escaped wherever it is shown.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.metrics import Metrics
from bot.slack.outbox.failures import Permanent, RetryLater, backoff, retry_after_seconds
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
SERVER_ERRORS = ("fatal_error", "internal_error", "service_unavailable", "request_timeout")
MAX_ITEMS = 20  # of errors, messages and warnings kept per refusal
MAX_CHARS = 500  # per item: Slack's are a sentence and a JSON pointer
# The error codes the bot's methods are documented to answer (chat.*, files.*,
# conversations.*): the `error` label of chatops_slack_refusals_total. Anything else is
# counted as "other", so an odd answer cannot make new series.
KNOWN_ERRORS = frozenset(
    {
        "account_inactive",
        "as_user_not_supported",
        "cant_update_message",
        "channel_not_found",
        "duplicate_channel_not_found",
        "edit_window_closed",
        "ekm_access_denied",
        "fatal_error",
        "file_not_found",
        "internal_error",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_json",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "is_archived",
        "message_not_found",
        "metadata_too_large",
        "missing_scope",
        "msg_too_long",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "ratelimited",
        "request_timeout",
        "restricted_action",
        "restricted_action_non_threadable_channel",
        "restricted_action_read_only_channel",
        "restricted_action_thread_locked",
        "service_unavailable",
        "team_access_not_granted",
        "thread_not_found",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "user_not_in_channel",
    }
)


class Refused(Permanent):
    """A permanent refusal, with Slack's whole answer (`detail`)."""

    def __init__(self, detail: dict[str, Any]) -> None:
        super().__init__(str(detail.get("error") or "refused"))
        self.detail = detail


def detail_of(method: str, exc: SlackApiError) -> dict[str, Any]:
    """Slack's answer to a refused call: the parts a person needs, bounded."""
    response = exc.response
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    status = int(getattr(response, "status_code", 200) or 200)
    metadata = data.get("response_metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    warnings = _strings(data.get("warnings")) + _strings(metadata.get("warnings"))
    if data.get("warning"):
        warnings.append(_clip(data["warning"]))
    return {
        "method": method,
        "status": status,
        "error": _clip(data.get("error") or f"HTTP {status}"),
        "errors": _strings(data.get("errors")),
        "messages": _strings(metadata.get("messages")),
        "warnings": warnings[:MAX_ITEMS],
    }


def error_label(error: object) -> str:
    return error if isinstance(error, str) and error in KNOWN_ERRORS else "other"


def classify(metrics: Metrics, method: str, row: OutboxEntry, exc: SlackApiError) -> Exception:
    """What a refusal means for the row: retry after Retry-After or a backoff, or never."""
    detail = detail_of(method, exc)
    status, error = detail["status"], detail["error"]
    metrics.slack_refusals.labels(method, error_label(error)).inc()
    if status == 429 or error == "ratelimited":
        metrics.slack_calls.labels(method, "ratelimited").inc()
        retry_after = retry_after_seconds(exc.response.headers)
        return RetryLater(timedelta(seconds=retry_after), "ratelimited")
    if status >= 500 or error in SERVER_ERRORS:
        metrics.slack_calls.labels(method, "server_error").inc()
        reason = f"Slack answered {status} {error}".strip()
        return RetryLater(backoff(row.attempts), reason)
    metrics.slack_calls.labels(method, "error").inc()
    return Refused(detail)


def log_refusal(row: OutboxEntry, detail: dict[str, Any]) -> None:
    """One log line with Slack's whole answer; JSON, so no outside text starts a line."""
    log.error(
        "Slack refused %s to %s for good: %s errors=%s messages=%s warnings=%s",
        row.op,
        json.dumps(row.channel),
        json.dumps(detail.get("error")),
        json.dumps(detail.get("errors") or []),
        json.dumps(detail.get("messages") or []),
        json.dumps(detail.get("warnings") or []),
    )


def log_warnings(method: str, data: dict[str, Any]) -> None:
    """Warnings on an accepted call (`missing_charset`, a block Slack changed) are logged."""
    metadata = data.get("response_metadata")
    found = _strings(data.get("warnings")) + _strings(
        metadata.get("warnings") if isinstance(metadata, dict) else None
    )
    if data.get("warning"):
        found.append(_clip(data["warning"]))
    if found:
        log.warning("Slack accepted %s with warnings: %s", method, json.dumps(found[:MAX_ITEMS]))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [_clip(value)]
    if not isinstance(value, list):
        return []
    return [_clip(v if isinstance(v, str) else json.dumps(v)) for v in value[:MAX_ITEMS]]


def _clip(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
