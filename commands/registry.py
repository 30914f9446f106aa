"""The one registry of slash commands, from which parsing, usage lines and `help` come.

Usage text written by hand drifts from what the parser accepts; here both come from one
`CommandSpec` per command, so `/deploy help`, every usage error and the overview list
cannot disagree. Registries are plain objects: tests build their own, and the bot uses
`default_registry()`, which holds /deploy (and /deploy status), /shift and /rollback.

The per-user rate limiter lives here too, because it guards the same entry point.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Generic, TypeVar

from commands import deploy, rollback, shift, status
from commands import messages as m
from commands.parsing import CommandContext, CommandRequest, UsageError, check_text, echo
from commands.spec import CommandSpec

R = TypeVar("R")


@dataclass(frozen=True)
class Help:
    """The user asked for help; answer with `text`, ephemerally."""

    command: str | None
    text: str


class CommandRegistry(Generic[R]):
    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec[R]] = {}

    def register(self, spec: CommandSpec[R]) -> CommandSpec[R]:
        if spec.name in self._specs:
            raise ValueError(f"command {spec.name} is already registered")
        self._specs[spec.name] = spec
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[CommandSpec[R]]:
        return iter(self._specs.values())

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> CommandSpec[R]:
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(f"`{n}`" for n in self._specs if " " not in n)
            raise UsageError(m.UNKNOWN_COMMAND.format(name=echo(name), known=known))
        return spec

    def usage(self, name: str) -> str:
        return self.get(name).usage

    def help_text(self, name: str | None = None) -> str:
        """Help for one command, or an overview of all of them."""
        if name is not None:
            return self.get(name).help_text()
        lines = [m.HELP_OVERVIEW]
        lines.extend(
            m.HELP_OVERVIEW_LINE.format(usage=s.usage, description=s.description) for s in self
        )
        if self._specs:
            lines.append(m.HELP_MORE.format(example=next(iter(self._specs))))
        return "\n".join(lines)

    def parse(self, name: str, text: str, context: CommandContext) -> R | Help:
        """Parse one invocation; every UsageError raised carries the command's usage.

        A spec named with two words (`/deploy status`) is a subcommand: it gets the text
        when its second word comes first."""
        spec = self.get(name)
        first, _, rest = text.strip().partition(" ")
        sub = self._specs.get(f"{name} {first.lower()}") if first else None
        if sub is not None:
            spec, text = sub, rest
        try:
            check_text(text)
            if text.strip().lower() in ("help", "-h", "--help"):
                return Help(spec.name, spec.help_text())
            return spec.parse(text, context)
        except UsageError as error:
            raise error.with_usage(spec.usage) from None


COMMANDS: tuple[CommandSpec[CommandRequest], ...] = (
    deploy.SPEC,
    status.SPEC,
    shift.SPEC,
    rollback.SPEC,
)
"""Every slash command the bot answers, in the order `help` lists them. The registry is the
one place that knows them all; the command modules only declare their own spec."""


@cache
def default_registry() -> CommandRegistry[CommandRequest]:
    """The bot's registry: /deploy, /deploy status, /shift and /rollback, built once."""
    registry: CommandRegistry[CommandRequest] = CommandRegistry()
    for spec in COMMANDS:
        registry.register(spec)
    return registry


class RateLimiter:
    """Sliding-window limit per user: at most `limit` commands in any `window`.

    Only allowed commands are counted, so someone who hits the limit can use the bot
    again a minute after their burst, however often they retried meanwhile. The clock is
    passed in, never read, so tests need no sleeping.
    """

    def __init__(self, limit: int = 100, window: timedelta = timedelta(minutes=1)) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[datetime]] = {}
        self._sweep_at = 1024

    def _recent(self, user: str, now: datetime) -> deque[datetime]:
        times = self._seen.setdefault(user, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def allow(self, user: str, now: datetime) -> bool:
        times = self._recent(user, now)
        if len(times) >= self.limit:
            return False
        times.append(now)
        self._forget_idle(now)
        return True

    def retry_after(self, user: str, now: datetime) -> timedelta:
        """How long until `user` may run a command again (zero when they may now)."""
        times = self._recent(user, now)
        if len(times) < self.limit:
            return timedelta(0)
        return times[0] + self.window - now

    def _forget_idle(self, now: datetime) -> None:
        # Bounded memory: drop users with nothing in the window whenever the map has
        # doubled since the last sweep, which keeps the cost per command constant.
        if len(self._seen) <= self._sweep_at:
            return
        for user in [u for u, t in self._seen.items() if not t or t[-1] <= now - self.window]:
            del self._seen[user]
        self._sweep_at = max(1024, 2 * len(self._seen))
