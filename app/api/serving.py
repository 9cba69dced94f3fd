"""gunicorn integration: the errors gunicorn answers by itself are JSON too.

gunicorn refuses some requests before the app sees them (a request line over 4094
bytes: 414; oversized headers: 431; a malformed request line: 400) and writes an
HTML page for them. The contract wants JSON everywhere, so its writer is swapped
for one that writes jobgate's error shape.
"""

from __future__ import annotations

import json
import socket


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error``."""
    from gunicorn.util import write_nonblock

    body = json.dumps({"error": f"{reason}: {mesg}" if mesg else reason, "code": status_int}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    write_nonblock(sock, head + body)


def install_json_errors() -> None:
    """Make gunicorn write its own error responses as JSON (call from the gunicorn config)."""
    import gunicorn.util

    gunicorn.util.write_error = write_json_error
