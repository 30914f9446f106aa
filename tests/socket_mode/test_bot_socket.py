"""The bot in Socket Mode: the same bolt listeners, reached over the emulator's WebSocket.

The service starts as `chatops serve` starts it (tests/conftest.py `start_service`), with
SLACK_APP_TOKEN set, and the socket handler is started the way `serve` starts it
(`SocketMode.for_service(service).start()`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Config
from bot.runner import serve
from bot.sandbox.emulator import SlackEmulator
from bot.settings import Settings
from bot.slack.socket_mode import SocketMode, SocketModeError
from bot.storage.models import AlertGroup
from tests.conftest import BOT_TOKEN, RunningService, StartService, make_settings
from tests.integration.test_alert_buttons import fire

APP_TOKEN = "xapp-1-A0000000001-1234567890-socket-test"


@pytest.fixture
async def socket_bot(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> AsyncIterator[RunningService]:
    emulator.app_token = APP_TOKEN
    bot = await start_service(sqlite_url, slack_app_token=SecretStr(APP_TOKEN))
    connection = SocketMode.for_service(bot.service)
    assert connection is not None
    await connection.start()
    await emulator.wait_for_socket()
    assert connection.connected
    yield bot
    await connection.stop()
    await emulator.wait_for(lambda: not emulator.socket_connected)


async def test_acknowledge_button_over_socket_mode_acknowledges_the_alert(
    socket_bot: RunningService, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    bot = socket_bot
    ts = await fire(bot, emulator)
    response = await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    assert response.transport == "socket" and response.status == 200
    await bot.settle()

    message = emulator.message("C0000ALERT", ts)
    assert message is not None
    assert "Acknowledged by <@U0000ONC01>" in json.dumps(message.blocks)
    async with bot.service.sessions() as session:
        group = (await session.scalars(select(AlertGroup))).one()
        assert group.acked_by == "U0000ONC01"
    [delivery] = emulator.deliveries
    assert delivery.type == "interactive" and delivery.acked and delivery.failure is None
    # The app-level token is a secret like the others.
    assert APP_TOKEN not in "\n".join(r.getMessage() for r in caplog.records)


async def test_commands_and_reactions_over_socket_mode_are_acked(
    socket_bot: RunningService, emulator: SlackEmulator
) -> None:
    ts = await fire(socket_bot, emulator)
    refused = await emulator.send_command("/shift", "33", user="U0000DEP01", channel="C0000DEPLY")
    # The command's ack carries its answer, shown to the user like Slack shows it.
    assert "not an allowed step" in (refused.json or {})["text"]
    assert any("not an allowed step" in e.text for e in emulator.ephemerals)
    await emulator.send_reaction(user="U0000APR01", reaction="eyes", channel="C0000ALERT", ts=ts)
    kinds = [d.type for d in emulator.deliveries]
    assert kinds == ["slash_commands", "events_api"]
    assert all(d.acked for d in emulator.deliveries)


async def test_slack_events_over_http_still_work_without_socket_mode(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    """No app token: nothing connects and deliveries are signed HTTP, as before."""
    bot = await start_service(sqlite_url)
    assert SocketMode.for_service(bot.service) is None
    ts = await fire(bot, emulator)
    response = await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    assert response.transport == "http" and response.status == 200
    assert emulator.deliveries == []


@pytest.mark.parametrize(
    ("token", "word"),
    [("xapp-1-A0000000001-unknown", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")],
)
async def test_an_unknown_app_token_is_refused_with_a_clear_error(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, token: str, word: str
) -> None:
    emulator.app_token = APP_TOKEN
    bot = await start_service(sqlite_url, slack_app_token=SecretStr(token))
    connection = SocketMode.for_service(bot.service)
    assert connection is not None
    with pytest.raises(SocketModeError) as caught:
        await connection.start()
    assert word in str(caught.value) and "SLACK_APP_TOKEN" in str(caught.value)
    assert token not in str(caught.value)
    assert not connection.connected and not emulator.socket_connected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_with_slack_app_token_connects_by_socket_mode(
    sqlite_url: str, emulator: SlackEmulator, example_config: Config
) -> None:
    emulator.app_token = APP_TOKEN
    settings = make_settings(sqlite_url, emulator, slack_app_token=SecretStr(APP_TOKEN))
    port = free_port()
    stop = asyncio.Event()
    running = asyncio.create_task(
        serve(settings, example_config, host="127.0.0.1", port=port, stop=stop)
    )
    try:
        await emulator.wait_for_socket(timeout=10)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
            async with http.post(f"{url}/slack/events", data=b"payload={}") as response:
                assert response.status == 404
                assert "Socket Mode" in (await response.json())["error"]
        answered = await emulator.send_command(
            "/shift", "33", user="U0000DEP01", channel="C0000DEPLY"
        )
        assert answered.transport == "socket"
        assert "not an allowed step" in (answered.json or {})["text"]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 15) == 0
    assert not emulator.socket_connected


async def test_serve_exits_2_when_slack_refuses_the_app_token(
    sqlite_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    emulator.app_token = APP_TOKEN
    wrong = "xapp-1-A0000000001-wrong-token"
    settings = make_settings(sqlite_url, emulator, slack_app_token=SecretStr(wrong))
    status = await serve(
        settings, example_config, host="127.0.0.1", port=free_port(), stop=asyncio.Event()
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "invalid_auth" in err and wrong not in err


async def test_sandbox_socket_mode_plays_the_socket_side(
    sqlite_url: str, example_config: Config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`chatops serve --sandbox --sandbox-socket-mode`: the in-process emulator hands the
    bot an app-level token of its own and the bot connects to it by Socket Mode."""
    monkeypatch.setenv("CHATOPS_SANDBOX_PRINT", "0")
    monkeypatch.setenv("CHATOPS_STATE_DIR", str(tmp_path))
    settings = Settings.model_construct(database_url=sqlite_url)
    port, sandbox_port = free_port(), free_port()
    stop = asyncio.Event()
    running = asyncio.create_task(
        serve(
            settings,
            example_config,
            host="127.0.0.1",
            port=port,
            sandbox=True,
            sandbox_port=sandbox_port,
            sandbox_socket_mode=True,
            stop=stop,
        )
    )
    control = f"http://127.0.0.1:{sandbox_port}/_emulator"
    token_file = tmp_path / f"sandbox-{sandbox_port}.token"
    try:
        for _ in range(200):
            if token_file.exists():
                break
            await asyncio.sleep(0.05)
        token = token_file.read_text().strip()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:

            async def connections() -> int:
                try:
                    async with http.get(f"{control}/socket") as response:
                        return int((await response.json())["connections"])
                except aiohttp.ClientError:
                    return 0

            for _ in range(200):
                if await connections():
                    break
                await asyncio.sleep(0.05)
            assert await connections() == 1
            command = {"command": "/shift", "text": "33", "user": "U0000DEP01"}
            async with http.post(
                f"{control}/command", json={**command, "channel": "C0000DEPLY"}
            ) as response:
                answer = await response.json()
            assert answer["ok"] and "not an allowed step" in answer["body"]["text"]
            async with http.get(f"{control}/socket") as response:
                [delivery] = (await response.json())["deliveries"]
            assert delivery["type"] == "slash_commands" and delivery["acked"]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 15) == 0


async def test_a_deploy_typed_in_a_dm_over_socket_mode_is_answered_through_response_url(
    socket_bot: RunningService, emulator: SlackEmulator
) -> None:
    """The same answers over Socket Mode: the ack says where the request goes, and the
    "posted" answer reaches the typist in the DM the bot is not in."""
    dm = "D0000DMDAN"  # the default workspace's DM of two people
    response = await emulator.send_command(
        "/deploy", "api v1.4.0 staging", user="U0000DEP01", channel=dm
    )
    assert response.transport == "socket"
    assert "<#C0000DEPLY>" in (response.json or {})["text"]
    await socket_bot.service.operations.settle()
    await socket_bot.settle()

    # The ack is shown like a response (emulator: its own target); then the bot's answer.
    answers = [(r.status, r.text) for r in emulator.responses if r.channel == dm]
    assert len(answers) == 2 and all(status == 200 for status, _ in answers)
    assert answers[0][1].startswith("Got it")
    assert answers[1][1].startswith("Approval request posted in <#C0000DEPLY>")
    assert not [c for c in emulator.calls("chat.postEphemeral") if c.args.get("channel") == dm]
