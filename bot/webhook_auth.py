"""Authenticating Alertmanager's webhook: a Bearer token or the basic-auth password.

Alertmanager's `http_config` can send either `authorization: {credentials: ...}` (Bearer)
or `basic_auth: {username, password}`; both carry ALERTMANAGER_WEBHOOK_TOKEN. Comparison
is constant-time so the token cannot be guessed byte by byte from response times.
"""

from __future__ import annotations

import base64
import binascii
import hmac


def presented_secret(authorization: str | None) -> str | None:
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
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def is_authorised(authorization: str | None, expected: str) -> bool:
    secret = presented_secret(authorization)
    if secret is None or not expected:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8"))
