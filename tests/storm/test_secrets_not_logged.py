"""Every secret, sent through every entry point of `chatops serve` (headers, query strings,
bodies; accepted and refused), never reaches its log output, even at DEBUG."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import quote

import aiohttp
from sqlalchemy.engine import make_url

from bot.config import BUNDLED_EXAMPLE
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_TOKEN
from tests.servers.pagerduty import PagerDutyServer
from tests.storm.conftest import StartReplicaWithEnv, group_notification, wait_until

ROUTING_KEY = "R0UT1NGKEYSECRET" * 2  # 32 characters, as PagerDuty's are
PD_API_TOKEN = "pd-api-token-SECRET-5150"
PD_WEBHOOK_SECRET = "pd-webhook-secret-SECRET-7373"
DB_PASSWORD = "db-password-SECRET-9090"


def pd_signature(body: bytes) -> str:
    return "v1=" + hmac.new(PD_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_no_secret_reaches_the_log_through_any_entry_point(
    pg_url: str,
    start_replica_with_env: StartReplicaWithEnv,
    storm_emulator: SlackEmulator,
    tmp_path: Path,
) -> None:
    config = tmp_path / "chatops.yaml"
    config.write_text(BUNDLED_EXAMPLE.read_text())
    # PostgreSQL here trusts local connections, so any password in the URL is accepted.
    database_url = make_url(pg_url).set(password=DB_PASSWORD).render_as_string(False)
    secrets = [
        BOT_TOKEN,
        SIGNING_SECRET,
        WEBHOOK_TOKEN,
        ROUTING_KEY,
        PD_API_TOKEN,
        PD_WEBHOOK_SECRET,
        DB_PASSWORD,
    ]
    async with PagerDutyServer(api_token=PD_API_TOKEN) as pagerduty:
        env = {
            "PAGERDUTY_EVENTS_URL": pagerduty.url,
            "PAGERDUTY_API_URL": pagerduty.url,
            "PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "PAGERDUTY_API_TOKEN": PD_API_TOKEN,
            "PAGERDUTY_WEBHOOK_SECRET": PD_WEBHOOK_SECRET,
            "CHATOPS_LOG_LEVEL": "DEBUG",
        }
        bot = await start_replica_with_env(database_url, config, "a", extra_env=env)
        query = "&".join(f"k{i}={quote(s)}" for i, s in enumerate(secrets))
        everything = " ".join(secrets)
        async with aiohttp.ClientSession() as http:

            async def send(path: str, body: bytes, headers: dict[str, str]) -> int:
                async with http.post(f"{bot.url}{path}?{query}", data=body, headers=headers) as r:
                    return r.status

            # Alertmanager: token in the query only, as a wrong basic-auth username, in a
            # body that is not JSON, and an accepted P0 (which pages with the routing key).
            json_type = {"Content-Type": "application/json"}
            am = "/webhooks/alertmanager"
            assert await send(am, b"{}", json_type) == 401
            wrong_user = base64.b64encode(f"{WEBHOOK_TOKEN}:{WEBHOOK_TOKEN}".encode()).decode()
            assert await send(am, b"{}", {**json_type, "Authorization": f"Basic {wrong_user}"})
            bearer = {**json_type, "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
            assert await send(am, f"not json {everything}".encode(), bearer) == 400
            bad_shape = {"version": "4", "alerts": everything}
            assert await send(am, json.dumps(bad_shape).encode(), bearer) == 400
            alert = group_notification(1, alerts=1, severity="critical")
            alert["secrets"] = everything  # an unknown key: stored, never logged
            assert await send(am, json.dumps(alert).encode(), bearer) == 200

            # PagerDuty: a wrong signature made of the secret, a signed body that is not
            # a webhook, and a signed one that is.
            pd = "/webhooks/pagerduty"
            forged = {**json_type, "X-PagerDuty-Signature": f"v1={PD_WEBHOOK_SECRET}"}
            assert await send(pd, everything.encode(), forged) == 401
            junk = json.dumps({"secrets": everything}).encode()
            assert await send(pd, junk, {**json_type, "X-PagerDuty-Signature": pd_signature(junk)})
            incident = pagerduty.open_incident("Database lag")
            status, _ = await pagerduty.send_webhook(
                f"{bot.url}{pd}?{query}",
                "incident.triggered",
                pagerduty.webhook_data(incident),
                PD_WEBHOOK_SECRET,
            )
            assert status == 200

            # Slack: the signing secret as the signature, and a signed command whose form
            # carries the bot token (as Slack's legacy verification token field would).
            # (Text a sender chose to show, like a command's or an incident's, is shown.)
            slack = "/slack/events"
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            assert await send(slack, b"token=x", {**form, "X-Slack-Signature": SIGNING_SECRET})
            command = (
                f"token={quote(BOT_TOKEN)}&command=/deploy&text=api+v1.4.0+production"
                "&user_id=U0000DEP01&channel_id=C0000DEPLY&team_id=T0000TEAM"
            ).encode()
            assert await send(slack, command, {**form, **storm_emulator.sign(command)}) == 200

            for path in ("/healthz", "/readyz", "/metrics", "/no-such-route"):
                async with http.get(f"{bot.url}{path}?{query}") as response:
                    assert response.status in (200, 404)

        await wait_until(lambda: bool(pagerduty.calls_to("/v2/enqueue")), 15, "the P0 page")
        bot.stop()
    logged = bot.log.read_text()
    leaked = [s for s in secrets if s in logged or quote(s) in logged]
    assert not leaked, f"found in the log: {leaked}"
    assert '"POST /webhooks/alertmanager" 401' in logged  # the access log is on
    assert "DEBUG" in logged
