"""The emulator's people methods: `users.lookupByEmail` and `usergroups.users.update`.

As Slack documents them: `users.lookupByEmail` finds a member by address (case does not
matter) or answers `users_not_found`; `usergroups.users.update` replaces a user group's
members with `users` (a comma-separated list of user ids, or a JSON list), refusing an
unknown group (`no_such_subteam`), an empty list (`no_users_provided`) and ids that are
no member of the workspace (`invalid_users`).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.store import JSON, Store

Handler = Callable[[JSON], JSON]


def error(code: str) -> JSON:
    return {"ok": False, "error": code}


def people_methods(store: Store) -> dict[str, Handler]:
    def lookup_by_email(args: JSON) -> JSON:
        email = str(args.get("email") or "").strip().lower()
        if not email:
            return error("invalid_arguments")
        for user in store.users.values():
            if user.email.lower() == email and not user.deleted:
                return {"ok": True, "user": user.to_api()}
        return error("users_not_found")

    def usergroup_update(args: JSON) -> JSON:
        group = store.usergroups.get(str(args.get("usergroup")))
        if group is None:
            return error("no_such_subteam")
        raw = args.get("users")
        users = (
            [str(u) for u in raw]
            if isinstance(raw, list)
            else [u.strip() for u in str(raw or "").split(",") if u.strip()]
        )
        if not users:
            return error("no_users_provided")
        if any(u not in store.users for u in users):
            return error("invalid_users")
        group.users = list(dict.fromkeys(users))
        return {"ok": True, "usergroup": {"id": group.id, "users": list(group.users)}}

    return {"users.lookupByEmail": lookup_by_email, "usergroups.users.update": usergroup_update}
