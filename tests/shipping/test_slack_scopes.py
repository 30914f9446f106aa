"""The Slack app manifest asks for exactly the scopes the code needs, no more, no fewer.

The Web API methods are found in the code itself (every call of an `AsyncWebClient`
method, and `api_call("...")`), the events and slash commands in the bolt listeners; each
needs the scopes Slack documents for it. A scope missing from the manifest breaks a
feature in production only (recovery after a crash could not read history and a P0 stayed
unsent); a scope granted but unused is access nobody needs.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from tests.shipping.tools import ROOT

MANIFEST = ROOT / "examples" / "slack-app-manifest.yaml"
CODE = [ROOT / "bot", ROOT / "alerts", ROOT / "commands", ROOT / "actions", ROOT / "oncall"]
NOT_THE_BOT = ROOT / "bot" / "sandbox"  # the emulator plays Slack, it does not call it

# Bot-token scopes per method, from Slack's method reference ("Scopes: Bot token").
# Methods that read a conversation accept one scope per conversation type: the bot posts
# in public and private channels, never in direct messages.
METHOD_SCOPES: dict[str, set[str]] = {
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "usergroups.users.list": {"usergroups:read"},
    "usergroups.users.update": {"usergroups:write"},
    "reactions.add": {"reactions:write"},
    "users.info": {"users:read"},
    "users.lookupByEmail": {"users:read.email"},
    "conversations.info": {"channels:read", "groups:read"},
    # The app's own DM with a person, for answers no response_url or ephemeral can carry.
    "conversations.open": {"im:write"},
    "chat.getPermalink": set(),
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    "auth.test": set(),
    "conversations.create": {"channels:manage"},
    "conversations.invite": {"channels:manage"},
    "conversations.setTopic": {"channels:manage"},
    "conversations.setPurpose": {"channels:manage"},
    "conversations.archive": {"channels:manage"},
    "pins.add": {"pins:write"},
}
# Called with the app-level token (its own scope, connections:write), not the bot's.
APP_TOKEN_METHODS = {"apps.connections.open"}
EVENT_SCOPES: dict[str, set[str]] = {
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
}
CLIENT_METHODS = {
    name
    for name, value in AsyncWebClient.__dict__.items()
    if inspect.iscoroutinefunction(value) and not name.startswith("_")
}


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for folder in CODE:
        for path in sorted(folder.rglob("*.py")):
            if NOT_THE_BOT not in path.parents:
                yield path, ast.parse(path.read_text(), str(path))


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant):
        value = call.args[0].value
        return value if isinstance(value, str) else None
    return None


def called_methods() -> dict[str, str]:
    """Slack Web API method -> where the code calls it."""
    found: dict[str, str] = {}
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            attr = node.func.attr
            if attr in CLIENT_METHODS:
                method = attr.replace("_", ".")
            elif attr == "api_call" and _string_arg(node):
                method = str(_string_arg(node))
            else:
                continue
            found.setdefault(method, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def bolt_listeners(kind: str) -> set[str]:
    """Names given to `app.<kind>("...")` (events); for commands, any registration at all."""
    names = set()
    for _, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == kind
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
            ):
                names.add(_string_arg(node) or "<computed>")
    return names


def manifest() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load(MANIFEST.read_text()))


def test_the_code_calls_the_methods_this_test_knows() -> None:
    methods = called_methods()
    # The recovery lookups and the posts are what the outbox is made of.
    assert {"chat.postMessage", "conversations.history", "conversations.replies"} <= set(methods)
    unknown = {m: where for m, where in methods.items() if m not in METHOD_SCOPES}
    unknown = {m: w for m, w in unknown.items() if m not in APP_TOKEN_METHODS}
    assert unknown == {}, (
        "add the scopes Slack documents for these methods to METHOD_SCOPES (and the manifest)"
    )


def test_the_manifest_asks_for_exactly_the_scopes_of_the_called_methods_and_events() -> None:
    data = manifest()
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert events == bolt_listeners("event"), "the manifest subscribes to other events"
    needed: set[str] = set()
    for method in called_methods():
        needed |= METHOD_SCOPES.get(method, set())
    for event in events:
        needed |= EVENT_SCOPES[event]
    if bolt_listeners("command") and data["features"].get("slash_commands"):
        needed.add("commands")
    granted = set(data["oauth_config"]["scopes"]["bot"])
    assert granted - needed == set(), "scopes granted but used by nothing"
    assert needed - granted == set(), "scopes the code needs but the manifest lacks"


def test_every_slash_command_of_the_manifest_points_at_the_events_endpoint() -> None:
    data = manifest()
    urls = {c["url"] for c in data["features"]["slash_commands"]}
    assert urls == {data["settings"]["event_subscriptions"]["request_url"]}
