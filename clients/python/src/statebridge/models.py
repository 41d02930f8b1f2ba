"""The records the client returns: variables, sessions and watch events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .values import decode_value


@dataclass(frozen=True)
class Variable:
    """A whole variable as the server holds it. Timestamps are wall-clock epoch milliseconds."""

    id: str
    name: str
    #: One of float, integer, string, boolean, choice, module, embedding, tensor.
    type: str
    value: Any = field(repr=False)
    constraints: dict[str, Any]
    metadata: dict[str, Any]
    #: 0 at register, +1 on every successful set.
    version: int
    created_at: int
    updated_at: int
    #: Who wrote last: ``typescript``, ``python``, or a name a client gave.
    source: str


@dataclass(frozen=True)
class Capabilities:
    """What backs a bridge-server's sessions, as its ``Ping`` answers."""

    #: ``memory`` (the server's own process) or ``redis``; empty from a server that does not say.
    store_kind: str
    #: Sessions survive a restart of the server serving them.
    persistence: bool
    #: Several bridge-servers serve the same sessions (behind a balancer, say).
    distribution: bool
    #: Every read sees every write that completed before it; False for a context with ``cache``,
    #: whose reads are monotonic and see its own writes, and others' once its watch delivers them.
    linearizable_reads: bool = True


def capabilities_from_wire(response: pb.PingResponse) -> Capabilities:
    """Reads the store description of a ``PingResponse``."""
    return Capabilities(
        store_kind=response.store_kind,
        persistence=response.persistence,
        distribution=response.distribution,
    )


@dataclass(frozen=True)
class SessionInfo:
    """A session as the server describes it. Times are epoch milliseconds."""

    session_id: str
    #: Counts the session's mutations; one atomic batch is one revision.
    revision: int
    created_at: int
    last_accessed_at: int
    expires_at: int
    variable_count: int
    metadata: dict[str, Any]
    ttl_seconds: int
    #: This life of the session: 16 hex digits created with it. A session created again under
    #: the same id (after it was deleted or expired, or the server restarted) has another one.
    #: Empty from a server that predates incarnations.
    incarnation: str = ""


@dataclass(frozen=True)
class WatchEvent:
    """One change of one watched variable.

    ``type`` is ``initial`` (the snapshot sent first), ``value_change``, ``deleted`` or
    ``resync`` (a current value sent because the server's history no longer reached back to
    the revision the watch resumed from). Every event of one atomic batch has the same
    ``revision``.
    """

    type: str
    #: The identifier as the watch named the variable.
    identifier: str
    id: str
    name: str
    variable_type: str
    old_value: Any = field(repr=False)
    new_value: Any = field(repr=False)
    version: int
    revision: int
    source: str
    metadata: dict[str, Any]
    #: Wall-clock epoch milliseconds of the change.
    timestamp: int


_EVENT_TYPES = {
    pb.WATCH_EVENT_TYPE_INITIAL: "initial",
    pb.WATCH_EVENT_TYPE_VALUE_CHANGE: "value_change",
    pb.WATCH_EVENT_TYPE_DELETED: "deleted",
    pb.WATCH_EVENT_TYPE_RESYNC: "resync",
}


def parse_json_object(text: str) -> dict[str, Any]:
    """Parses a JSON object field of the wire; ``""`` means empty."""
    if not text:
        return {}
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else {}


def variable_from_wire(variable: pb.Variable) -> Variable:
    """Converts a wire Variable."""
    return Variable(
        id=variable.id,
        name=variable.name,
        type=variable.type,
        value=decode_value(variable.value if variable.HasField("value") else None, variable.name),
        constraints=parse_json_object(variable.constraints_json),
        metadata=parse_json_object(variable.metadata_json),
        version=int(variable.version),
        created_at=int(variable.created_at_ms),
        updated_at=int(variable.updated_at_ms),
        source=variable.source,
    )


def session_from_wire(session: pb.Session) -> SessionInfo:
    """Converts a wire Session."""
    return SessionInfo(
        session_id=session.session_id,
        revision=int(session.revision),
        created_at=int(session.created_at_ms),
        last_accessed_at=int(session.last_accessed_at_ms),
        expires_at=int(session.expires_at_ms),
        variable_count=int(session.variable_count),
        metadata=parse_json_object(session.metadata_json),
        ttl_seconds=int(session.ttl_seconds),
        incarnation=session.incarnation,
    )


def event_from_wire(event: pb.WatchEvent) -> WatchEvent:
    """Converts a wire WatchEvent."""
    return WatchEvent(
        type=_EVENT_TYPES.get(event.type, "unspecified"),
        identifier=event.identifier,
        id=event.id,
        name=event.name,
        variable_type=event.variable_type,
        old_value=decode_value(event.old_value if event.HasField("old_value") else None, event.name),
        new_value=decode_value(event.new_value if event.HasField("new_value") else None, event.name),
        version=int(event.version),
        revision=int(event.revision),
        source=event.source,
        metadata=parse_json_object(event.metadata_json),
        timestamp=int(event.timestamp_ms),
    )
