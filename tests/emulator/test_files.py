"""The emulator's file uploads follow Slack's documented three-step flow and its limits;
slack_sdk's own `files_upload_v2` works against it unchanged."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.render import render_text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


async def test_get_url_upload_complete_shares_the_file_in_the_thread(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C0000DEPLY", text="deploy")
    got = await client.files_getUploadURLExternal(filename="bake.png", length=len(PNG))
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="bake.png")
        async with http.post(got["upload_url"], data=form) as response:
            assert response.status == 200
            assert await response.text() == f"OK - {len(PNG)}"
    # Not shared until completed: nothing in the thread yet.
    assert emulator.replies("C0000DEPLY", parent["ts"]) == []
    done = await client.files_completeUploadExternal(
        files=[{"id": got["file_id"], "title": "Bake"}],
        channel_id="C0000DEPLY",
        thread_ts=parent["ts"],
        initial_comment="the chart",
    )
    assert done["files"][0]["id"] == got["file_id"]
    [reply] = emulator.replies("C0000DEPLY", parent["ts"])
    assert reply.text == "the chart"
    assert reply.files[0]["title"] == "Bake" and reply.files[0]["mimetype"] == "image/png"
    assert emulator.files.content(got["file_id"]) == PNG
    assert f"[file: Bake, {len(PNG)} bytes]" in render_text(reply)  # the sandbox's terminal


async def test_slack_sdks_files_upload_v2_works_against_the_emulator(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.files_upload_v2(channel="C0000DEPLY", content=b"hello", filename="a.txt")
    [message] = [m for m in emulator.messages("C0000DEPLY") if m.files]
    assert emulator.files.content(message.files[0]["id"]) == b"hello"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"filename": "a.png", "length": 0}, "missing_argument"),
        ({"filename": "a.png", "length": 2 * 1024**3}, "file_upload_size_restricted"),
        ({"filename": "a.png", "length": 3, "alt_txt": "x" * 1001}, "alt_txt_too_large"),
    ],
)
async def test_get_upload_url_refuses_what_slack_refuses(
    client: AsyncWebClient, args: dict[str, object], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.api_call("files.getUploadURLExternal", params=args)
    assert refused.value.response["error"] == error


async def test_completing_a_file_never_uploaded_or_with_the_wrong_size_fails(
    client: AsyncWebClient,
) -> None:
    got = await client.files_getUploadURLExternal(filename="a.png", length=10)
    async with aiohttp.ClientSession() as http:
        async with http.post(got["upload_url"], data=b"short") as response:
            assert response.status == 400  # the length announced is what must arrive
    with pytest.raises(SlackApiError) as refused:
        await client.files_completeUploadExternal(
            files=[{"id": got["file_id"]}], channel_id="C0000DEPLY"
        )
    assert refused.value.response["error"] == "file_not_found"
