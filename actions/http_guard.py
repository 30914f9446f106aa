"""Keeping `http.check` off the bot's own host and the cloud metadata service.

A URL in a runbook may be filled from alert labels, and a name may resolve anywhere. So
the host is resolved first and every address it resolves to is checked before the bot
connects: loopback, link-local (169.254.169.254, the metadata service, is one), the
unspecified address, multicast and the other metadata addresses are refused unless the
host is listed in `runbooks.http_hosts`. The check sits in the connector's resolver, so
the connection uses exactly the addresses that were checked (a second lookup cannot
answer differently), and http.check follows no redirects.
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


def forbidden(address: str) -> bool:
    try:
        ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address at all: nothing to connect to
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip in METADATA
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
        return f"{host} is a loopback, link-local or metadata address"
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
                f"{host} resolves to {', '.join(refused)}: a loopback, link-local or "
                "metadata address (list the host in runbooks.http_hosts to allow it)"
            )
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(allowed_hosts: Collection[str], **options: Any) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allowed_hosts), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, **options)
