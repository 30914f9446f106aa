"""Keeping `http.check` off the bot's own host and the cloud metadata service.

A URL in a runbook may be filled from alert labels, and a name may resolve anywhere. So
the host is resolved first and every address it resolves to is checked before the bot
connects: loopback, link-local (169.254.169.254, the metadata service, is one), private
ranges (10/8, 172.16/12, 192.168/16, fc00::/7: the cluster's own services), every
other address that is not globally routable, multicast and the other metadata addresses
are refused unless the host is listed in `runbooks.http_hosts`. The check sits in the
connector's resolver, so the connection uses exactly the addresses that were checked (a
second lookup cannot answer differently), and http.check follows no redirects.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

# Metadata services that are not link-local: AWS over IPv6, Alibaba Cloud.
METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(aiohttp.ClientConnectionError):
    """The host is, or resolves to, an address http.check must not reach."""


NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED = "a loopback, link-local, private or metadata address"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # IPv6 forms that carry an IPv4 address the packet ends up at.
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden(address: str) -> bool:
    """Whether http.check must not connect to `address` (unless its host is allowed).

    Anything not globally routable is refused, not only the named ranges: the shared
    address space (100.64/10) and the other special-purpose blocks reach the bot's own
    network just as well."""
    try:
        ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address at all: nothing to connect to
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and forbidden(str(embedded)):
            return True
        if embedded is not None and ip.ipv4_mapped is not None:
            ip = embedded
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip in METADATA
    )


def is_allowed_host(host: str, allowed: Collection[str]) -> bool:
    return host.lower().rstrip(".") in {h.lower().rstrip(".") for h in allowed}


def literal_address_problem(host: str, allowed: Collection[str]) -> str | None:
    """For a host that is an IP literal (aiohttp does not resolve those): why not, or None."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if forbidden(host.strip("[]")) and not is_allowed_host(host, allowed):
        return f"{host} is {REFUSED}"
    return None


class GuardedResolver(AbstractResolver):
    def __init__(self, allowed_hosts: Collection[str]) -> None:
        self._allowed = tuple(allowed_hosts)
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if is_allowed_host(host, self._allowed):
            return results
        refused = sorted({str(r["host"]) for r in results if forbidden(str(r["host"]))})
        if refused:
            raise ForbiddenAddress(
                f"{host} resolves to {', '.join(refused)}: {REFUSED} (list the host in "
                "runbooks.http_hosts to allow it)"
            )
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(allowed_hosts: Collection[str], **options: Any) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allowed_hosts), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, **options)
