"""Slack's request signing, from the sending side.

Slack signs every request it sends to an app: `X-Slack-Request-Timestamp` plus
`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">` keyed with the
app's signing secret. The emulator signs the same way so the bot's real verification
path runs in every test, and security tests can forge the wrong variants on purpose.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Slack-Signature` value for a body sent at `timestamp` (epoch seconds)."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signature_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, body, timestamp),
    }
