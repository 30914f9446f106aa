"""/deploy: roll the idle colour to a new version; traffic stays where it is."""

from __future__ import annotations

import re

from commands import messages as m
from commands.parsing import (
    CommandContext,
    DeployRequest,
    UsageError,
    echo,
    no_more_than,
    resolve_environment,
    resolve_service,
    split_words,
)
from commands.spec import Argument, CommandSpec
from commands.targets import Target


def parse(text: str, context: CommandContext) -> DeployRequest:
    words = split_words(text)
    if len(words.positional) < 2:
        raise UsageError(m.DEPLOY_MISSING)
    service_word, version, *rest = words.positional
    service_name, service = resolve_service(context, service_word)
    # fullmatch, not match: a pattern written as '^v\d+' must not let 'v1;' through. Checked
    # before the word count so that `v1; rm -rf /` is reported as the bad version it is.
    if not re.fullmatch(service.version_pattern, version):
        raise UsageError(
            m.BAD_VERSION.format(
                version=echo(version), service=service_name, pattern=service.version_pattern
            )
        )
    no_more_than(words, 3)
    environment = resolve_environment(service_name, service, rest[0] if rest else None)
    return DeployRequest(Target(service_name, environment), version, words.force)


SPEC: CommandSpec[DeployRequest] = CommandSpec(
    name="/deploy",
    description=m.DEPLOY_DESCRIPTION,
    arguments=(
        Argument("service", m.ARG_SERVICE_REQUIRED),
        Argument("version", m.ARG_VERSION),
        Argument("environment", m.ARG_ENVIRONMENT, optional=True),
        Argument("force", m.ARG_FORCE, flag=True),
    ),
    examples=("/deploy api v1.4.0 production", "/deploy api v1.4.1 staging"),
    parse=parse,
)
