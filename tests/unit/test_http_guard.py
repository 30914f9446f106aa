"""Which addresses http.check refuses to connect to: everything that reaches the bot's own
host or network (loopback, link-local, private ranges, metadata services), also when an
IPv6 form carries such an IPv4 address; globally routable addresses pass."""

from __future__ import annotations

import pytest

from actions.http_guard import forbidden, literal_address_problem

REFUSED = [
    "127.0.0.1",
    "::1",
    "169.254.169.254",
    "fe80::1",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",
    "100.100.100.200",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "::",
    "224.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "64:ff9b::a00:1",
    "2002:c0a8:101::1",
    "not an address",
]
ALLOWED = ["8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_of_the_bots_own_host_and_network_are_refused(address: str) -> None:
    assert forbidden(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_globally_routable_addresses_pass(address: str) -> None:
    assert not forbidden(address)


def test_a_literal_private_address_is_refused_unless_listed() -> None:
    assert "private" in (literal_address_problem("10.1.2.3", []) or "")
    assert literal_address_problem("10.1.2.3", ["10.1.2.3"]) is None
    assert literal_address_problem("example.org", []) is None
