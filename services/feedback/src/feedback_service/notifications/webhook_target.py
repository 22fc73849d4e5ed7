"""Where a webhook may be sent: https to a public address. Checked when the webhook is registered and
again at every delivery, against the address actually connected to: the host name is resolved once per
delivery, every address it resolves to must be public, and the POST goes to that address with the host
name in the Host header and TLS SNI (so the certificate is still checked against the name). A DNS answer
that changes after the check (rebinding) cannot redirect the connection to an internal host.

`allow_internal` (WEBHOOK_ALLOW_INTERNAL_HOSTS, local and test only) also lets http and loopback or
private addresses through: the tests' receiver listens on http://127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from compressor_kit.refusals import Refusal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges `ipaddress` does not flag (on every Python this runs on) but that are not the public internet.
NOT_PUBLIC = [
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
    )
]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: the checked address, and the name the receiver is known by."""

    url: str
    """The webhook URL with its host replaced by `address`."""
    host: str
    """Host header value (name and, when not the default, port)."""
    server_name: str
    """The name for TLS SNI and the certificate check."""
    address: str


def redacted(url: str) -> str:
    """scheme://host only: a webhook's path or query may carry the receiver's secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://[{host}]" if ":" in host else f"{parts.scheme}://{host}"


def address_problem(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused (None: a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    for problem, applies in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if applies:
            return f"a {problem} address"
    if any(address in network for network in NOT_PUBLIC) or not address.is_global:
        return "not a public address"
    return None


def checked_url(url: str, *, allow_internal: bool) -> SplitResult:
    """The URL's parts if its form is acceptable: https (http only when internal hosts are allowed),
    a host, no user name or password in it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as error:
        raise Refusal.invalid(f"not a valid URL: {error}", field="url") from error
    schemes = ("https", "http") if allow_internal else ("https",)
    if parts.scheme not in schemes:
        raise Refusal.invalid("a webhook URL must start with https://", field="url")
    if not parts.hostname:
        raise Refusal.invalid("a webhook URL names a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise Refusal.invalid(
            "a webhook URL carries no user name or password (the signature authenticates us)", field="url"
        )
    if any(character.isspace() for character in url):
        raise Refusal.invalid("a webhook URL has no spaces", field="url")
    return parts


async def resolve(url: str, *, allow_internal: bool) -> Target:
    """Resolve the webhook's host now and check every address it has; the one to connect to."""
    parts = checked_url(url, allow_internal=allow_internal)
    name = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refusal.invalid(f"{name} does not resolve ({error})", field="url") from error
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found))
    if not addresses:
        raise Refusal.invalid(f"{name} does not resolve", field="url")
    if not allow_internal:
        # Every address, not only the first: a receiver with one public and one internal address could
        # otherwise be reached at the internal one by a client preferring it.
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise Refusal.invalid(f"{name} resolves to {address}, {problem}", field="url")
    # IPv4 first: a host with both may have no IPv6 route from here (one address only, none to fall back to).
    address = next((a for a in addresses if a.version == 4), addresses[0])
    literal = f"[{address}]" if address.version == 6 else str(address)
    named = f"[{name}]" if ":" in name else name
    return Target(
        url=parts._replace(netloc=f"{literal}:{parts.port}" if parts.port else literal).geturl(),
        host=f"{named}:{parts.port}" if parts.port else named,
        server_name=name,
        address=str(address),
    )
