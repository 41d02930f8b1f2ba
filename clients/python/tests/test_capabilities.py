"""A context reports what backs the server's sessions (``Ping``): the in-memory store, or Redis
shared by several servers and kept across their restarts."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from statebridge import AsyncSessionContext, Capabilities, SessionContext
from support import BridgeServer, unique_session

REDIS_SERVER = shutil.which("redis-server") or next(
    (path for path in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(path)), None
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """Debian's redis-server on a free loopback port, with its append-only file on or off."""

    def __init__(self, appendonly: bool) -> None:
        self.directory = tempfile.mkdtemp(prefix="statebridge-redis-")
        self.port = _free_port()
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory,
             "--save", "", "--appendonly", "yes" if appendonly else "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


class CapabilitiesTest(unittest.TestCase):
    def test_a_server_on_the_in_memory_store_reports_neither_persistence_nor_distribution(self) -> None:
        with BridgeServer() as server, SessionContext(server.target, unique_session()) as ctx:
            self.assertEqual(ctx.capabilities(), Capabilities(store_kind="memory", persistence=False, distribution=False))

            async def ask() -> Capabilities:
                async with AsyncSessionContext(server.target, unique_session()) as actx:
                    return await actx.capabilities()

            self.assertEqual(asyncio.run(ask()), Capabilities("memory", False, False))

    @unittest.skipIf(REDIS_SERVER is None, "needs redis-server (Debian's redis-server 7; run scripts/redis-setup.sh)")
    def test_a_server_on_redis_reports_distribution_and_persistence_as_redis_is_configured(self) -> None:
        for appendonly in (True, False):
            redis = RedisServer(appendonly)
            try:
                with BridgeServer(["--store", redis.url]) as server, SessionContext(server.target, unique_session()) as ctx:
                    self.assertEqual(ctx.capabilities(), Capabilities("redis", appendonly, True))
            finally:
                redis.stop()


if __name__ == "__main__":
    unittest.main()
