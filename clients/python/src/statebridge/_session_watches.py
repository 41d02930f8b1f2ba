"""The watches of a SessionContext: blocking ones on the context's channel, asyncio ones on a
grpc.aio channel of their own."""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Iterable, Optional

from ._channel import ReplaceableSyncChannel
from ._core import MISSED_HEARTBEATS, SessionCore
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .telemetry import traced
from .watch import AsyncWatch, OnStatus, ReconnectPolicy, Watch


class SessionWatches(SessionCore):
    """``watch_variables`` and ``watch_variables_async`` of :class:`~statebridge.SessionContext`,
    kept apart so that session.py stays short enough to read at once. The context opens
    ``_channels`` and the set of its live watches, which its ``close`` closes."""

    _channels: ReplaceableSyncChannel
    _watches: "weakref.WeakSet[Watch]"
    _watches_lock: threading.RLock

    @traced("watch_variables")
    def watch_variables(
        self,
        identifiers: Iterable[str],
        include_initial: bool = True,
        from_revision: Optional[int] = None,
        *,
        heartbeat_interval: float = 5.0,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_status: Optional[OnStatus] = None,
    ) -> Watch:
        """Watches variables: returns a blocking iterator of :class:`~statebridge.WatchEvent`,
        once the server has registered the watch, so that every change made after this call
        returns is delivered.

        With ``include_initial``, the current values arrive first (``initial`` events), then
        every change after them. With ``from_revision``, every change after that revision
        arrives instead (or ``resync`` events with current values if the server's history no
        longer reaches back). A broken stream is reopened from the last revision seen, with
        ``reconnect``'s backoff; a stream silent for three ``heartbeat_interval`` s is treated
        as broken. No event is lost or repeated. The iterator raises StateError when the
        watch cannot go on (``not_found`` for an unknown identifier, ``session_expired``,
        ``unavailable`` after too many failures in a row).

        ``on_status``, if given, is told the watch's connection state as it changes
        (:class:`~statebridge.WatchStatus`: ``connected``, ``reconnecting`` with the attempt,
        the delay and the error, ``resumed`` at a revision, ``gave_up`` with the final error),
        so that a server gone for good shows at once rather than as silence. What it raises is
        logged and changes nothing.
        """
        cursor = self._watch_cursor(
            identifiers, include_initial, from_revision, heartbeat_interval, reconnect, on_status
        )
        self._check_open()

        def open_stream(request: pb.WatchVariablesRequest) -> tuple[Any, Callable[[], None]]:
            generation, stub = self._channels.current()
            return stub.WatchVariables(request, metadata=self._call_metadata), lambda: self._channels.replace(generation)

        watch = Watch(open_stream, self._translate, cursor, MISSED_HEARTBEATS * heartbeat_interval, self._watch_closed)
        with self._watches_lock:
            self._watches.add(watch)
        return watch.start()

    def watch_variables_async(
        self,
        identifiers: Iterable[str],
        include_initial: bool = True,
        from_revision: Optional[int] = None,
        *,
        heartbeat_interval: float = 5.0,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_status: Optional[OnStatus] = None,
    ) -> AsyncWatch:
        """Like :meth:`watch_variables`, as an asyncio iterator (``async for``) on its own
        grpc.aio channel, closed with the watch. Call it from a running event loop; ``await``
        the result (or enter it with ``async with``) to wait until the server has registered
        the watch."""
        cursor = self._watch_cursor(
            identifiers, include_initial, from_revision, heartbeat_interval, reconnect, on_status
        )
        self._check_open()
        from ._async_channel import ReplaceableAsyncChannel

        channels = ReplaceableAsyncChannel(self._address, self._secure, self._channel_options, self._retire_grace)

        def open_stream(request: pb.WatchVariablesRequest) -> tuple[Any, Callable[[], None]]:
            generation, stub = channels.current()
            return stub.WatchVariables(request, metadata=self._call_metadata), lambda: channels.replace(generation)

        async def close_channel() -> None:
            await channels.close()

        return AsyncWatch(open_stream, self._translate, cursor, MISSED_HEARTBEATS * heartbeat_interval, close_channel)

    def _watch_closed(self, watch: Watch) -> None:
        with self._watches_lock:
            self._watches.discard(watch)
