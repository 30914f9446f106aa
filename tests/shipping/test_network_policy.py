"""The shipped NetworkPolicy lets the bot reach only what it talks to: DNS, the database,
Alertmanager, Prometheus, the API server, and HTTPS to public addresses (Slack,
PagerDuty); never the metadata service, loopback or other private addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml

from tests.shipping import k8s_schema
from tests.shipping.tools import ROOT

DEPLOY = ROOT / "deploy"
POLICY: dict[str, Any] = yaml.safe_load((DEPLOY / "networkpolicy.yaml").read_text())
FORBIDDEN = ["169.254.169.254", "127.0.0.1", "10.1.2.3", "172.17.0.1", "192.168.1.1", "100.100.1.1"]


def pod_labels(file: str) -> dict[str, str]:
    doc = yaml.safe_load((DEPLOY / file).read_text())
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def destinations() -> dict[tuple[str, ...], set[tuple[str, int]]]:
    """Each egress rule's peers (as a readable key) and its ports."""
    found: dict[tuple[str, ...], set[tuple[str, int]]] = {}
    for rule in POLICY["spec"]["egress"]:
        assert rule.get("ports"), "an egress rule without ports opens every port"
        peers = []
        for peer in rule["to"]:
            if "ipBlock" in peer:
                peers.append(peer["ipBlock"]["cidr"])
            else:
                ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                pod = next(iter(peer["podSelector"]["matchLabels"].values()))
                peers.append(f"{ns}/{pod}")
        found[tuple(peers)] = {(p["protocol"], p["port"]) for p in rule["ports"]}
    return found


def test_the_policy_is_a_valid_egress_policy_for_the_bot_and_its_migrations() -> None:
    assert k8s_schema.check(POLICY) == []
    assert "networkpolicy.yaml" in (DEPLOY / "kustomization.yaml").read_text()
    assert POLICY["spec"]["policyTypes"] == ["Egress"]
    selector = POLICY["spec"]["podSelector"]["matchLabels"].items()
    assert selector <= pod_labels("deployment.yaml").items()
    assert selector <= pod_labels("migrate-job.yaml").items()


def test_egress_goes_only_to_what_the_bot_talks_to() -> None:
    assert destinations() == {
        ("kube-system/kube-dns",): {("UDP", 53), ("TCP", 53)},
        ("database/postgresql",): {("TCP", 5432)},
        ("monitoring/alertmanager",): {("TCP", 9093)},
        ("monitoring/prometheus",): {("TCP", 9090)},
        ("10.0.0.0/28",): {("TCP", 443), ("TCP", 6443)},  # the API server's endpoints
        ("0.0.0.0/0",): {("TCP", 443)},  # Slack and PagerDuty
    }


def test_the_public_https_rule_never_reaches_metadata_loopback_or_private_addresses() -> None:
    [public] = [
        r
        for r in POLICY["spec"]["egress"]
        if r["to"][0].get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
    ]
    excepted = [ipaddress.ip_network(c) for c in public["to"][0]["ipBlock"]["except"]]
    for address in FORBIDDEN:
        assert any(ipaddress.ip_address(address) in net for net in excepted), address
    assert not any(ipaddress.ip_address("3.5.140.2") in net for net in excepted)
