from __future__ import annotations

import base64

from bot.http.webhook_auth import is_authorised


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer_and_basic_password_are_accepted() -> None:
    assert is_authorised("Bearer s3cret", "s3cret")
    assert is_authorised("bearer s3cret", "s3cret")
    assert is_authorised(basic("alertmanager", "s3cret"), "s3cret")


def test_anything_else_is_refused() -> None:
    for header in [
        None,
        "",
        "Bearer",
        "Bearer wrong",
        "Token s3cret",
        basic("s3cret", "x"),
        basic("intruder", "s3cret"),  # right password, another username
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ]:
        assert not is_authorised(header, "s3cret"), header


def test_an_empty_expected_token_never_authorises() -> None:
    assert not is_authorised("Bearer ", "")
    assert not is_authorised(basic("u", ""), "")
