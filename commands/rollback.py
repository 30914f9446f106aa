"""/rollback: all traffic back to the previous live colour, which still runs the old version."""

from __future__ import annotations

from commands import messages as m
from commands.parsing import (
    CommandContext,
    RollbackRequest,
    no_more_than,
    resolve_optional_target,
    split_words,
)
from commands.spec import Argument, CommandSpec


def parse(text: str, context: CommandContext) -> RollbackRequest:
    words = split_words(text)
    no_more_than(words, 2)
    return RollbackRequest(resolve_optional_target(context, words.positional), words.force)


SPEC: CommandSpec[RollbackRequest] = CommandSpec(
    name="/rollback",
    description=m.ROLLBACK_DESCRIPTION,
    arguments=(
        Argument("service", m.ARG_SERVICE_OPTIONAL, optional=True),
        Argument("environment", m.ARG_ENVIRONMENT, optional=True),
        Argument("force", m.ARG_FORCE, flag=True),
    ),
    examples=("/rollback", "/rollback api production"),
    parse=parse,
)
