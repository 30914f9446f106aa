"""The sandbox's door: who may reach the emulator's port, and with what.

The emulator holds the whole workspace (every alert, every message) and its control
endpoints act as any user (run /deploy, approve it, fire a P0). A page on another site can
send a browser's requests to 127.0.0.1, and a rebinding DNS name can make them same-origin;
another local user can reach the port too. So in sandbox mode every request must name this
server in `Host` (127.0.0.1:PORT or localhost:PORT: never a foreign name), an `Origin`, when
present, must be this server's, and the control endpoints (`/_emulator/...`, the page) want
the per-start token: in the printed URL, then as an HttpOnly SameSite=Strict cookie the page
sends by itself, or as `Authorization: Bearer` from `chatops sandbox ...`, which reads it
from the token file `chatops serve --sandbox` writes (mode 0600) and deletes on exit.

The bot's own endpoints on that port are left to their own credentials: the Web API
(`/api/...`, the bot token), response_url posts and file uploads (unguessable ids handed
to the bot), Socket Mode (a ticket from the app token) and the PagerDuty stand-in (its
routing key and API token), all random per start.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

TOKEN_ENV = "CHATOPS_SANDBOX_TOKEN"  # noqa: S105 - the variable's name, not a token
STATE_ENV = "CHATOPS_STATE_DIR"
# The bot's side of the emulator: each authenticated by what only the bot was handed.
BOT_PATHS = ("/_emulator/response/", "/_emulator/upload/", "/_emulator/socket/")
LOOPBACK = ("127.0.0.1", "localhost")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def state_dir() -> Path:
    """Where the token file lives: $CHATOPS_STATE_DIR, else $XDG_STATE_HOME/chatops, else
    ~/.local/state/chatops (the XDG default)."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "chatops"


def token_file(port: int) -> Path:
    """One file per emulator port, so that two sandboxes side by side do not clash."""
    return state_dir() / f"sandbox-{port}.token"


def read_token(port: int) -> str | None:
    """The running sandbox's token for `chatops sandbox ...`: $CHATOPS_SANDBOX_TOKEN, else
    the token file of that port; None when neither exists."""
    given = os.environ.get(TOKEN_ENV)
    if given:
        return given
    try:
        return token_file(port).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


class SandboxGuard:
    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.port = port
        names = {host, "127.0.0.1", "localhost"}
        self.hosts = {f"{name}:{port}".lower() for name in names}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.cookie = f"chatops_sandbox_{port}"  # cookies ignore ports: one name per port
        self._shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104  # nosec B104
        self._file: Path | None = None

    @property
    def page_url(self) -> str:
        return f"http://{self._shown}:{self.port}/?token={self.token}"

    @property
    def token_path(self) -> Path:
        return token_file(self.port)

    # -- the token file -------------------------------------------------------------

    def write_token_file(self) -> Path:
        path = token_file(self.port)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.token + "\n")
        self._file = path
        return path

    def remove_token_file(self) -> None:
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    # -- requests -------------------------------------------------------------------

    def _has_token(self, request: web.Request) -> bool:
        given = request.cookies.get(self.cookie, "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :]
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "").lower()
        if host not in self.hosts:
            # DNS rebinding: a foreign name that resolves here gets nothing of the workspace.
            return _refuse(421, f"this sandbox answers only to {sorted(self.hosts)}")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.origins:
            return _refuse(403, "cross-origin request refused")
        path = request.path
        if path == "/":
            return await self._page(request, handler)
        if path.startswith("/_emulator") and not path.startswith(BOT_PATHS):
            if not self._has_token(request):
                return _refuse(
                    401, "the sandbox token is missing: open the URL `chatops serve` printed"
                )
        return await handler(request)

    async def _page(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        offered = request.query.get("token")
        if offered is not None:
            if not hmac.compare_digest(offered.encode(), self.token.encode()):
                return _refuse(401, "wrong sandbox token: open the URL `chatops serve` printed")
            # Into a cookie, and out of the address bar (history, a shared screen).
            found = web.HTTPSeeOther("/")
            found.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return found
        if not self._has_token(request):
            return _refuse(
                401,
                "Open the address `chatops serve --sandbox` printed "
                f"(http://127.0.0.1:{self.port}/?token=...); the token is also in "
                f"{token_file(self.port)}.",
            )
        return await handler(request)


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)
