"""REDIS_URL: a plain Redis URL, or a Sentinel-managed master (``redis+sentinel://``).

The Sentinel form is the one the ``limits`` library reads, with an optional database:
``redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[/<db>]``. It is
translated here for redis-py's ``Sentinel`` and for kombu's ``sentinel://`` URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """A master found through Sentinel: its sentinels, its name, the database, the password."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None

    def kombu_url(self) -> str:
        """kombu's form: one ``sentinel://`` URL per sentinel, joined by ``;``."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return ";".join(f"sentinel://{auth}{_host(h)}:{p}/{self.db}" for h, p in self.sentinels)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_sentinel(url: str) -> bool:
    """Whether ``url`` names a Sentinel-managed master."""
    return url.startswith(SENTINEL_SCHEME + "://")


class RedisUrlError(ValueError):
    """REDIS_URL cannot be read; the message names the variable and the expected form."""


def _bad(url: str, why: str) -> RedisUrlError:
    return RedisUrlError(
        f"REDIS_URL={url!r} is not a Sentinel URL: {why}; expected "
        f"redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[/<db>]"
    )


def parse_sentinel(url: str) -> SentinelTarget:
    """The parts of a ``redis+sentinel://`` URL; RedisUrlError naming REDIS_URL when malformed."""
    if not is_sentinel(url):
        raise _bad(url, f"the scheme must be {SENTINEL_SCHEME}")
    rest = url[len(SENTINEL_SCHEME) + 3 :]
    netloc, sep, path = rest.partition("/")
    if "?" in path or "#" in path:
        raise _bad(url, "no query or fragment is read")
    password = None
    if "@" in netloc:
        auth, _, netloc = netloc.rpartition("@")
        user, colon, secret = auth.partition(":")
        if not colon or user:
            raise _bad(url, "only a password may precede '@' (':password@')")
        password = unquote(secret) or None
    sentinels = []
    for part in netloc.split(","):
        host, port = _host_port(url, part.strip())
        sentinels.append((host, port))
    names = path.split("/") if sep else []
    if not names or not names[0]:
        raise _bad(url, "the master name is missing")
    if len(names) > 2 or (len(names) == 2 and not names[1].isdigit()):
        raise _bad(url, "after the master name only a database number may follow")
    return SentinelTarget(tuple(sentinels), unquote(names[0]), int(names[1]) if len(names) == 2 else 0, password)


def _host_port(url: str, part: str) -> tuple[str, int]:
    if not part:
        raise _bad(url, "a sentinel address is empty")
    if part.startswith("["):
        host, _, tail = part[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise _bad(url, f"bad address {part!r}")
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise _bad(url, f"bad address {part!r}")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad(url, f"bad port in {part!r}")
    return host, int(port_text)
