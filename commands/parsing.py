"""Typed operation requests, and the parsing every slash command shares.

Slash-command text is one untrusted string typed by a person (or pasted by a script). It
is turned into a typed request here, checked against the config, so that nothing
downstream (approval messages, backends, shell-adjacent tools) ever sees a service,
environment, version or percentage that was not validated. Every problem is a
`UsageError` that says what was wrong; the registry adds the command's usage line.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import ClassVar, Literal

from alerts.slack_text import escape
from commands import messages as m
from commands.config import DeployConfig, ServiceConfig
from commands.targets import Target

# Longer than any valid command by far; checked before anything else so that a 10 KB
# paste costs one len() and never reaches a regular expression or a message.
MAX_TEXT = 200
# Echoed user input is clipped so an error about a long word stays readable.
MAX_ECHO = 40

FORCE = "--force"


class UsageError(Exception):
    """A command could not be understood; `message` is safe to show to the user."""

    def __init__(self, problem: str, usage: str = "") -> None:
        self.problem = problem
        self.usage = usage
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if not self.usage:
            return self.problem
        return f"{self.problem}\n{m.USAGE_LINE.format(usage=self.usage)}"

    def __str__(self) -> str:
        return self.message

    def with_usage(self, usage: str) -> UsageError:
        return self if self.usage else UsageError(self.problem, usage)


@dataclass(frozen=True)
class CommandContext:
    """Who typed the command, where, and the config it is checked against."""

    user: str
    channel: str
    config: DeployConfig


@dataclass(frozen=True)
class DeployRequest:
    kind: ClassVar[Literal["deploy"]] = "deploy"
    target: Target
    version: str
    force: bool = False


@dataclass(frozen=True)
class ShiftRequest:
    kind: ClassVar[Literal["shift"]] = "shift"
    target: Target
    percent: int
    force: bool = False


@dataclass(frozen=True)
class RollbackRequest:
    kind: ClassVar[Literal["rollback"]] = "rollback"
    target: Target
    force: bool = False


OperationRequest = DeployRequest | ShiftRequest | RollbackRequest


@dataclass(frozen=True)
class StatusRequest:
    """`/deploy status [service] [environment]`: what runs where; changes nothing."""

    kind: ClassVar[Literal["status"]] = "status"
    targets: tuple[Target, ...]


CommandRequest = OperationRequest | StatusRequest


def command_line(request: OperationRequest) -> str:
    """The request as a fully spelled-out command, so approvers see exactly what runs."""
    target = request.target
    if isinstance(request, DeployRequest):
        words = ["/deploy", target.service, request.version, target.environment]
    elif isinstance(request, ShiftRequest):
        words = ["/shift", str(request.percent), target.service, target.environment]
    else:
        words = ["/rollback", target.service, target.environment]
    if request.force:
        words.append(FORCE)
    return " ".join(words)


def echo(value: str) -> str:
    """User input made safe to quote back in `code`: clipped, no Slack control characters."""
    if len(value) > MAX_ECHO:
        value = value[: MAX_ECHO - 1] + "…"
    return escape(value).replace("`", "'")


def check_text(text: str) -> None:
    """Refuse oversized text and anything that is not one line of printable characters."""
    if len(text) > MAX_TEXT:
        raise UsageError(m.TEXT_TOO_LONG.format(length=len(text), limit=MAX_TEXT))
    for char in text:
        # Cc covers newlines, tabs and escapes; Cf covers invisible direction overrides that
        # would make an approval message read differently from what runs.
        if unicodedata.category(char) in ("Cc", "Cf"):
            raise UsageError(m.CONTROL_CHARACTER)


@dataclass(frozen=True)
class Words:
    positional: list[str]
    force: bool


def split_words(text: str) -> Words:
    """Split into positional words and the `--force` flag, which may appear anywhere."""
    check_text(text)
    positional: list[str] = []
    force = False
    for word in text.split():
        if word.lower() == FORCE:
            force = True
        elif word.startswith("--") or word.startswith("—"):
            # "—force" is what macOS autocorrect makes of "--force".
            raise UsageError(m.UNKNOWN_FLAG.format(flag=echo(word)))
        else:
            positional.append(word)
    return Words(positional, force)


def no_more_than(words: Words, most: int) -> None:
    if len(words.positional) > most:
        extra = " ".join(f"`{echo(w)}`" for w in words.positional[most:])
        raise UsageError(m.EXTRA_ARGUMENTS.format(words=extra))


def _known(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(names)) or m.NONE_CONFIGURED


def default_service(context: CommandContext) -> str | None:
    """The service a command means when it names none: the channel's, else the only one."""
    services = context.config.services
    here = [name for name, svc in services.items() if svc.channel == context.channel]
    if len(here) == 1:
        return here[0]
    if len(here) > 1:
        raise UsageError(m.CHANNEL_HAS_SEVERAL_SERVICES.format(known=_known(here)))
    if len(services) == 1:
        return next(iter(services))
    return None


def resolve_service(context: CommandContext, name: str | None) -> tuple[str, ServiceConfig]:
    services = context.config.services
    if not services:
        raise UsageError(m.NO_SERVICES)
    if name is None:
        name = default_service(context)
        if name is None:
            raise UsageError(m.WHICH_SERVICE.format(known=_known(list(services))))
    service = services.get(name)
    if service is None:
        raise UsageError(m.UNKNOWN_SERVICE.format(name=echo(name), known=_known(list(services))))
    return name, service


def resolve_environment(service_name: str, service: ServiceConfig, name: str | None) -> str:
    """The named environment, else the only one, else the service's `default_environment`.

    A service with several environments and no default needs the environment spelled
    out: a production change should never happen because someone left a word off.
    """
    known = _known(list(service.environments))
    if name is not None:
        if name not in service.environments:
            raise UsageError(
                m.UNKNOWN_ENVIRONMENT.format(name=echo(name), service=service_name, known=known)
            )
        return name
    if len(service.environments) == 1:
        return next(iter(service.environments))
    if service.default_environment:
        return service.default_environment
    raise UsageError(m.WHICH_ENVIRONMENT.format(service=service_name, known=known))


def resolve_target(context: CommandContext, service: str | None, environment: str | None) -> Target:
    service_name, service_config = resolve_service(context, service)
    return Target(service_name, resolve_environment(service_name, service_config, environment))


def resolve_optional_target(context: CommandContext, words: list[str]) -> Target:
    """`[service] [environment]`, where a lone word may also be an environment.

    `/shift 50 production` typed in api's channel means api/production: people name the
    environment far more often than the service the channel already belongs to. A word
    that names a service wins over one that names an environment.
    """
    if not words:
        return resolve_target(context, None, None)
    if len(words) >= 2:
        return resolve_target(context, words[0], words[1])
    word = words[0]
    services = context.config.services
    if word in services:
        return resolve_target(context, word, None)
    fallback = default_service(context) if services else None
    if fallback is not None and word in services[fallback].environments:
        return Target(fallback, word)
    if fallback is None:
        return resolve_target(context, word, None)  # names the unknown service
    raise UsageError(
        m.UNKNOWN_SERVICE_OR_ENVIRONMENT.format(
            name=echo(word),
            services=_known(list(services)),
            service=fallback,
            environments=_known(list(services[fallback].environments)),
        )
    )


def environment_steps(context: CommandContext, target: Target) -> list[int]:
    return context.config.services[target.service].environments[target.environment].steps
