"""What each sandbox user may do, read from the config, for the user switcher and
`chatops sandbox users`: a newcomer needs to know who can deploy, approve or acknowledge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.config import Config


def _members(principals: Iterable[str], groups: Mapping[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for principal in principals:
        out.update(groups.get(principal, [principal]))
    return out


def sandbox_roles(
    config: Config, users: Iterable[str], groups: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """User id -> roles: deployer, approver, on-call; "outsider" when none applies."""
    oncall: list[str] = [p.mention for p in config.alerts.escalation.values() if p.mention]
    oncall += config.runbooks.oncall or []
    oncall += config.alerts.responders or []
    by_role = {
        "deployer": _members(config.deploy.deployers, groups),
        "approver": _members(config.deploy.approvers, groups),
        "on-call": _members(oncall, groups),
    }
    return {
        user: [role for role, members in by_role.items() if user in members] or ["outsider"]
        for user in users
    }
