"""/shift: move a share of traffic to the idle colour, in the environment's steps."""

from __future__ import annotations

import re

from commands import messages as m
from commands.parsing import (
    CommandContext,
    ShiftRequest,
    UsageError,
    echo,
    environment_steps,
    no_more_than,
    resolve_optional_target,
    split_words,
)
from commands.spec import Argument, CommandSpec

# Digits only (a trailing % is forgiven): int() would also take "+50", " 50" or "5_0".
_PERCENT = re.compile(r"(\d{1,3})%?")


def parse(text: str, context: CommandContext) -> ShiftRequest:
    words = split_words(text)
    no_more_than(words, 3)
    raw = words.positional[0] if words.positional else None
    # The target comes first so that every percentage error can name the allowed steps;
    # but `/shift production` is a missing number, not a missing environment.
    try:
        target = resolve_optional_target(context, words.positional[1:])
    except UsageError:
        if raw is not None and _PERCENT.fullmatch(raw) is None:
            raise UsageError(m.PERCENT_NOT_A_NUMBER_BARE.format(value=echo(raw))) from None
        raise
    steps = environment_steps(context, target)
    allowed = ", ".join(str(step) for step in steps)
    where = f"{target.service}/{target.environment}"
    if raw is None:
        raise UsageError(m.SHIFT_MISSING.format(target=where, steps=allowed))
    matched = _PERCENT.fullmatch(raw)
    if matched is None:
        raise UsageError(
            m.PERCENT_NOT_A_NUMBER.format(value=echo(raw), target=where, steps=allowed)
        )
    percent = int(matched.group(1))
    if percent not in steps:
        raise UsageError(m.PERCENT_NOT_A_STEP.format(percent=percent, target=where, steps=allowed))
    return ShiftRequest(target, percent, words.force)


SPEC: CommandSpec[ShiftRequest] = CommandSpec(
    name="/shift",
    description=m.SHIFT_DESCRIPTION,
    arguments=(
        Argument("percent", m.ARG_PERCENT),
        Argument("service", m.ARG_SERVICE_OPTIONAL, optional=True),
        Argument("environment", m.ARG_ENVIRONMENT, optional=True),
        Argument("force", m.ARG_FORCE, flag=True),
    ),
    examples=("/shift 10", "/shift 50 production", "/shift 100 api production"),
    parse=parse,
)
