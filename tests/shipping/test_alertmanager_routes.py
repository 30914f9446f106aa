"""The shipped Alertmanager config sends the bot's own alerts straight to PagerDuty.

A broken bot cannot report itself, so every rule of monitoring/prometheus-rules.yml must
reach PagerDuty without the bot's webhook; the Watchdog (the bot's heartbeat) and every
other alert must reach the bot. Proved with Debian's `amtool config routes test`.
"""

from __future__ import annotations

import subprocess

import yaml

from tests.shipping.tools import ROOT, required_tool

CONFIG = ROOT / "examples" / "alertmanager.yml"
RULES = ROOT / "monitoring" / "prometheus-rules.yml"
AMTOOL_HOW = "install it with `apt-get install -y prometheus-alertmanager` (it ships amtool)"


def receivers_for(labels: dict[str, str]) -> str:
    amtool = required_tool("amtool", AMTOOL_HOW)
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}",
         *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_amtool_accepts_the_config() -> None:
    amtool = required_tool("amtool", AMTOOL_HOW)
    result = subprocess.run(
        [amtool, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_the_bot_itself_goes_to_pagerduty_and_not_to_the_bot() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    [direct] = [r for r in config["receivers"] if r["name"] == "chatops-pagerduty"]
    assert direct.get("pagerduty_configs") and not direct.get("webhook_configs")
    rules = [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]
    names = {rule["alert"] for rule in rules}
    assert {"ChatOpsDown", "ChatOpsOutboxBacklog", "ChatOpsEscalationLag"} <= names
    for rule in rules:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        assert receivers_for(labels) == "chatops-pagerduty", rule["alert"]


def test_the_watchdog_and_the_services_alerts_go_to_the_bot() -> None:
    assert receivers_for({"alertname": "Watchdog", "severity": "none"}) == "chatops"
    assert receivers_for({"alertname": "ApiDown", "service": "api", "severity": "critical"}) == (
        "chatops"
    )
