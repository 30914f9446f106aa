"""PagerDuty's on-call side for the local stand-ins: users, schedules, escalation
policies, services and `GET /oncalls`, in the REST API v2's documented shapes.

Used by the sandbox's PagerDuty (under `/pagerduty/api`) and by the tests' PagerDuty
server (tests/servers/pagerduty.py), so the bot's client meets one account's worth of
data either way. What it keeps to:

- lists are classic-paginated: `offset` and `limit` (at most 100, default 25) in, and
  `{"<plural>": [...], "offset", "limit", "more", "total": null}` out;
- `GET /oncalls` takes `since`/`until` (default: now), `schedule_ids[]`,
  `escalation_policy_ids[]`, `user_ids[]` and `include[]=users` (each `user` is then the
  full user with `email` and `time_zone`, otherwise a `user_reference`); each entry is
  one contiguous block of one user at one level of one policy through one schedule
  (`schedule` null and `start`/`end` null for a user the policy names directly);
- a schedule's blocks are its final layer: an override replaces the part it covers;
- an unknown id is 404 "Not Found" (2100), a bad token 401 (2006).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

ACCOUNT_URL = "https://acme.pagerduty.com"
API_URL = "https://api.pagerduty.com"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
HANDOFF_MINUTES = 3  # the sandbox's first handoff, after start: soon enough to watch


@dataclass
class Block:
    user: str
    start: datetime
    end: datetime


@dataclass
class StandInSchedule:
    id: str
    name: str
    time_zone: str = "UTC"
    blocks: list[Block] = field(default_factory=list)


@dataclass
class StandInUser:
    id: str
    name: str
    email: str
    time_zone: str = "UTC"


@dataclass
class StandInPolicy:
    id: str
    name: str
    levels: list[list[str]] = field(default_factory=list)  # per level: schedule or user ids


class OnCallData:
    """One PagerDuty account's people and rotations; tests and the sandbox fill it."""

    def __init__(self) -> None:
        self.users: dict[str, StandInUser] = {}
        self.schedules: dict[str, StandInSchedule] = {}
        self.policies: dict[str, StandInPolicy] = {}
        self.services: dict[str, tuple[str, str]] = {}  # id -> (name, policy id)
        # PagerDuty's largest page; a test lowers it to see a client follow `more`.
        self.max_limit = MAX_LIMIT

    def add_user(self, user_id: str, name: str, email: str, time_zone: str = "UTC") -> None:
        self.users[user_id] = StandInUser(user_id, name, email, time_zone)

    def add_schedule(self, schedule_id: str, name: str, blocks: Sequence[Block] = ()) -> None:
        self.schedules[schedule_id] = StandInSchedule(schedule_id, name, blocks=list(blocks))

    def add_policy(self, policy_id: str, name: str, levels: Sequence[Sequence[str]]) -> None:
        self.policies[policy_id] = StandInPolicy(policy_id, name, [list(lv) for lv in levels])

    def add_service(self, service_id: str, name: str, policy_id: str) -> None:
        self.services[service_id] = (name, policy_id)

    def override(self, schedule_id: str, user: str, start: datetime, end: datetime) -> None:
        """Put `user` on call from `start` to `end`, cutting the blocks it covers."""
        schedule = self.schedules[schedule_id]
        kept: list[Block] = []
        for block in schedule.blocks:
            if block.end <= start or block.start >= end:
                kept.append(block)
                continue
            if block.start < start:
                kept.append(Block(block.user, block.start, start))
            if block.end > end:
                kept.append(Block(block.user, end, block.end))
        kept.append(Block(user, start, end))
        schedule.blocks = sorted(kept, key=lambda b: b.start)

    def now_view(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Who holds each schedule now and until when, for the sandbox page."""
        moment = now or datetime.now(UTC)
        view = []
        for schedule in self.schedules.values():
            for block in schedule.blocks:
                if block.start <= moment < block.end:
                    user = self.users.get(block.user)
                    view.append(
                        {
                            "schedule": schedule.name,
                            "user": user.name if user else block.user,
                            "until": _iso(block.end),
                        }
                    )
        return view

    # -- representations ---------------------------------------------------------------

    def user_reference(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        return _reference("user", user_id, user.name if user else user_id)

    def user(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return {
            **_reference("user", user_id, user.name),
            "type": "user",
            "name": user.name,
            "email": user.email,
            "time_zone": user.time_zone,
            "role": "user",
        }

    def schedule(self, schedule_id: str) -> dict[str, Any]:
        schedule = self.schedules[schedule_id]
        policies = [
            _reference("escalation_policy", p.id, p.name)
            for p in self.policies.values()
            if any(schedule_id in level for level in p.levels)
        ]
        users = sorted({b.user for b in schedule.blocks})
        return {
            **_reference("schedule", schedule_id, schedule.name),
            "type": "schedule",
            "name": schedule.name,
            "time_zone": schedule.time_zone,
            "description": "",
            "escalation_policies": policies,
            "users": [self.user_reference(u) for u in users],
        }

    def policy(self, policy_id: str) -> dict[str, Any]:
        policy = self.policies[policy_id]
        rules = []
        for index, level in enumerate(policy.levels):
            targets = [
                _reference("schedule", t, self.schedules[t].name)
                if t in self.schedules
                else self.user_reference(t)
                for t in level
            ]
            rules.append(
                {
                    "id": f"R{index}{policy_id}",
                    "escalation_delay_in_minutes": 30,
                    "targets": targets,
                }
            )
        services = [
            _reference("service", s, n) for s, (n, p) in self.services.items() if p == policy_id
        ]
        return {
            **_reference("escalation_policy", policy_id, policy.name),
            "type": "escalation_policy",
            "name": policy.name,
            "escalation_rules": rules,
            "services": services,
            "num_loops": 0,
        }

    def service(self, service_id: str) -> dict[str, Any]:
        name, policy_id = self.services[service_id]
        policy = self.policies.get(policy_id)
        return {
            **_reference("service", service_id, name),
            "type": "service",
            "name": name,
            "status": "active",
            "escalation_policy": _reference(
                "escalation_policy", policy_id, policy.name if policy else policy_id
            ),
        }

    def oncalls(
        self,
        since: datetime,
        until: datetime,
        *,
        schedule_ids: Sequence[str],
        policy_ids: Sequence[str],
        user_ids: Sequence[str],
        with_users: bool,
    ) -> list[dict[str, Any]]:
        entries: list[tuple[Any, ...]] = []
        for policy in self.policies.values():
            if policy_ids and policy.id not in policy_ids:
                continue
            for level, targets in enumerate(policy.levels, start=1):
                for target in targets:
                    schedule = self.schedules.get(target)
                    if schedule is None:
                        if not schedule_ids and target in self.users:
                            entries.append((policy, level, None, target, None, None))
                        continue
                    if schedule_ids and schedule.id not in schedule_ids:
                        continue
                    for block in schedule.blocks:
                        if block.start < until and block.end > since:
                            entries.append(
                                (policy, level, schedule, block.user, block.start, block.end)
                            )
        found = []
        for policy, level, schedule, user, start, end in entries:
            if user_ids and user not in user_ids:
                continue
            found.append(
                {
                    "escalation_policy": _reference("escalation_policy", policy.id, policy.name),
                    "escalation_level": level,
                    "schedule": _reference("schedule", schedule.id, schedule.name)
                    if schedule
                    else None,
                    "user": self.user(user)
                    if with_users and user in self.users
                    else self.user_reference(user),
                    "start": _iso(start) if start else None,
                    "end": _iso(end) if end else None,
                }
            )
        return found


def _reference(kind: str, item_id: str, name: str) -> dict[str, Any]:
    plural = {"escalation_policy": "escalation_policies"}.get(kind, kind + "s")
    return {
        "id": item_id,
        "type": f"{kind}_reference",
        "summary": name,
        "self": f"{API_URL}/{plural}/{item_id}",
        "html_url": f"{ACCOUNT_URL}/{plural}/{item_id}",
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(status: int, message: str, code: int) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "code": code, "errors": []}}, status=status
    )


def _moment(text: str | None, default: datetime) -> datetime | None:
    if not text:
        return default
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _paged(
    request: web.Request, plural: str, items: list[dict[str, Any]], most: int = MAX_LIMIT
) -> web.Response:
    try:
        offset = max(int(request.query.get("offset", "0")), 0)
        limit = min(max(int(request.query.get("limit", str(DEFAULT_LIMIT))), 1), most)
    except ValueError:
        return _error(400, "Invalid Input Provided", 2001)
    page = items[offset : offset + limit]
    body = {plural: page, "offset": offset, "limit": limit, "more": offset + limit < len(items)}
    return web.json_response({**body, "total": None})


def _oncalls_handler(
    data: OnCallData,
    authorised: Callable[[web.Request], bool],
    now: Callable[[], datetime],
) -> Callable[[web.Request], Any]:
    async def oncalls(request: web.Request) -> web.Response:
        if not authorised(request):
            return _error(401, "Authentication failed", 2006)
        query = request.query
        current = now()
        since = _moment(query.get("since"), current)
        until = _moment(query.get("until"), current)
        if since is None or until is None or until < since:
            return _error(400, "Invalid Input Provided", 2001)
        found = data.oncalls(
            since,
            until,
            schedule_ids=query.getall("schedule_ids[]", []),
            policy_ids=query.getall("escalation_policy_ids[]", []),
            user_ids=query.getall("user_ids[]", []),
            with_users="users" in query.getall("include[]", []),
        )
        return _paged(request, "oncalls", found, data.max_limit)

    return oncalls


def add_oncall_routes(
    app: web.Application,
    data: OnCallData,
    *,
    token: Callable[[], str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    prefix: str = "",
) -> None:
    """Serve `data` under `prefix`, for requests carrying `Token token=<token()>`."""

    def authorised(request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode()
        return bool(token()) and hmac.compare_digest(given, f"Token token={token()}".encode())

    def one(kind: str, table: dict[str, Any], render: Callable[[str], dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            if not authorised(request):
                return _error(401, "Authentication failed", 2006)
            item_id = request.match_info["id"]
            if item_id not in table:
                return _error(404, "Not Found", 2100)
            return web.json_response({kind: render(item_id)})

        return handle

    def listing(plural: str, table: dict[str, Any], render: Callable[[str], dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            if not authorised(request):
                return _error(401, "Authentication failed", 2006)
            return _paged(request, plural, [render(i) for i in sorted(table)], data.max_limit)

        return handle

    oncalls = _oncalls_handler(data, authorised, now)

    router = app.router
    router.add_get(prefix + "/oncalls", oncalls)
    router.add_get(prefix + "/users", listing("users", data.users, data.user))
    router.add_get(prefix + "/users/{id}", one("user", data.users, data.user))
    router.add_get(prefix + "/schedules", listing("schedules", data.schedules, data.schedule))
    router.add_get(prefix + "/schedules/{id}", one("schedule", data.schedules, data.schedule))
    router.add_get(
        prefix + "/escalation_policies",
        listing("escalation_policies", data.policies, data.policy),
    )
    router.add_get(
        prefix + "/escalation_policies/{id}", one("escalation_policy", data.policies, data.policy)
    )
    router.add_get(prefix + "/services/{id}", one("service", data.services, data.service))


def seed_sandbox(data: OnCallData, people: Sequence[tuple[str, str, str]], now: datetime) -> None:
    """The sandbox account's rota, from the workspace's people (Slack id, name, email):
    Olu holds "API primary" until a few minutes after start, then Ari, so a newcomer sees
    a handoff; Bo is "API secondary". The escalation policy "On-call" (PESCAL1) notifies
    them in that order for the service "Sandbox" (PSERVC1)."""
    for slack_id, name, email in people:
        data.add_user("P" + slack_id[1:], name, email)
    handoff = now.replace(second=0, microsecond=0) + timedelta(minutes=HANDOFF_MINUTES)
    day, week = timedelta(days=1), timedelta(days=7)
    data.add_schedule(
        "PSCHED1",
        "API primary",
        [
            Block("P0000ONC01", now - day, handoff),
            Block("P0000APR01", handoff, handoff + week),
            Block("P0000ONC01", handoff + week, handoff + 2 * week),
        ],
    )
    data.add_schedule("PSCHED2", "API secondary", [Block("P0000APR02", now - day, now + 2 * week)])
    data.add_policy("PESCAL1", "On-call", [["PSCHED1"], ["PSCHED2"]])
    data.add_service("PSERVC1", "Sandbox", "PESCAL1")
