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
import threading
import time
from typing import Any, Awaitable, Callable, Deque, Optional

import grpc

from ._cursor import OnStatus, ReconnectPolicy, WatchCursor, WatchStatus, final
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._status import connection_failed
from .errors import StateError
from .models import WatchEvent

__all__ = ["AsyncWatch", "OnStatus", "OpenStream", "ReconnectPolicy", "Watch", "WatchCursor", "WatchStatus", "final"]


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
            request = self._cursor.request() if self._call is None else None
            if self._call is None and request is not None:
                self._stale = False
                self._call, self._connection_lost = self._open_stream(request)
                self._start_watchdog()
            call, connection_lost = self._call, self._connection_lost
        if call is None:
            # Every watched variable was deleted: nothing to follow, nor to reopen, until close().
            self._closed.wait()
            return None
        self._waiting_since = time.monotonic()
        dead_connection = False
        try:
            return next(call)
        except StopIteration:
            error: StateError = StateError("unavailable", "the bridge-server ended the watch stream")
        except grpc.RpcError as rpc_error:
            if self._stale:
                error = StateError("unavailable", f"the watch stream was silent for {self._silence_limit():g} s")
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

    def _silence_limit(self) -> float:
        return self._cursor.silence_limit(self._dead_after)

    def _watch_for_silence(self) -> None:
        while not self._closed.wait(max(self._silence_limit() / 4, 0.05)):
            since = self._waiting_since
            if since is not None and time.monotonic() - since > self._silence_limit():
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
        if self._close_event is None:
            self._close_event = asyncio.Event()
        if self._call is None:
            request = self._cursor.request()
            if request is None:
                # Every watched variable was deleted: nothing to follow, nor to reopen, until aclose().
                await self._close_event.wait()
                return None
            self._call, self._connection_lost = self._open_stream(request)
        call = self._call
        dead_connection = False
        silence_limit = self._cursor.silence_limit(self._dead_after)
        try:
            message = await asyncio.wait_for(call.read(), silence_limit)
        except asyncio.TimeoutError:
            call.cancel()
            error = StateError("unavailable", f"the watch stream was silent for {silence_limit:g} s")
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
