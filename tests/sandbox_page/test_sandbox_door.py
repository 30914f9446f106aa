"""The sandbox's door (issue 21): what reaches the emulator's port of a real
`chatops serve --sandbox`, over plain HTTP. Without the per-start token the control
endpoints and the page give nothing; a foreign Host (DNS rebinding) gets nothing even with
it; a cross-site POST is refused and changes nothing; the emulator listens on loopback only.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_page.conftest import Sandbox, start_sandbox, stop_sandbox

CONTROL = [
    ("GET", "/_emulator/calls"),
    ("GET", "/_emulator/messages"),
    ("GET", "/_emulator/state"),
    ("GET", "/_emulator/users"),
    ("GET", "/_emulator/socket"),
    ("GET", "/_emulator/pagerduty/incidents"),
    ("POST", "/_emulator/command"),
    ("POST", "/_emulator/reaction"),
    ("POST", "/_emulator/action"),
    ("POST", "/_emulator/alertmanager"),
    ("POST", "/_emulator/pagerduty/incidents"),
    ("POST", "/_emulator/pagerduty/incidents/PX/acknowledge"),
]
DEPLOY = {"command": "/deploy", "text": "api v1.4.0 staging", "user": "U0000DEP01"}


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("door"))
    try:
        yield running
    finally:
        stop_sandbox(running)


def ask(
    sandbox: Sandbox,
    method: str,
    path: str,
    body: Any = None,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, str], bytes]:
    """One raw request to the emulator's port, with exactly the Host given."""
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.sandbox_port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host or f"127.0.0.1:{sandbox.sandbox_port}")
        data = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders(data)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def bearer(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token}"}


def incidents(sandbox: Sandbox) -> list[str]:
    status, _, body = ask(sandbox, "GET", "/_emulator/pagerduty/incidents", headers=bearer(sandbox))
    assert status == 200, body
    return [i["title"] for i in json.loads(body)["incidents"]]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_emulator_and_the_bot_listen_on_loopback_only(door: Sandbox) -> None:
    assert listening_addresses(door.sandbox_port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0
    assert listening_addresses(door.port) == {"0100007F"}


@pytest.mark.parametrize(("method", "path"), CONTROL)
def test_control_endpoints_want_the_token(door: Sandbox, method: str, path: str) -> None:
    body = None if method == "GET" else {**DEPLOY, "channel": "C0000DEPLY", "title": "x"}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        status, _, answer = ask(door, method, path, body, headers=headers)
        assert status == 401, (path, answer)
        assert b"C0000" not in answer and b"U0000" not in answer
    # With it, the endpoint itself answers (an empty body: 400/404, acting on nothing).
    status, _, answer = ask(door, method, path, None if body is None else {}, headers=bearer(door))
    assert status in (200, 400, 404), (path, answer)


def test_the_page_takes_the_token_from_the_url_into_a_strict_cookie(door: Sandbox) -> None:
    status, _, answer = ask(door, "GET", "/")
    assert status == 401 and b"token" in answer
    assert ask(door, "GET", "/?token=wrong")[0] == 401

    status, headers, _ = ask(door, "GET", f"/?token={door.token}")
    assert status == 303 and headers["location"] == "/"  # the token leaves the address bar
    cookie = headers["set-cookie"]
    assert f"={door.token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    status, headers, page = ask(door, "GET", "/", headers=jar)
    assert status == 200 and b'<script src="/static/app.js">' in page
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert ask(door, "GET", "/_emulator/users", headers=jar)[0] == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "rebind.127.0.0.1.nip.io:{port}"]
)
def test_a_foreign_host_gets_nothing_even_with_the_token(door: Sandbox, host: str) -> None:
    foreign = host.format(port=door.sandbox_port)
    for path in ("/_emulator/state", "/_emulator/calls", f"/?token={door.token}", "/api/auth.test"):
        status, headers, answer = ask(door, "GET", path, host=foreign, headers=bearer(door))
        assert status == 421, (foreign, path, answer)
        assert b"C0000" not in answer and b"U0000" not in answer
        assert "set-cookie" not in headers
    assert ask(door, "GET", "/_emulator/users", host=f"localhost:{door.sandbox_port}",
               headers=bearer(door))[0] == 200  # fmt: skip


def test_a_cross_site_text_plain_post_is_refused_and_changes_nothing(door: Sandbox) -> None:
    """What a page elsewhere can make a browser send: a simple text/plain POST with the
    sandbox's cookie (ports share cookies) and its own Origin."""
    status, headers, _ = ask(door, "GET", f"/?token={door.token}")
    jar = headers["set-cookie"].split(";")[0]
    for origin in ("http://evil.example", f"http://127.0.0.1:{door.port}", "null"):
        sent = {"Cookie": jar, "Origin": origin}
        title = f"csrf from {origin}"
        for path, body in (
            ("/_emulator/pagerduty/incidents", {"title": title, "user": "U0000ONC01"}),
            ("/_emulator/alertmanager", {"name": "api-down-p0"}),
            ("/_emulator/command", {**DEPLOY, "channel": "C0000DEPLY"}),
        ):
            status, _, answer = ask(
                door, "POST", path, body, headers=sent, content_type="text/plain"
            )
            assert status == 403, (origin, path, answer)
        assert title not in incidents(door)
    db = sqlite3.connect(door.cwd / "chatops.db")
    try:
        assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (0,)
    finally:
        db.close()
    # Its own Origin is fine: the page's own requests send it.
    own = {"Cookie": jar, "Origin": f"http://127.0.0.1:{door.sandbox_port}"}
    body = {"title": "from the page itself", "user": "U0000ONC01"}
    assert ask(door, "POST", "/_emulator/pagerduty/incidents", body, headers=own)[0] == 200
    assert "from the page itself" in incidents(door)


def test_readyz_says_sandbox(door: Sandbox) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", door.port, timeout=30)
    try:
        connection.request("GET", "/readyz")
        answer = connection.getresponse()
        assert answer.status == 200
        assert json.loads(answer.read()) == {"status": "ready", "mode": "sandbox", "database": "ok"}
    finally:
        connection.close()


def test_the_web_api_wants_this_runs_bot_token(door: Sandbox) -> None:
    """The fixed fake token of old (`xoxb-sandbox`) opens nothing: each run has its own."""
    path = "/api/conversations.history"
    body = {"channel": "C0000INCID"}
    assert json.loads(ask(door, "POST", path, body)[2])["error"] == "not_authed"
    old = {"Authorization": "Bearer xoxb-sandbox"}
    assert json.loads(ask(door, "POST", path, body, headers=old)[2])["error"] == "invalid_auth"


def test_the_cli_reads_the_token_file_and_says_when_it_is_missing(door: Sandbox) -> None:
    token_file = door.cwd / "state" / f"sandbox-{door.sandbox_port}.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.read_text().strip() == door.token
    assert door.cli("users").returncode == 0
    moved = token_file.with_suffix(".away")
    token_file.rename(moved)
    try:
        done = door.cli("users")
    finally:
        moved.rename(token_file)
    assert (
        done.returncode == 1
        and "no sandbox token" in done.stderr
        and str(token_file) in (done.stderr)
    )


def test_the_pagerduty_stand_in_wants_this_runs_keys(door: Sandbox) -> None:
    """Its Events API takes only this run's routing key, its REST API only this run's
    token: the fixed fakes of old open nothing."""
    event = {
        "routing_key": "sandbox0routing0key0000000000000",
        "event_action": "trigger",
        "payload": {"summary": "paged by a stranger", "source": "x", "severity": "critical"},
    }
    status, _, answer = ask(door, "POST", "/pagerduty/v2/enqueue", event)
    assert status == 400, answer
    assert "paged by a stranger" not in incidents(door)
    old = {"Authorization": "Token token=sandbox-pagerduty-api-token"}
    assert ask(door, "GET", "/pagerduty/api/incidents/Q1", headers=old)[0] == 401
