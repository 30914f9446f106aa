"""`X-PagerDuty-Signature` verification, against HMACs computed here from the docs."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.pagerduty.signature import sign, verify_signature

BODY = b'{"event":{"id":"01","event_type":"incident.triggered","data":{"title":"caf\xc3\xa9"}}}'
SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-9876543210"


def v1(body: bytes, secret: str) -> str:
    """The documented algorithm: hex HMAC-SHA256 of the raw body, prefixed by `v1=`."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_valid_signature() -> None:
    assert verify_signature(BODY, v1(BODY, SECRET), [SECRET])
    assert sign(BODY, SECRET) == v1(BODY, SECRET)


def test_one_of_several_values_is_enough() -> None:
    other = v1(BODY, "some-other-subscription-secret")
    assert verify_signature(BODY, f"{other},{v1(BODY, SECRET)}", [SECRET])
    assert verify_signature(BODY, f"{v1(BODY, SECRET)},{other}", [SECRET])
    assert verify_signature(BODY, f" {other} , {v1(BODY, SECRET)} ", [SECRET])


def test_wrong_secret_is_invalid() -> None:
    assert not verify_signature(BODY, v1(BODY, "not-our-secret"), [SECRET])


def test_changed_body_is_invalid() -> None:
    signed = v1(BODY, SECRET)
    assert not verify_signature(BODY.replace(b"triggered", b"resolved"), signed, [SECRET])
    assert not verify_signature(BODY + b"\n", signed, [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1=",
        "v1",
        "=",
        ",,,",
        "v1=xyz",
        "v1=" + "g" * 64,
        "v1=" + "a" * 63,
        "v1=" + "a" * 65,
        "v2=" + v1(BODY, SECRET)[3:],  # a future version: skipped, not trusted
        "sha256=" + v1(BODY, SECRET)[3:],
        v1(BODY, SECRET)[3:],  # the digest without its version
        "v1:" + v1(BODY, SECRET)[3:],
        "v1=v1=" + v1(BODY, SECRET)[3:],
        "x" * 10_000,
        "v1=\u00e9" * 3,
    ],
)
def test_malformed_headers_are_simply_invalid(header: str) -> None:
    assert verify_signature(BODY, header, [SECRET]) is False


def test_oversized_header_is_invalid_even_with_a_match() -> None:
    padding = ",".join(["v1=" + "0" * 64] * 100)
    assert not verify_signature(BODY, f"{padding},{v1(BODY, SECRET)}", [SECRET])


def test_missing_header_is_invalid() -> None:
    assert verify_signature(BODY, None, [SECRET]) is False


def test_rotated_secrets() -> None:
    ours = [SECRET, OLD_SECRET]  # configured with both while PagerDuty rotates
    both = f"{v1(BODY, SECRET)},{v1(BODY, OLD_SECRET)}"

    assert verify_signature(BODY, v1(BODY, OLD_SECRET), ours), "still signed with the old one"
    assert verify_signature(BODY, v1(BODY, SECRET), ours), "already signed with the new one"
    assert verify_signature(BODY, both, ours), "PagerDuty signing with both"
    assert verify_signature(BODY, both, [SECRET]), "after we dropped the old secret"
    assert not verify_signature(BODY, v1(BODY, OLD_SECRET), [SECRET]), "old one retired"


def test_no_secrets_or_empty_secrets_never_verify() -> None:
    assert not verify_signature(BODY, v1(BODY, ""), [""])
    assert not verify_signature(BODY, v1(BODY, SECRET), [])


def test_uppercase_hex_is_accepted() -> None:
    signed = v1(BODY, SECRET)
    assert verify_signature(BODY, "v1=" + signed[3:].upper(), [SECRET])


def test_a_single_string_is_refused_as_secrets() -> None:
    with pytest.raises(TypeError):
        verify_signature(BODY, v1(BODY, "s"), "s")
