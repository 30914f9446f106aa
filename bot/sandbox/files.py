"""Slack's file upload flow, as the emulator plays it.

Slack retired `files.upload`; apps now upload in three steps: `files.getUploadURLExternal`
(filename and length; answers an upload URL and a file id), a POST of the bytes to that
URL (raw or multipart; HTTP 200 when received), then `files.completeUploadExternal` (the
file ids with titles, and `channel_id` / `thread_ts` / `initial_comment` to share them),
which makes the file visible as a message. Files never completed stay private and are
not shown. Stored files keep their bytes, so tests can look at what the bot uploaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.sandbox.store import BOT_USER_ID, JSON, Message, MessageVersion, Store
from bot.sandbox.webapi import Handler, Notify, error, opt_str

MAX_FILE_BYTES = 1024 * 1024 * 1024  # Slack: 1 GB per file
MAX_ALT_TEXT = 1000  # Slack: alt_txt_too_large beyond this
MAX_COMMENT = 40_000


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None

    @property
    def completed(self) -> bool:
        return self.title is not None

    def to_api(self) -> JSON:
        """The `file` object Slack shows in messages and method answers."""
        mimetype = "image/png" if self.filename.lower().endswith(".png") else "text/plain"
        out: JSON = {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": mimetype,
            "filetype": self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else "",
            "size": self.length,
            "user": BOT_USER_ID,
        }
        if self.alt_txt:
            out["alt_txt"] = self.alt_txt
        return out


class Files:
    """`files.getUploadURLExternal`, the upload URL and `files.completeUploadExternal`."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        notify: Notify,
        root_url: Callable[[], str],
    ) -> None:
        self._store = store
        self._clock = clock
        self._notify = notify
        self._root_url = root_url
        self.files: dict[str, StoredFile] = {}
        self._next = 0
        self.methods: dict[str, Handler] = {
            "files.getUploadURLExternal": self.get_upload_url,
            "files.completeUploadExternal": self.complete,
        }

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/upload/{file_id}", self._receive)

    def get_upload_url(self, args: JSON) -> JSON:
        filename = opt_str(args.get("filename"))
        try:
            length = int(str(args.get("length", "")))
        except ValueError:
            return error("invalid_arguments")
        if filename is None or length <= 0:
            return error("missing_argument")
        if length > MAX_FILE_BYTES:
            return error("file_upload_size_restricted")
        alt = opt_str(args.get("alt_txt"))
        if alt is not None and len(alt) > MAX_ALT_TEXT:
            return error("alt_txt_too_large")
        self._next += 1
        file_id = f"F{self._next:010d}"
        self.files[file_id] = StoredFile(file_id, filename, length, alt)
        return {
            "ok": True,
            "upload_url": f"{self._root_url()}_emulator/upload/{file_id}",
            "file_id": file_id,
        }

    async def _receive(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        if stored is None or stored.completed:
            return web.Response(status=404, text="not found")
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            field = form.get("file") or form.get("filename")
            content = field.file.read() if isinstance(field, web.FileField) else None
        else:
            content = await request.read()
        if not content:
            return web.Response(status=400, text="no file in the request")
        if len(content) != stored.length:
            # The length announced in step one is what Slack expects to receive.
            return web.Response(status=400, text=f"expected {stored.length} bytes")
        stored.content = content
        return web.Response(text=f"OK - {len(content)}")

    def complete(self, args: JSON) -> JSON:
        raw = args.get("files")
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return error("invalid_arguments")
        if not isinstance(items, list) or not items:
            return error("invalid_arguments")
        chosen: list[tuple[StoredFile, str | None]] = []
        for item in items:
            if not isinstance(item, dict):
                return error("invalid_arguments")
            stored = self.files.get(str(item.get("id")))
            if stored is None or stored.content is None or stored.completed:
                return error("file_not_found")
            chosen.append((stored, opt_str(item.get("title"))))
        channel = opt_str(args.get("channel_id"))
        if channel is not None and channel not in self._store.channels:
            return error("channel_not_found")
        thread_ts = opt_str(args.get("thread_ts"))
        if thread_ts is not None and channel is None:
            return error("invalid_arguments")
        comment = str(args.get("initial_comment") or "")
        if len(comment) > MAX_COMMENT:
            return error("msg_too_long")
        for stored, title in chosen:
            stored.title = title or stored.filename
            stored.channel, stored.thread_ts = channel, thread_ts
        if channel is not None:
            message = Message(
                ts=self._store.next_ts(),
                channel=channel,
                text=comment,
                blocks=[],
                user=BOT_USER_ID,
                thread_ts=thread_ts,
                versions=[MessageVersion(comment, [], self._clock())],
                files=[stored.to_api() for stored, _ in chosen],
            )
            if thread_ts is not None and self._store.find(channel, thread_ts) is None:
                message.thread_missing = True
            self._store.add_message(message)
            for stored, _ in chosen:
                stored.message_ts = message.ts
            self._notify("post", message)
        return {"ok": True, "files": [stored.to_api() for stored, _ in chosen]}

    def content(self, file_id: str) -> bytes | None:
        stored = self.files.get(file_id)
        return stored.content if stored is not None else None
