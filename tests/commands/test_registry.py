"""Help and usage come from one registry, so they cannot drift from the parsers."""

from __future__ import annotations

import pytest

from commands.config import DeployConfig
from commands.parsing import CommandContext, UsageError
from commands.registry import CommandRegistry, Help, default_registry
from commands.spec import Argument, CommandSpec

CONTEXT = CommandContext("U0000DEP01", "C0000DEPLY", DeployConfig())


def echo_words(text: str, context: CommandContext) -> str:
    if not text:
        raise UsageError("Say something.")
    return text.upper()


ECHO = CommandSpec(
    name="/echo",
    description="Repeat the words, louder.",
    arguments=(Argument("words", "what to say"), Argument("quiet", "whisper", flag=True)),
    examples=("/echo hello",),
    parse=echo_words,
)


def test_the_default_registry_holds_the_three_operations_and_deploy_status() -> None:
    assert default_registry().names() == ["/deploy", "/deploy status", "/shift", "/rollback"]


def test_deploy_status_is_a_subcommand_of_deploy_with_its_own_help() -> None:
    registry = default_registry()
    answer = registry.parse("/deploy", "status help", CONTEXT)
    assert isinstance(answer, Help) and answer.command == "/deploy status"
    assert registry.usage("/deploy status") == "/deploy status [service] [environment]"
    assert "`/deploy status [service] [environment]`" in registry.help_text()


@pytest.mark.parametrize("command", ["/deploy", "/shift", "/rollback"])
@pytest.mark.parametrize("text", ["help", " HELP ", "--help"])
def test_each_command_answers_help_from_its_spec(command: str, text: str) -> None:
    registry = default_registry()
    answer = registry.parse(command, text, CONTEXT)
    assert isinstance(answer, Help)
    spec = registry.get(command)
    assert f"Usage: `{spec.usage}`" in answer.text
    assert spec.description in answer.text
    for argument in spec.arguments:
        assert argument.usage in answer.text
    for example in spec.examples:
        assert f"`{example}`" in answer.text


def test_usage_lines_are_generated_from_the_arguments() -> None:
    registry = default_registry()
    assert registry.usage("/deploy") == "/deploy <service> <version> [environment] [--force]"
    assert registry.usage("/shift") == "/shift <percent> [service] [environment] [--force]"
    assert registry.usage("/rollback") == "/rollback [service] [environment] [--force]"


def test_overview_lists_every_command() -> None:
    overview = default_registry().help_text()
    for command in ("/deploy", "/shift", "/rollback"):
        assert f"`{default_registry().usage(command)}`" in overview
    assert "`/deploy help`" in overview


def test_a_fresh_registry_is_empty_and_independent() -> None:
    registry: CommandRegistry[str] = CommandRegistry()
    assert registry.names() == []
    registry.register(ECHO)
    assert "/echo" in registry
    assert "/echo" not in default_registry()
    assert registry.parse("/echo", "hi there", CONTEXT) == "HI THERE"
    assert registry.usage("/echo") == "/echo <words> [--quiet]"


def test_usage_errors_carry_the_usage_line() -> None:
    registry: CommandRegistry[str] = CommandRegistry()
    registry.register(ECHO)
    with pytest.raises(UsageError) as caught:
        registry.parse("/echo", "", CONTEXT)
    assert caught.value.message == "Say something.\nUsage: `/echo <words> [--quiet]`"


def test_registering_a_name_twice_is_a_bug() -> None:
    registry: CommandRegistry[str] = CommandRegistry()
    registry.register(ECHO)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ECHO)


def test_an_unknown_command_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"Unknown command `/deplyo`.*`/deploy`, `/shift`"):
        default_registry().get("/deplyo")
