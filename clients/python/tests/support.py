"""What the integration tests share: a real bridge-server in a child process, a TCP proxy
that can cut every connection, and unique session ids."""

from __future__ import annotations

import collections
import os
import pathlib
import re
import queue
import signal
import socket
import subprocess
import threading
import time
import uuid
from typing import Optional, Sequence

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
# STATEBRIDGE_SERVER_CLI runs the tests against another build of the server.
CLI = pathlib.Path(os.environ.get("STATEBRIDGE_SERVER_CLI") or REPOSITORY / "apps" / "bridge-server" / "dist" / "cli.js")
_ADDRESS = re.compile(r"listening on (http://[^\s]+)")


def unique_session(prefix: str = "py") -> str:
    """A session id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class BridgeServer:
    """``node apps/bridge-server/dist/cli.js`` in a child process, on a port of its choosing
    unless one is given. ``target`` is the address it printed."""

    def __init__(self, arguments: Sequence[str] = (), port: int = 0, environment: Optional[dict] = None) -> None:
        if not CLI.exists():
            raise RuntimeError(f"{CLI} is missing: build the server first (pnpm turbo run build --filter=@statebridge/bridge-server...)")
        self.arguments = list(arguments)
        self.environment = environment
        # The server reads STATEBRIDGE_* variables (token, port…): only the test's own count.
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("STATEBRIDGE_")}
        self.process = subprocess.Popen(
            ["node", str(CLI), "--port", str(port), "--log-level", "warn", *self.arguments],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**inherited, **(environment or {})},
            text=True,
        )
        self._lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout, self._lines), daemon=True).start()
        self.errors: "collections.deque[str]" = collections.deque(maxlen=50)
        threading.Thread(target=self._read, args=(self.process.stderr, self.errors), daemon=True).start()
        self.url = self._read_address()
        self.target = self.url[len("http://") :].rstrip("/")
        self.port = int(self.target.rsplit(":", 1)[1])

    @staticmethod
    def _read(stream, lines) -> None:
        # Reads to the end, so that a full pipe never blocks the server's logger.
        for line in stream:
            if isinstance(lines, queue.Queue):
                lines.put(line)
            else:
                lines.append(line)
        if isinstance(lines, queue.Queue):
            lines.put("")

    def _read_address(self) -> str:
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line == "":
                break
            seen.append(line)
            match = _ADDRESS.search(line)
            if match:
                return match.group(1)
        self.kill()
        raise RuntimeError(
            f"the bridge-server did not print its address; stdout: {''.join(seen)!r}; stderr: {''.join(self.errors)!r}"
        )

    def restart(self) -> "BridgeServer":
        """Kills this server and starts a new one, with nothing in it, on the same port."""
        self.kill()
        for _ in range(50):
            try:
                return BridgeServer(self.arguments, self.port, self.environment)
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError(f"could not restart the bridge-server on port {self.port}")

    def kill(self) -> None:
        """Stops the server at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass

    def stop(self) -> None:
        """Stops the server gracefully (SIGTERM), or kills it after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipes()

    def __enter__(self) -> "BridgeServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def dead_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream port, and fails the ways a network does.

    :meth:`cut` closes every open connection at once and keeps accepting new ones.
    :meth:`blackhole` stops forwarding without closing anything: the open connections go
    silent (what is sent on them is dropped, in both directions) and new connections are
    accepted and held, silent, as behind a partition that drops packets. :meth:`heal` forwards
    new connections again; the held ones stay silent until the client gives up on them.
    ``latency`` (seconds, 0 by default) holds every chunk that long before forwarding it, as a
    slow link or a server slow to answer would.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.target = f"127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        # The held connections' sockets, by connection: what is read from them is dropped.
        self._held: set[int] = set()
        self._blackholed = False
        self._closed = False
        #: Connections forwarded upstream so far.
        self.connections = 0
        #: Connections accepted and held while blackholed.
        self.held_connections = 0
        #: Seconds every chunk waits before it is forwarded.
        self.latency = 0.0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                blackholed = self._blackholed
            if blackholed:
                with self._lock:
                    self._sockets.append(client)
                    self._held.add(id(client))
                    self.held_connections += 1
                threading.Thread(target=self._pump, args=(client, None, id(client)), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, id(client)), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, id(client)), daemon=True).start()

    def _pump(self, source: socket.socket, destination: Optional[socket.socket], connection: int) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    held = connection in self._held
                if not held and destination is not None:
                    if self.latency > 0:
                        time.sleep(self.latency)
                    destination.sendall(data)
        except OSError:
            pass
        for end in (source, destination):
            if end is None:
                continue
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Closes every connection open now, held ones included."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
            self._held.clear()
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def blackhole(self) -> None:
        """Stops forwarding: open connections go silent, new ones are held; nothing is closed."""
        with self._lock:
            self._blackholed = True
            for end in self._sockets:
                self._held.add(id(end))

    def heal(self) -> None:
        """Forwards new connections again; the ones held stay silent."""
        with self._lock:
            self._blackholed = False

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()
