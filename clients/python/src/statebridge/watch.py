"""Watching variables: a blocking iterator and an asyncio iterator over one resumable stream.

Both reopen a broken stream from the last revision they saw (in an event or a heartbeat), with
exponential backoff and jitter, and drop anything at or below the last revision they
delivered, so no event is lost or repeated across reconnects. A stream that stays silent for
a few heartbeat intervals is treated as dead and reopened. A stream that went silent or failed
on its connection (not on the server's word) says so to its opener, which then reopens it on a
new connection: grpc would otherwise reuse the dead one.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Deque, Optional, Sequence

import grpc

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._status import connection_failed
from .errors import StateError
from .models import WatchEvent, event_from_wire


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a watch reopens a broken stream.

    The n-th failure in a row waits ``min(cap, base * 2**(n-1))`` seconds, shortened at random
    by up to ``jitter`` of itself so that clients cut off together do not come back together;
    after ``max_failures`` failures in a row the watch gives up with ``unavailable``. A message
    received resets the count. The defaults are the TypeScript consumer's: 1 s, 30 s, 10, 0.2.
    """

    base: float = 1.0
    cap: float = 30.0
    max_failures: int = 10
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (0 <= self.base <= self.cap):
            raise ValueError(f"reconnect delays must satisfy 0 <= base <= cap, got {self.base} and {self.cap}")
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        if not (0 <= self.jitter <= 1):
            raise ValueError(f"jitter must be within 0..1, got {self.jitter}")

    def delay(self, failures: int) -> float:
        """The wait after the given number of failures in a row."""
        exponential = min(self.cap, self.base * (2.0 ** min(max(failures - 1, 0), 64)))
        return exponential * (1 - self.jitter * random.random())


_FINAL = "_statebridge_final"


def final(error: StateError) -> StateError:
    """Marks an error that reconnecting would only meet again, so that a watch ends with it
    even if its code is one that is usually retried (a message over this client's
    ``max_receive_message_length`` is ``resource_exhausted``)."""
    setattr(error, _FINAL, True)
    return error


class WatchCursor:
    """The bookkeeping of one watch, whatever drives it: what to ask for on each (re)connect,
    which messages are new, and how long to wait after a failure."""

    def __init__(
        self,
        session_id: str,
        identifiers: Sequence[str],
        include_initial: bool,
        from_revision: Optional[int],
        heartbeat_interval_ms: int,
        policy: ReconnectPolicy,
    ) -> None:
        self._session_id = session_id
        self._identifiers = list(identifiers)
        self._include_initial = include_initial
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._policy = policy
        #: The revision to resume from: the highest seen in an event or a heartbeat.
        self.resume_revision: Optional[int] = from_revision
        #: The revision of the last events delivered; anything at or below is a repeat.
        self.delivered_revision: Optional[int] = from_revision
        self.failures = 0

    def request(self) -> pb.WatchVariablesRequest:
        request = pb.WatchVariablesRequest(
            session_id=self._session_id,
            identifiers=self._identifiers,
            heartbeat_interval_ms=self._heartbeat_interval_ms,
        )
        if self.resume_revision is not None:
            request.from_revision = self.resume_revision
        else:
            request.include_initial = self._include_initial
        return request

    def accept(self, message: pb.WatchVariablesResponse) -> list[WatchEvent]:
        """Takes one stream message; returns the events to deliver (none for a heartbeat or a
        repeat)."""
        self.failures = 0
        kind = message.WhichOneof("kind")
        if kind == "heartbeat":
            revision = int(message.heartbeat.revision)
            # Before the initial snapshot has arrived, a resume point would skip it.
            waiting_for_snapshot = self._include_initial and self.resume_revision is None
            if not waiting_for_snapshot and (self.resume_revision is None or revision > self.resume_revision):
                self.resume_revision = revision
            return []
        if kind != "events":
            return []
        revision = int(message.events.revision)
        if self.delivered_revision is not None and revision <= self.delivered_revision:
            return []
        self.delivered_revision = revision
        if self.resume_revision is None or revision > self.resume_revision:
            self.resume_revision = revision
        return [event_from_wire(event) for event in message.events.events]

    def after_failure(self, error: StateError) -> float:
        """Decides what a failure means: returns the wait before reconnecting, or raises.

        Raises:
            StateError: the error itself if reconnecting cannot help (``session_expired``,
                ``not_found``, ``unauthenticated``…), or ``unavailable`` after too many
                failures in a row.
        """
        # Only conditions that can pass are retried, as in the TypeScript consumer: the server
        # going away (unavailable), a slow consumer cut off or a quota (resource_exhausted), a
        # stream cancelled by someone other than the watcher (closed).
        if error.code not in ("unavailable", "resource_exhausted", "closed") or getattr(error, _FINAL, False):
            raise error
        self.failures += 1
        if self.failures >= self._policy.max_failures:
            raise StateError(
                "unavailable",
                f"the watch gave up after {self.failures} failures in a row; last: {error.message}",
            ) from error
        return self._policy.delay(self.failures)


#: Opens a stream for a request; returns the call and what to call if its connection is dead.
OpenStream = Callable[[pb.WatchVariablesRequest], "tuple[Any, Callable[[], None]]"]


def _no_connection() -> None:
    pass


class Watch:
    """A blocking iterator of :class:`WatchEvent`, from one resumable stream.

    Iterate it in one thread; ``close()`` may be called from any thread and ends the
    iteration. It is also a context manager.
    """

    def __init__(
        self,
        open_stream: OpenStream,
        translate: Callable[[grpc.RpcError], StateError],
        cursor: WatchCursor,
        dead_after: float,
        on_close: Optional[Callable[["Watch"], None]] = None,
    ) -> None:
        self._open_stream = open_stream
        self._translate = translate
        self._cursor = cursor
        self._dead_after = dead_after
        self._on_close = on_close
        self._pending: Deque[WatchEvent] = collections.deque()
        self._call: Any = None
        self._connection_lost: Callable[[], None] = _no_connection
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._waiting_since: Optional[float] = None
        self._stale = False
        self._started = False
        self._watchdog: Optional[threading.Thread] = None

    @property
    def revision(self) -> Optional[int]:
        """The last revision this watch saw; a new watch from it misses nothing."""
        return self._cursor.resume_revision

    @property
    def closed(self) -> bool:
        """Whether the watch has ended."""
        return self._closed.is_set()

    def start(self) -> "Watch":
        """Opens the stream and waits for its first message, which the server sends once the
        watch is registered (the initial values, the replayed changes, or a heartbeat): every
        change made after ``start()`` returns is delivered. Idempotent.

        Raises:
            StateError: as iteration does, such as ``not_found`` for an unknown identifier.
        """
        while not self._started and not self._closed.is_set():
            self._step()
        return self

    def _step(self) -> None:
        try:
            message = self._receive()
        except StateError:
            self.close()
            raise
        if message is not None:
            self._started = True
            self._pending.extend(self._cursor.accept(message))

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> WatchEvent:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed.is_set():
                raise StopIteration
            self._step()

    def _receive(self) -> Optional[pb.WatchVariablesResponse]:
        with self._lock:
            if self._closed.is_set():
                return None
            if self._call is None:
                self._stale = False
                self._call, self._connection_lost = self._open_stream(self._cursor.request())
                self._start_watchdog()
            call, connection_lost = self._call, self._connection_lost
        self._waiting_since = time.monotonic()
        dead_connection = False
        try:
            return next(call)
        except StopIteration:
            error: StateError = StateError("unavailable", "the bridge-server ended the watch stream")
        except grpc.RpcError as rpc_error:
            if self._stale:
                error = StateError("unavailable", f"the watch stream was silent for {self._dead_after:g} s")
                dead_connection = True
            else:
                error = self._translate(rpc_error)
                dead_connection = connection_failed(rpc_error)
        finally:
            self._waiting_since = None
        with self._lock:
            self._call = None
        if self._closed.is_set():
            return None
        if dead_connection:
            connection_lost()
        delay = self._cursor.after_failure(error)
        self._closed.wait(delay)
        return None

    def _start_watchdog(self) -> None:
        if self._watchdog is not None:
            return
        self._watchdog = threading.Thread(target=self._watch_for_silence, name="statebridge-watchdog", daemon=True)
        self._watchdog.start()

    def _watch_for_silence(self) -> None:
        interval = max(self._dead_after / 4, 0.05)
        while not self._closed.wait(interval):
            since = self._waiting_since
            if since is not None and time.monotonic() - since > self._dead_after:
                with self._lock:
                    call = self._call
                    if call is not None and self._waiting_since == since:
                        self._stale = True
                        call.cancel()

    def close(self) -> None:
        """Ends the watch and releases its stream; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call.cancel()
        if self._on_close is not None:
            self._on_close(self)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class AsyncWatch:
    """An asyncio iterator of :class:`WatchEvent`, from one resumable stream.

    ``await watch.aclose()`` ends it; it is also an async context manager.
    """

    def __init__(
        self,
        open_stream: OpenStream,
        translate: Callable[[grpc.RpcError], StateError],
        cursor: WatchCursor,
        dead_after: float,
        on_close: Optional[Callable[[], Awaitable[None]]] = None,
    ) -> None:
        self._open_stream = open_stream
        self._translate = translate
        self._cursor = cursor
        self._dead_after = dead_after
        self._on_close = on_close
        self._pending: Deque[WatchEvent] = collections.deque()
        self._call: Any = None
        self._connection_lost: Callable[[], None] = _no_connection
        self._closed = False
        self._started = False
        self._close_event: Optional[asyncio.Event] = None

    @property
    def revision(self) -> Optional[int]:
        """The last revision this watch saw; a new watch from it misses nothing."""
        return self._cursor.resume_revision

    @property
    def closed(self) -> bool:
        """Whether the watch has ended."""
        return self._closed

    async def start(self) -> "AsyncWatch":
        """Opens the stream and waits until the server has registered the watch (its first
        message): every change made after it returns is delivered. ``await watch`` and
        ``async with watch`` do the same. Idempotent.

        Raises:
            StateError: as iteration does, such as ``not_found`` for an unknown identifier.
        """
        while not self._started and not self._closed:
            await self._step()
        return self

    def __await__(self):
        return self.start().__await__()

    async def _step(self) -> None:
        try:
            message = await self._receive()
        except (StateError, asyncio.CancelledError):
            await self.aclose()
            raise
        if message is not None:
            self._started = True
            self._pending.extend(self._cursor.accept(message))

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> WatchEvent:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed:
                raise StopAsyncIteration
            await self._step()

    async def _receive(self) -> Optional[pb.WatchVariablesResponse]:
        if self._call is None:
            self._call, self._connection_lost = self._open_stream(self._cursor.request())
        call = self._call
        dead_connection = False
        try:
            message = await asyncio.wait_for(call.read(), self._dead_after)
        except asyncio.TimeoutError:
            call.cancel()
            error = StateError("unavailable", f"the watch stream was silent for {self._dead_after:g} s")
            dead_connection = True
        except grpc.RpcError as rpc_error:
            if self._closed:
                return None
            error = self._translate(rpc_error)
            dead_connection = connection_failed(rpc_error)
        else:
            if message is not grpc.aio.EOF:
                return message
            error = StateError("unavailable", "the bridge-server ended the watch stream")
        self._call = None
        if self._closed:
            return None
        if dead_connection:
            self._connection_lost()
        delay = self._cursor.after_failure(error)
        if self._close_event is None:
            self._close_event = asyncio.Event()
        try:
            await asyncio.wait_for(self._close_event.wait(), delay)
        except asyncio.TimeoutError:
            pass
        return None

    async def aclose(self) -> None:
        """Ends the watch and releases its stream; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._close_event is not None:
            self._close_event.set()
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        if self._on_close is not None:
            await self._on_close()

    async def __aenter__(self) -> "AsyncWatch":
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
