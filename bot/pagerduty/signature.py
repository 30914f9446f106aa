"""Checking the `X-PagerDuty-Signature` header of v3 webhooks.

`POST /webhooks/pagerduty` is reachable from the internet; the signature is what tells
us a delivery really came from PagerDuty. As documented, the header holds one or more
comma-separated `v1=<hex HMAC-SHA256 of the raw body>` values, one per signing secret,
so that a secret can be rotated without downtime. We accept a delivery when any `v1`
value matches the HMAC under any of our secrets, which covers both sides of a rotation:
PagerDuty signing with old and new, and us configured with old and new.

Anything malformed (missing header, no `v1=` value, not hex) is simply "not valid":
the route answers it like a bad signature, and nothing here raises on attacker input.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HEADER = "X-PagerDuty-Signature"
VERSION = "v1"
_HEX_DIGITS = frozenset("0123456789abcdef")
_SHA256_HEX_LENGTH = 64
# PagerDuty sends one value per active secret (two during a rotation). A cap keeps a
# hostile header from making us compare thousands of candidates.
MAX_SIGNATURES = 16
MAX_HEADER_LENGTH = 4096


def sign(body: bytes, secret: str) -> str:
    """The `v1=` value PagerDuty would send for `body` signed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True when some `v1` value in `header` is the HMAC of `body` under some secret.

    `body` must be the raw request bytes: re-serialised JSON would not match.
    """
    if isinstance(secrets, str):
        # A str is a Sequence[str] of single characters: a silent, dangerous mistake.
        raise TypeError("secrets must be a sequence of secrets, not one string")
    candidates = _signatures(header)
    # An empty secret would make the HMAC computable by anyone, so it never verifies.
    keys = [secret for secret in secrets if secret]
    if not candidates or not keys:
        return False
    valid = False
    for secret in keys:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        for candidate in candidates:
            # No early exit: the time taken does not depend on which value matched.
            valid |= hmac.compare_digest(expected, candidate)
    return valid


def _signatures(header: str | None) -> list[str]:
    """The well-formed v1 hex digests in the header; other versions are skipped."""
    if not header or len(header) > MAX_HEADER_LENGTH:
        return []
    found: list[str] = []
    for item in header.split(",")[:MAX_SIGNATURES]:
        version, sep, value = item.strip().partition("=")
        if not sep or version != VERSION:
            continue
        value = value.strip().lower()
        if len(value) == _SHA256_HEX_LENGTH and set(value) <= _HEX_DIGITS:
            found.append(value)
    return found
