"""What one slash command is: its name, arguments, examples and parser.

The command modules (deploy, status, shift, rollback) each declare a `CommandSpec` here;
the registry collects them. Keeping the spec apart from the registry lets the commands
describe themselves without importing the registry that lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from commands import messages as m
from commands.parsing import CommandContext

R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    optional: bool = False
    flag: bool = False
    """A `--name` switch rather than a positional word; always optional."""

    @property
    def usage(self) -> str:
        if self.flag:
            return f"[--{self.name}]"
        return f"[{self.name}]" if self.optional else f"<{self.name}>"


@dataclass(frozen=True)
class CommandSpec(Generic[R_co]):
    """Everything the bot knows about one slash command."""

    name: str
    description: str
    arguments: tuple[Argument, ...]
    examples: tuple[str, ...]
    parse: Callable[[str, CommandContext], R_co]
    """Text after the command name -> typed request; raises UsageError (usage is added)."""

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(a.usage for a in self.arguments)])

    def help_text(self) -> str:
        lines = [m.HELP_TITLE.format(name=self.name, description=self.description)]
        lines.append(m.USAGE_LINE.format(usage=self.usage))
        lines.extend(
            m.HELP_ARGUMENT.format(usage=a.usage, description=a.description) for a in self.arguments
        )
        if self.examples:
            lines.append(m.HELP_EXAMPLES)
            lines.extend(m.HELP_EXAMPLE.format(example=e) for e in self.examples)
        return "\n".join(lines)
