"""Authenticating Alertmanager's webhook: a Bearer token or the basic-auth password.

Alertmanager's `http_config` can send either `authorization: {credentials: ...}` (Bearer)
or `basic_auth: {username, password}`; both carry ALERTMANAGER_WEBHOOK_TOKEN, and basic
auth's username must be ALERTMANAGER_WEBHOOK_USERNAME (default `alertmanager`), so that a
token leaked together with some other username does not pass. Comparison
is constant-time so the token cannot be guessed byte by byte from response times.
"""

from __future__ import annotations

import base64
import binascii
import hmac

DEFAULT_USERNAME = "alertmanager"


def presented_secret(authorization: str | None, username: str) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep or not hmac.compare_digest(user.encode("utf-8"), username.encode("utf-8")):
            return None
        return password
    return None


def is_authorised(
    authorization: str | None, expected: str, *, username: str = DEFAULT_USERNAME
) -> bool:
    secret = presented_secret(authorization, username)
    if secret is None or not expected:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8"))
