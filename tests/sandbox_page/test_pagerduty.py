"""The sandbox's PagerDuty behind the bot's incident buttons, without a browser.

An incident opened by hand in the sandbox's PagerDuty (one the bot did not page) reaches
the bot by webhook and is posted in #incidents with Acknowledge and Resolve. Clicking
them in "Slack" makes the bot call the emulator's REST API as the clicking person, which
only works if sandbox mode points PAGERDUTY_API_URL and its token at the emulator and
the example config maps the sandbox people to PagerDuty logins.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from tests.sandbox_page.conftest import Sandbox

T = TypeVar("T")
# Waiting for the bot's effects, not timing them: generous, for a loaded CI machine.
PATIENCE = 30.0


def call(sandbox: Sandbox, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL of the test's own
        sandbox.root + path.lstrip("/"),
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {sandbox.token}"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310  # nosec B310
        return json.loads(answer.read())


def eventually(what: str, check: Callable[[], T | None], sandbox: Sandbox) -> T:
    deadline = time.monotonic() + PATIENCE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}\n" + "".join(sandbox.output[-40:]))
        time.sleep(0.2)


def incident(sandbox: Sandbox) -> dict[str, Any]:
    found: dict[str, Any] = call(sandbox, "/_emulator/pagerduty/incidents")["incidents"][0]
    return found


def incident_message(sandbox: Sandbox) -> str | None:
    body = call(sandbox, "/_emulator/messages?channel=C0000INCID")
    texts = [m["rendered"] for m in body["messages"] if "PagerDuty #1" in m["rendered"]]
    return texts[0] if texts else None


def test_the_incident_buttons_act_in_the_sandbox_pagerduty_as_the_clicking_person(
    sandbox: Sandbox,
) -> None:
    title = "Checkout latency above SLO"
    call(sandbox, "/_emulator/pagerduty/incidents", {"title": title, "user": "U0000APR01"})
    posted = eventually("the bot posts the incident", lambda: incident_message(sandbox), sandbox)
    assert "TRIGGERED" in posted and "[Acknowledge]" in posted and "[Resolve]" in posted

    # Sam has no PagerDuty login in the config: told so, only him, and nothing changes.
    outsider = sandbox.cli("click", "C0000INCID", "latest", "Acknowledge", "--as", "U0000OUT01")
    assert outsider.returncode == 0, outsider.stderr
    ephemerals = eventually(
        "Sam is told he has no PagerDuty login",
        lambda: call(sandbox, "/_emulator/messages?channel=C0000INCID")["ephemerals"],
        sandbox,
    )
    assert "PagerDuty login" in ephemerals[0]["rendered"]
    assert incident(sandbox)["status"] == "triggered"

    clicked = sandbox.cli("click", "C0000INCID", "latest", "Acknowledge", "--as", "U0000ONC01")
    assert clicked.returncode == 0, clicked.stderr
    acked = eventually(
        "the panel shows the incident acknowledged",
        lambda: (found := incident(sandbox))["status"] == "acknowledged" and found,
        sandbox,
    )
    assert "Acknowledged by Olu Oncall (from Slack" in acked["log"][-1]["text"]
    shown = eventually(
        "the Slack message follows",
        lambda: (text := incident_message(sandbox) or "") and "ACKNOWLEDGED" in text and text,
        sandbox,
    )
    assert "[Acknowledge]" not in shown and "[Resolve]" in shown

    resolved = sandbox.cli("click", "C0000INCID", "latest", "Resolve", "--as", "U0000APR01")
    assert resolved.returncode == 0, resolved.stderr
    eventually(
        "the panel shows the incident resolved by Ari",
        lambda: "Resolved by Ari Approver" in incident(sandbox)["log"][-1]["text"],
        sandbox,
    )
    final = eventually(
        "the Slack message shows it resolved",
        lambda: (text := incident_message(sandbox) or "") and "RESOLVED" in text and text,
        sandbox,
    )
    assert "[Resolve]" not in final
