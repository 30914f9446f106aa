"""The sandbox's PagerDuty knows who is on call, and its Watchdog can be stopped.

Against a real `chatops serve` sandbox: `/oncall api` names Olu and, next, Ari (the
stand-in hands over a few minutes after start); the page's state lists them; stopping the
Watchdog from the Alertmanager panel makes the sandbox's heartbeat go late (posted, and
an incident in the PagerDuty panel), and starting it again brings it back (resolved).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_page.conftest import Sandbox, start_sandbox, stop_sandbox


@pytest.fixture
def fast_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path, env={"CHATOPS_SANDBOX_WATCHDOG_SECONDS": "1"})
    yield sandbox
    stop_sandbox(sandbox)


def state(sandbox: Sandbox) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310  # nosec B310
        f"{sandbox.root}_emulator/state", headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # nosec B310
        data: dict[str, Any] = json.loads(answer.read())
        return data


def post(sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310  # nosec B310
        f"{sandbox.root}{path.lstrip('/')}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {sandbox.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # nosec B310
        data: dict[str, Any] = json.loads(answer.read())
        return data


def until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def texts(sandbox: Sandbox, channel: str) -> list[str]:
    [found] = [c for c in state(sandbox)["channels"] if c["id"] == channel]
    return [m["text"] for m in found["messages"]]


def test_oncall_names_the_sandbox_rota_and_the_page_shows_it(fast_sandbox: Sandbox) -> None:
    done = fast_sandbox.cli("command", "/oncall api", "--as", "U0000APR01")
    assert done.returncode == 0, done.stderr
    answer = until(
        lambda: [
            e["text"] for e in state(fast_sandbox)["ephemerals"] if "On call for api" in e["text"]
        ],
        "the /oncall answer",
    )[0]
    assert "Level 1 (API primary): <@U0000ONC01> until" in answer
    assert ", then <@U0000APR01>" in answer and "Level 2 (API secondary): <@U0000APR02>" in answer
    shown = state(fast_sandbox)["oncall"]
    assert {o["schedule"]: o["user"] for o in shown} == {
        "API primary": "Olu Oncall",
        "API secondary": "Bo Approver",
    }


def test_stopping_the_watchdog_makes_the_heartbeat_late_and_starting_it_brings_it_back(
    fast_sandbox: Sandbox,
) -> None:
    until(lambda: state(fast_sandbox)["watchdog"]["sent"] >= 2, "the Watchdog running")
    assert post(fast_sandbox, "/_emulator/watchdog", {"running": False})["running"] is False
    late = until(
        lambda: [
            t for t in texts(fast_sandbox, "C0000ALERT") if "Heartbeat *watchdog* is late" in t
        ],
        "the late heartbeat",
    )
    assert len(late) == 1
    until(
        lambda: [i for i in state(fast_sandbox)["incidents"] if "watchdog" in i["title"]],
        "the page in the PagerDuty panel",
    )
    post(fast_sandbox, "/_emulator/watchdog", {"running": True})
    until(
        lambda: [
            t for t in texts(fast_sandbox, "C0000ALERT") if "Heartbeat *watchdog* is back" in t
        ],
        "the heartbeat back",
    )
    until(
        lambda: [
            i
            for i in state(fast_sandbox)["incidents"]
            if "watchdog" in i["title"] and i["status"] == "resolved"
        ],
        "the page resolved",
    )
    # The Watchdog itself never shows as an alert.
    assert not [
        t for t in texts(fast_sandbox, "C0000ALERT") if "Watchdog" in t and "Heartbeat" not in t
    ]
