"""Where a webhook may be sent: http(s) to public addresses, plus the ranges an operator opens.

A job submitter names the webhook URL and a worker POSTs to it, so without a rule any key
holder could make the workers call the inside network (a cloud's metadata service at
169.254.169.254, an admin port on 10.x). The host is resolved and refused when any of its
addresses is loopback, private, link-local, multicast, unspecified or otherwise not
globally routable, unless JOBGATE_WEBHOOK_ALLOW_NETS lists a range that holds it.
The gateway checks at submission; the worker's transport checks again the address it
connects to, so a name that resolves elsewhere by then does not get through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .settings import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> addrinfo tuples, as socket.getaddrinfo answers.
Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]
SCHEMES = {"http": 80, "https": 443}


class DestinationRefused(ValueError):
    """A webhook URL the rules refuse; the message says why, for the submitter."""


def parse_allow_nets(text: str, setting: str = "JOBGATE_WEBHOOK_ALLOW_NETS") -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, ::1/128"`` -> networks; a bad entry is a ConfigError naming the setting."""
    nets: list[IPNetwork] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ConfigError(f"{setting}: {part!r} is not a network in CIDR notation ({exc})") from None
    return tuple(nets)


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is no public destination (``"loopback"``, ``"private"``...); None if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
    ):
        if flag:
            return kind
    if not address.is_global:
        return "non-public"  # shared (100.64/10), documentation, benchmarking, reserved ranges
    return None


def _default_resolver(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True)
class Destinations:
    """The webhook destination rules: public addresses, and ``allowed`` ranges besides."""

    allowed: tuple[IPNetwork, ...] = ()
    resolver: Resolver = _default_resolver

    @classmethod
    def from_setting(cls, text: str) -> Destinations:
        return cls(parse_allow_nets(text))

    def check_address(self, address: IPAddress, host: str = "") -> None:
        """DestinationRefused unless ``address`` is public or in an allowed range."""
        why = refusal(address)
        if why is None or self._allows(address):
            return
        name = f"{host} resolves to {address}" if host and host != str(address) else f"{address}"
        article = "an" if why[0] in "aeiou" else "a"
        raise DestinationRefused(
            f"{name}, {article} {why} address; webhooks go to public addresses "
            "(JOBGATE_WEBHOOK_ALLOW_NETS opens chosen ranges)"
        )

    def _allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.allowed if net.version == address.version)

    def split(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of an http(s) URL, or DestinationRefused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise DestinationRefused(f"not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise DestinationRefused(f"the scheme must be http or https, not {scheme or 'none'!r}")
        if not parts.hostname:
            raise DestinationRefused("the URL has no host")
        return scheme, parts.hostname, port or SCHEMES[scheme]

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """The host's addrinfo entries, each one checked; DestinationRefused if any is refused."""
        try:
            infos = list(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise DestinationRefused(f"the host {host} does not resolve ({exc})") from None
        if not infos:
            raise DestinationRefused(f"the host {host} does not resolve")
        for info in infos:
            self.check_address(address_of(info[4]), host)
        return infos

    def check_url(self, url: str) -> None:
        """DestinationRefused unless a webhook may go to ``url`` now (resolving its host)."""
        _, host, port = self.split(url)
        self.resolve(host, port)


def address_of(sockaddr: object) -> IPAddress:
    """The IP address of a socket address (IPv6 zone ids kept, so fe80::1%eth0 stays link-local)."""
    host = sockaddr[0] if isinstance(sockaddr, tuple) else sockaddr
    return ipaddress.ip_address(str(host))
