"""The one registry of slash commands, from which parsing, usage lines and `help` come.

Usage text written by hand drifts from what the parser accepts; here both come from one
`CommandSpec` per command, so `/deploy help`, every usage error and the overview list
cannot disagree. Registries are plain objects: tests build their own, and the bot uses
`default_registry()`, which holds /deploy (and /deploy status), /shift and /rollback.
The per-user limit on commands is counted in the database (bot/storage/user_limits.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
