"""Slash-command text becomes a typed request, or an error that says what was wrong."""

from __future__ import annotations

import pytest

from commands.config import DeployConfig
from commands.parsing import (
    CommandContext,
    DeployRequest,
    RollbackRequest,
    ShiftRequest,
    UsageError,
    command_line,
)
from commands.registry import default_registry
from commands.targets import Target

CONFIG = DeployConfig.model_validate(
    {
        "deployers": ["U0000DEP01"],
        "approvers": ["U0000APR01", "U0000APR02"],
        "services": {
            "api": {
                "channel": "C0000DEPLY",
                "environments": {
                    "staging": {"approvals": 1},
                    "production": {"approvals": 2, "steps": [10, 50, 100]},
                },
            },
            "web": {
                "channel": "C0000WEB01",
                "version_pattern": r"^\d{4}\.\d{2}\.\d{2}$",
                "environments": {"production": {"steps": [25, 100]}},
            },
        },
    }
)
API_CHANNEL, WEB_CHANNEL, OTHER_CHANNEL = "C0000DEPLY", "C0000WEB01", "C0000RANDM"
DEPLOY_USAGE = "Usage: `/deploy <service> <version> [environment] [--force]`"
SHIFT_USAGE = "Usage: `/shift <percent> [service] [environment] [--force]`"
ROLLBACK_USAGE = "Usage: `/rollback [service] [environment] [--force]`"


def parse(
    command: str, text: str, channel: str = API_CHANNEL, config: DeployConfig = CONFIG
) -> object:
    return default_registry().parse(command, text, CommandContext("U0000DEP01", channel, config))


def error(command: str, text: str, channel: str = API_CHANNEL, **kw: DeployConfig) -> str:
    with pytest.raises(UsageError) as caught:
        parse(command, text, channel, **kw)
    return caught.value.message


# --- /deploy ---------------------------------------------------------------------------


def test_deploy_names_service_version_and_environment() -> None:
    assert parse("/deploy", "api v1.4.0 production") == DeployRequest(
        Target("api", "production"), "v1.4.0"
    )


def test_force_may_appear_anywhere() -> None:
    expected = DeployRequest(Target("api", "staging"), "1.4.0", force=True)
    assert parse("/deploy", "--force api 1.4.0 staging") == expected
    assert parse("/deploy", "api 1.4.0 staging --force") == expected


def test_deploy_to_a_service_with_one_environment_needs_no_environment() -> None:
    assert parse("/deploy", "web 2026.01.31") == DeployRequest(
        Target("web", "production"), "2026.01.31"
    )


def test_deploy_without_environment_when_several_names_them() -> None:
    message = error("/deploy", "api v1.4.0")
    assert "api has several environments (`production`, `staging`)" in message
    assert DEPLOY_USAGE in message


def test_deploy_needs_service_and_version() -> None:
    for text in ("", "api"):
        message = error("/deploy", text)
        assert "needs a service and a version" in message
        assert DEPLOY_USAGE in message


def test_unknown_service_lists_the_known_ones() -> None:
    message = error("/deploy", "billing v1.0.0 production")
    assert "Unknown service `billing`. Known services: `api`, `web`." in message
    assert DEPLOY_USAGE in message


def test_unknown_environment_lists_the_service_environments() -> None:
    message = error("/deploy", "api v1.0.0 prod")
    assert "Unknown environment `prod` for api. Its environments: `production`, `staging`." in (
        message
    )
    assert DEPLOY_USAGE in message


@pytest.mark.parametrize(
    "version",
    ["v1.2", "1.2.3-rc1", "latest", "v1.2.3.4", "V1.2.3", "v1.2.3;", "$(reboot)", "v1.2.3&&ls"],
)
def test_version_must_fully_match_the_service_pattern(version: str) -> None:
    message = error("/deploy", f"api {version} production")
    assert "is not a valid version for api: it must match `^v?\\d+\\.\\d+\\.\\d+$`" in message
    assert DEPLOY_USAGE in message


def test_shell_injection_is_reported_as_a_bad_version() -> None:
    message = error("/deploy", "api v1; rm -rf / production")
    assert "`v1;` is not a valid version for api" in message
    assert DEPLOY_USAGE in message


@pytest.mark.parametrize(
    "text",
    [
        "api v1.2.3\nproduction",
        "api v1.2.3\n",
        "api v1.2.3\rproduction",
        "api v1.2.3\tproduction",
        "api v1.2.3\x1b[2J production",
        "api v1.2.3\x00 production",
        "api v1.2.3\u202e production",  # right-to-left override
    ],
)
def test_line_breaks_and_control_characters_are_refused(text: str) -> None:
    message = error("/deploy", text)
    assert "line break or an invisible control character" in message
    assert DEPLOY_USAGE in message


def test_ten_kilobytes_are_refused_before_any_parsing() -> None:
    message = error("/deploy", "api v" + "1" * 10_240 + " production")
    assert "characters long; a valid one is at most 200" in message
    assert DEPLOY_USAGE in message
    assert len(message) < 300  # the input is not echoed back


def test_long_words_are_clipped_and_escaped_in_errors() -> None:
    message = error("/deploy", "<!channel>" + "x" * 100 + " v1.0.0")
    assert "<!channel>" not in message
    assert "&lt;!channel&gt;" in message
    assert "x" * 60 not in message


def test_unknown_options_are_named() -> None:
    message = error("/deploy", "api v1.4.0 production --yes")
    assert "Unknown option `--yes`" in message
    assert DEPLOY_USAGE in message


def test_extra_words_are_named() -> None:
    message = error("/deploy", "api v1.4.0 production now")
    assert "Unexpected extra argument(s): `now`." in message
    assert DEPLOY_USAGE in message


def test_version_pattern_is_per_service() -> None:
    assert parse("/deploy", "web 2026.02.01").version == "2026.02.01"  # type: ignore[attr-defined]
    assert "must match" in error("/deploy", "web v1.2.3")


# --- /shift ----------------------------------------------------------------------------


def test_shift_with_everything_spelled_out() -> None:
    assert parse("/shift", "10 api production", OTHER_CHANNEL) == ShiftRequest(
        Target("api", "production"), 10
    )


def test_shift_alone_uses_the_channel_service_and_its_only_environment() -> None:
    assert parse("/shift", "25", WEB_CHANNEL) == ShiftRequest(Target("web", "production"), 25)


def test_shift_with_only_an_environment_uses_the_channel_service() -> None:
    assert parse("/shift", "50 production") == ShiftRequest(Target("api", "production"), 50)


def test_shift_with_only_a_service_word() -> None:
    assert parse("/shift", "100 web") == ShiftRequest(Target("web", "production"), 100)


def test_shift_uses_the_only_configured_service_anywhere() -> None:
    only_api = CONFIG.model_copy(update={"services": {"api": CONFIG.services["api"]}})
    assert parse("/shift", "50 production", OTHER_CHANNEL, only_api) == ShiftRequest(
        Target("api", "production"), 50
    )


def test_default_environment_from_config() -> None:
    api = CONFIG.services["api"].model_copy(update={"default_environment": "production"})
    config = CONFIG.model_copy(update={"services": {**CONFIG.services, "api": api}})
    assert parse("/shift", "50", API_CHANNEL, config) == ShiftRequest(
        Target("api", "production"), 50
    )


def test_shift_outside_a_service_channel_asks_which_service() -> None:
    message = error("/shift", "50", OTHER_CHANNEL)
    assert "Which service? This channel belongs to none; name one of: `api`, `web`." in message
    assert SHIFT_USAGE in message


@pytest.mark.parametrize("percent", ["33", "150", "0", "-10", "1000"])
def test_shift_percent_must_be_one_of_the_steps(percent: str) -> None:
    message = error("/shift", f"{percent} production")
    assert "is not an allowed step for api/production. Allowed steps: 10, 50, 100." in message or (
        "is not a whole percentage. Allowed steps for api/production: 10, 50, 100." in message
    )
    assert SHIFT_USAGE in message


@pytest.mark.parametrize("percent", ["abc", "5O", "+50", "50.0", "½"])
def test_shift_percent_must_be_a_whole_number(percent: str) -> None:
    message = error("/shift", f"{percent} production")
    assert "is not a whole percentage. Allowed steps for api/production: 10, 50, 100." in message
    assert SHIFT_USAGE in message


def test_shift_steps_are_per_environment() -> None:
    message = error("/shift", "50", WEB_CHANNEL)
    assert "50% is not an allowed step for web/production. Allowed steps: 25, 100." in message


def test_shift_accepts_a_percent_sign() -> None:
    assert parse("/shift", "50% production") == ShiftRequest(Target("api", "production"), 50)


def test_shift_without_percent_names_the_steps() -> None:
    message = error("/shift", "", WEB_CHANNEL)
    assert "needs a percentage. Allowed steps for web/production: 25, 100." in message


def test_shift_without_a_number_says_the_percentage_comes_first() -> None:
    message = error("/shift", "production")
    assert "`production` is not a whole percentage; the percentage comes first." in message
    assert SHIFT_USAGE in message


def test_shift_with_an_unknown_word_names_services_and_environments() -> None:
    message = error("/shift", "50 prod")
    assert "`prod` is neither a service (`api`, `web`) nor an environment of api" in message
    assert SHIFT_USAGE in message


# --- /rollback -------------------------------------------------------------------------


def test_rollback_alone_in_a_service_channel() -> None:
    assert parse("/rollback", "", WEB_CHANNEL) == RollbackRequest(Target("web", "production"))


def test_rollback_named_and_forced() -> None:
    assert parse("/rollback", "api staging --force", OTHER_CHANNEL) == RollbackRequest(
        Target("api", "staging"), force=True
    )


def test_rollback_unknown_service() -> None:
    message = error("/rollback", "billing production", OTHER_CHANNEL)
    assert "Unknown service `billing`" in message
    assert ROLLBACK_USAGE in message


def test_rollback_extra_words() -> None:
    message = error("/rollback", "api production now")
    assert "Unexpected extra argument(s): `now`." in message
    assert ROLLBACK_USAGE in message


def test_several_services_in_one_channel_must_be_named() -> None:
    web = CONFIG.services["web"].model_copy(update={"channel": API_CHANNEL})
    config = CONFIG.model_copy(update={"services": {**CONFIG.services, "web": web}})
    message = error("/rollback", "", API_CHANNEL, config=config)
    assert "Several services use this channel (`api`, `web`); name one." in message


def test_no_services_configured() -> None:
    message = error("/rollback", "", config=DeployConfig())
    assert "No services are configured under `deploy.services`" in message


# --- Canonical form --------------------------------------------------------------------


def test_command_line_spells_out_every_argument() -> None:
    assert command_line(ShiftRequest(Target("api", "production"), 50)) == (
        "/shift 50 api production"
    )
    assert command_line(DeployRequest(Target("api", "staging"), "v1.0.0", force=True)) == (
        "/deploy api v1.0.0 staging --force"
    )
    assert command_line(RollbackRequest(Target("web", "production"))) == (
        "/rollback web production"
    )
