"""Which image URLs the emulated Slack can download.

Slack fetches an image block's `image_url` while it posts the message and refuses the
whole message when it cannot (`invalid_blocks`, "downloading image failed"). The usual
cause is an internal Grafana rendering panels on a host only the cluster can reach. The
emulator fetches nothing, so it decides by the address: loopback, private and link-local
addresses, single-label names and the suffixes used for internal names cannot be reached
from Slack's servers; so can't any host a test names in `unfetchable_image_hosts`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

INTERNAL_SUFFIXES = (
    ".local",
    ".localhost",
    ".internal",
    ".svc",
    ".cluster.local",
    ".lan",
    ".home.arpa",
    ".corp",
    ".intranet",
)


def slack_can_fetch(url: str, unfetchable_hosts: Collection[str] = ()) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or host in unfetchable_hosts:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host and host != "localhost" and not host.endswith(INTERNAL_SUFFIXES)
    return address.is_global
