"""The bookkeeping of one watch, whatever drives it (the blocking or the asyncio iterator):
what to ask for on each (re)connect, which messages are new, which variables it follows, and
how long to wait after a failure."""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from typing import Callable, Literal, Optional, Sequence

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .errors import StateError
from .models import WatchEvent, event_from_wire

#: Heartbeat intervals of silence after which a stream is taken for dead, as in TypeScript.
MISSED_HEARTBEATS = 3


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


@dataclass(frozen=True)
class WatchStatus:
    """The connection state of a watch, as its ``on_status`` callback is told it (the same
    kinds as TypeScript's ``WatchStatus``):

    - ``connected``: the first stream is open; ``revision`` is where the watch starts.
    - ``reconnecting``: a stream failed; reopen number ``attempt`` (failures in a row) comes
      in ``delay`` seconds; ``error`` says why.
    - ``resumed``: a reopened stream is open again; every change after ``revision`` follows.
    - ``gave_up``: ``max_failures`` failures in a row; the watch ends with ``error``
      (``unavailable``), which iterating it then raises.
    """

    kind: Literal["connected", "reconnecting", "resumed", "gave_up"]
    revision: Optional[int] = None
    attempt: Optional[int] = None
    delay: Optional[float] = None
    error: Optional[StateError] = None


#: Told each change of a watch's connection state.
OnStatus = Callable[[WatchStatus], None]

_FINAL = "_statebridge_final"


def final(error: StateError) -> StateError:
    """Marks an error that reconnecting would only meet again, so that a watch ends with it
    even if its code is one that is usually retried (a message over this client's
    ``max_receive_message_length`` is ``resource_exhausted``)."""
    setattr(error, _FINAL, True)
    return error


class WatchCursor:
    """The state of one watch across its streams.

    A watch follows the variable ids its identifiers named when it started (the server's first
    ``created`` tells them): a resume names these ids, so that a variable registered later
    under a watched name is never picked up, and a ``deleted`` event ends an identifier's
    interest for good. Every request names the session's incarnation (as the context knows
    it, or as the server's first message told it), so that a session recreated under the same
    id ends the watch with ``session_expired``. A ``resync`` is applied even behind the resume
    point (a resume point ahead of the session is answered with one). As in TypeScript's
    ``stream-watch.ts``.
    """

    def __init__(
        self,
        session_id: str,
        identifiers: Sequence[str],
        include_initial: bool,
        from_revision: Optional[int],
        heartbeat_interval_ms: int,
        policy: ReconnectPolicy,
        incarnation: str = "",
        on_status: Optional[OnStatus] = None,
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
        #: The session's incarnation every request names, once known.
        self.incarnation: Optional[str] = incarnation or None
        #: The heartbeat interval the server announced, in ms (0 until it does).
        self.announced_interval_ms = 0
        # The id each identifier named at the start, and back; identifiers whose variable was deleted.
        self._followed: dict[str, str] = {}
        self._named: dict[str, str] = {}
        self._ended: set[str] = set()
        # What the current stream was asked for: the identifiers, or on a resume the ids.
        self._sent: list[str] = list(identifiers)
        self._resumed_by_ids = False
        self._on_status = on_status
        # Whether a stream was ever open, whether the current one said anything, and where it resumed.
        self._opened = False
        self._heard = False
        self._requested_from: Optional[int] = None

    def request(self) -> Optional[pb.WatchVariablesRequest]:
        """The request of the next stream, or None when nothing is left to follow (every
        watched variable was deleted): then there is nothing to reopen either."""
        if self.resume_revision is None:
            self._resumed_by_ids = False
            self._sent = list(self._identifiers)
            request = pb.WatchVariablesRequest(
                session_id=self._session_id,
                identifiers=self._sent,
                heartbeat_interval_ms=self._heartbeat_interval_ms,
                include_initial=self._include_initial,
            )
        else:
            self._resumed_by_ids = bool(self._followed)
            self._sent = self._resume_identifiers()
            if not self._sent:
                return None
            request = pb.WatchVariablesRequest(
                session_id=self._session_id,
                identifiers=self._sent,
                heartbeat_interval_ms=self._heartbeat_interval_ms,
                from_revision=self.resume_revision,
            )
        if self.incarnation is not None:
            request.incarnation = self.incarnation
        self._heard = False
        self._requested_from = self.resume_revision
        return request

    def _tell(self, status: WatchStatus) -> None:
        if self._on_status is None:
            return
        try:
            self._on_status(status)
        except Exception:
            # A callback's failure never stops the watch.
            logging.getLogger("statebridge").exception("a watch's on_status callback raised")

    def _told_open(self, message: pb.WatchVariablesResponse) -> None:
        """Tells ``connected`` or ``resumed`` on a stream's first message."""
        if self._heard:
            return
        self._heard = True
        if self._opened:
            self._tell(WatchStatus("resumed", revision=self._requested_from if self._requested_from is not None else 0))
            return
        self._opened = True
        kind = message.WhichOneof("kind")
        inner = getattr(message, kind) if kind in ("created", "heartbeat", "events") else None
        self._tell(WatchStatus("connected", revision=int(inner.revision) if inner is not None else 0))

    def silence_limit(self, default: float) -> float:
        """Seconds of silence after which the stream is dead: ``default``, or longer if the
        server announced a longer heartbeat interval than was asked for."""
        announced = MISSED_HEARTBEATS * self.announced_interval_ms / 1000
        return max(default, announced)

    def accept(self, message: pb.WatchVariablesResponse) -> list[WatchEvent]:
        """Takes one stream message; returns the events to deliver (none for ``created``, a
        heartbeat or a repeat)."""
        self.failures = 0
        self._told_open(message)
        kind = message.WhichOneof("kind")
        if kind == "created":
            created = message.created
            self._learn(created.incarnation, created.heartbeat_interval_ms)
            self._follow(list(created.ids))
            # Without initial values or a resume point, nothing at or before it will come.
            if self.resume_revision is None and not self._include_initial:
                self.resume_revision = int(created.revision)
            return []
        if kind == "heartbeat":
            self._learn(message.heartbeat.incarnation, message.heartbeat.interval_ms)
            revision = int(message.heartbeat.revision)
            # Before the initial snapshot has arrived, a resume point would skip it.
            waiting_for_snapshot = self._include_initial and self.resume_revision is None
            if not waiting_for_snapshot and (self.resume_revision is None or revision > self.resume_revision):
                self.resume_revision = revision
            return []
        if kind != "events":
            return []
        revision = int(message.events.revision)
        wire_events = message.events.events
        # A resync is the server's current state, even behind a resume point it never reached.
        resync = len(wire_events) > 0 and wire_events[0].type == pb.WATCH_EVENT_TYPE_RESYNC
        if not resync and self.delivered_revision is not None and revision <= self.delivered_revision:
            return []
        self.delivered_revision = revision
        if resync or self.resume_revision is None or revision > self.resume_revision:
            self.resume_revision = revision
        events = [event_from_wire(event) for event in wire_events]
        for event in events:
            if event.type == "deleted":
                self._end(event.id, event.identifier)
        if self._resumed_by_ids:
            events = [self._as_named(event) for event in events]
        return events

    def _learn(self, incarnation: str, interval_ms: int) -> None:
        if self.incarnation is None and incarnation:
            self.incarnation = incarnation
        if interval_ms:
            self.announced_interval_ms = int(interval_ms)

    def _follow(self, ids: list[str]) -> None:
        """Records the ids of the first stream, and ends what a resume found gone ("" ids)."""
        if len(ids) != len(self._sent):
            return
        for sent, id in zip(self._sent, ids):
            if self._resumed_by_ids:
                if id == "":
                    self._ended.update(named for named, followed in self._followed.items() if followed == sent)
                continue
            if id == "":
                continue
            self._followed.setdefault(sent, id)
            self._named.setdefault(id, sent)

    def _end(self, id: str, identifier: str) -> None:
        self._ended.add(identifier)
        self._ended.update(named for named, followed in self._followed.items() if followed == id)

    def _resume_identifiers(self) -> list[str]:
        """The followed id of each identifier still of interest, once each."""
        identifiers: list[str] = []
        for identifier in self._identifiers:
            if identifier in self._ended:
                continue
            target = self._followed.get(identifier, identifier)
            if target not in identifiers:
                identifiers.append(target)
        return identifiers

    def _as_named(self, event: WatchEvent) -> WatchEvent:
        """An event of a stream resumed by ids, with the identifier as the watcher named it."""
        identifier = self._named.get(event.id)
        if identifier is None or identifier == event.identifier:
            return event
        return dataclasses.replace(event, identifier=identifier)

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
            gave_up = StateError(
                "unavailable",
                f"the watch gave up after {self.failures} failures in a row; last: {error.message}",
            )
            self._tell(WatchStatus("gave_up", error=gave_up))
            raise gave_up from error
        delay = self._policy.delay(self.failures)
        self._tell(WatchStatus("reconnecting", attempt=self.failures, delay=delay, error=error))
        return delay
