"""An HTTP session for webhooks that connects only where the destination rules allow.

urllib3 resolves the host at connect time, possibly to an address other than the one the
gateway checked at submission (a short-TTL DNS name can switch to 127.0.0.1 in between).
So the connection here resolves itself, refuses the host when any address is refused,
connects to a checked address and checks the peer it actually reached before a byte is
sent. Proxies from the environment are ignored (a proxy would make the connection for us),
redirects are never followed, and at most READ_CAP bytes of an answer are read.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from app.core.destinations import DestinationRefused, Destinations, address_of

# A receiver's answer matters only by its status; more than this of its body is never read.
READ_CAP = 64 * 1024


class _GuardedConnection:
    """Mixed into urllib3's connections: ``_new_conn`` connects only to permitted addresses."""

    destinations: Destinations
    host: str
    port: int
    timeout: Any
    socket_options: Any
    source_address: Any

    def _new_conn(self) -> socket.socket:
        infos = self.destinations.resolve(self.host.strip("[]").rstrip("."), self.port)
        last: OSError | None = None
        for family, socktype, proto, _, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(self.timeout, (int, float)):  # else urllib3's "no timeout given"
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
            except OSError as exc:
                sock.close()
                last = exc
                continue
            try:
                # The address reached, not the one meant: the last word before the request goes out.
                self.destinations.check_address(address_of(sock.getpeername()), self.host)
            except DestinationRefused:
                sock.close()
                raise
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


def _pools(destinations: Destinations) -> dict[str, type]:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), {"destinations": destinations})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), {"destinations": destinations})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to destinations the rules allow."""

    def __init__(self, destinations: Destinations, **kwargs: Any):
        self.destinations = destinations
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools(self.destinations)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise DestinationRefused("webhooks are not sent through a proxy")


def session(destinations: Destinations) -> requests.Session:
    """A session that sends only where ``destinations`` allow, ignoring proxy variables."""
    s = requests.Session()
    s.trust_env = False
    adapter = GuardedAdapter(destinations)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def post(s: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: Any) -> int:
    """POST once without following redirects; the answer's status (at most READ_CAP bytes read)."""
    response = s.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True)
    try:
        response.raw.read(READ_CAP, decode_content=False)
    finally:
        response.close()
    return response.status_code
