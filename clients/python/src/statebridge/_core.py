"""What SessionContext and AsyncSessionContext share: targets, channel options, request
building and response parsing. Nothing here does I/O."""

from __future__ import annotations

import json
import re
import threading
from numbers import Integral
from typing import Any, Iterable, Mapping, Optional, Sequence

import grpc

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._status import state_error_from_rpc
from .errors import StateError
from .models import Variable, variable_from_wire
from .tracing import trace_metadata
from .values import encode_value
from ._cursor import MISSED_HEARTBEATS, OnStatus, ReconnectPolicy, WatchCursor, final

#: The default largest message a client sends or accepts, in bytes: a watch event carries a
#: value and the value it replaced, each up to the server's 64 MiB.
DEFAULT_MAX_MESSAGE_LENGTH = 256 * 1024 * 1024

#: Seconds a connection attempt may take, TCP and HTTP/2 handshakes included, by default.
DEFAULT_CONNECT_TIMEOUT = 5.0

#: Options of every channel besides the message size limits and the connect timeout:
#: - a subchannel pool of its own, so that a channel opened to replace a dead one gets a new
#:   connection (channels with equal options otherwise share one, dead or alive);
#: - HTTP/2 keepalive PINGs while calls are open, as the TypeScript transport sends them
#:   (every 15 s, 10 s to answer), so that a dead connection under a watch is dropped;
#: - a short reconnect backoff, so that the watch's own backoff decides when to try again.
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.keepalive_time_ms", 15_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.primary_user_agent", "statebridge-python/0.1.0"),
)

# How grpc words a message over a channel's size limit (its message size filter).
_OVER_LIMIT = re.compile(r"^(Received|Sent) message larger than max \((\d+) vs\. (\d+)\)")


def message_length_limit(value: Any, name: str) -> int:
    """Checks a message size limit option: a positive number of bytes."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise StateError("invalid_value", f"{name} must be a positive number of bytes, got {value!r}")
    return int(value)


def connect_timeout_option(value: Any) -> float:
    """Checks the connect timeout option: a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise StateError("invalid_value", f"connect_timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def channel_options(
    max_receive_message_length: int, max_send_message_length: int, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> tuple[tuple[str, Any], ...]:
    """The options of a channel with the given message size limits and connect timeout."""
    return CHANNEL_OPTIONS + (
        ("grpc.max_receive_message_length", max_receive_message_length),
        ("grpc.max_send_message_length", max_send_message_length),
        # Despite its name, grpc takes this as the least time a connection attempt gets (its
        # deadline is the later of this and the next backoff): at 100 ms a server slow to
        # answer the handshake could never be reached.
        ("grpc.min_reconnect_backoff_ms", min(max(1, int(connect_timeout * 1000)), 2**31 - 1)),
    )


#: Tries of a read (a call safe to repeat) that finds the server unavailable, the first
#: included, and the delay before the first retry, doubling up to a cap; as in BridgedState. A
#: connection broken by a server restart fails one call before the channel reconnects.
READ_ATTEMPTS = 4
READ_RETRY_BASE = 0.05
READ_RETRY_CAP = 1.0


_READ_RETRY = ReconnectPolicy(base=READ_RETRY_BASE, cap=READ_RETRY_CAP, max_failures=READ_ATTEMPTS, jitter=0.2)


def read_retry_delay(attempt: int) -> float:
    """The wait before retry number ``attempt`` (1 for the first), with 20 % jitter: the watches'
    backoff, with the reads' delays."""
    return _READ_RETRY.delay(attempt)


def parse_target(target: str) -> tuple[str, bool]:
    """Splits ``http://host:port``, ``https://host:port`` or ``host:port`` into a gRPC target
    and whether it needs TLS."""
    if not isinstance(target, str) or not target:
        raise StateError("invalid_value", f"target must be a non-empty string such as '127.0.0.1:50051', got {target!r}")
    secure = False
    address = target.strip()
    if address.startswith("https://"):
        secure, address = True, address[len("https://") :]
    elif address.startswith("http://"):
        address = address[len("http://") :]
    return address.rstrip("/"), secure


def to_json(value: Any, what: str) -> str:
    """Encodes constraints or metadata as the wire's JSON string (``""`` for None)."""
    if value is None:
        return ""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise StateError("invalid_value", f"{what} is not JSON-compatible: {error}") from None


class SessionCore:
    """State and request building common to the blocking and the asyncio session."""

    def __init__(
        self,
        target: str,
        session_id: str,
        token: Optional[str],
        source: str,
        timeout: Optional[float],
        max_receive_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        max_send_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise StateError("invalid_value", f"session_id must be a non-empty string, got {session_id!r}")
        self._max_receive = message_length_limit(max_receive_message_length, "max_receive_message_length")
        self._max_send = message_length_limit(max_send_message_length, "max_send_message_length")
        self._connect_timeout = connect_timeout_option(connect_timeout)
        #: The options of every channel this context opens.
        self._channel_options = channel_options(self._max_receive, self._max_send, self._connect_timeout)
        self._address, self._secure = parse_target(target)
        self._target = target
        self._session_id = session_id
        self._source = source
        self._timeout = timeout
        self._base_metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        # Variable types by identifier, learned from every variable the server returns. An int
        # written to a float variable must travel as a float: the server refuses an integer
        # field for a float variable.
        self._types: dict[str, str] = {}
        self._types_lock = threading.Lock()
        self._closed = False
        # Set once a call or a watch was told session_expired: every later call fails with it.
        self._session_ended: Optional[StateError] = None

    @property
    def _call_metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata of a call or a watch connection: the token, and the caller's trace context."""
        return self._base_metadata + trace_metadata()

    @property
    def session_id(self) -> str:
        """The session this context works in."""
        return self._session_id

    @property
    def source(self) -> str:
        """The name every write of this context carries."""
        return self._source

    @property
    def target(self) -> str:
        """The bridge-server address, as given."""
        return self._target

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    @property
    def incarnation(self) -> str:
        """This life of the session, as the context found it when it got or created it (see
        :attr:`SessionInfo.incarnation`); every watch names it, so that a session created
        again under the same id ends the watch with ``session_expired``."""
        session = getattr(self, "session", None)
        return session.incarnation if session is not None else ""

    @property
    def _retire_grace(self) -> float:
        """How long a replaced channel stays open for the calls still on it: a call has at most
        the context's timeout (a second more for good measure), or a minute without one."""
        return 60.0 if self._timeout is None else self._timeout + 1.0

    def _translate(self, error: grpc.RpcError) -> StateError:
        """The client's one seam from a failed call to a StateError (see ``state_error_from_rpc``),
        with this client's own message size limits named when grpc refused a message for them."""
        translated = state_error_from_rpc(error, self._target)
        if translated.code == "session_expired":
            self._session_has_ended(translated)
        if translated.code != "resource_exhausted":
            return translated
        details = error.details() if hasattr(error, "details") else None
        match = _OVER_LIMIT.match(details or "")
        if match is None:
            return translated
        direction, size, limit = match.groups()
        if direction == "Received":
            # The same message would come again on every reconnect of a watch.
            return final(
                StateError(
                    "resource_exhausted",
                    f"a response message of {size} bytes is larger than max_receive_message_length ({limit} bytes)",
                )
            )
        return StateError(
            "resource_exhausted",
            f"a request message of {size} bytes is larger than max_send_message_length ({limit} bytes)",
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StateError("closed", f"the session context for {self._session_id!r} is closed")
        if self._session_ended is not None:
            raise self._session_ended

    def _session_has_ended(self, error: StateError) -> None:
        """Records that the session ended, so that the context never goes on with a session
        created again under the same id (after a restart, say) as if it were its own."""
        if self._session_ended is None:
            self._session_ended = StateError(
                "session_expired",
                f"session {self._session_id!r} of this context ended ({error.message}); a session created "
                "again under that id would be another one: create a new context to use it",
            )

    # -- the type cache ---------------------------------------------------------------------

    def _remember(self, variable: pb.Variable, *identifiers: str) -> Variable:
        parsed = variable_from_wire(variable)
        with self._types_lock:
            self._types[parsed.id] = parsed.type
            self._types[parsed.name] = parsed.type
            for identifier in identifiers:
                self._types[identifier] = parsed.type
        return parsed

    def _forget(self, *identifiers: str) -> None:
        with self._types_lock:
            for identifier in identifiers:
                self._types.pop(identifier, None)

    def _type_of(self, identifier: str) -> Optional[str]:
        with self._types_lock:
            return self._types.get(identifier)

    @staticmethod
    def _needs_type(value: Any) -> bool:
        """Only an int's field depends on the variable's type (integer or float)."""
        return isinstance(value, Integral) and not isinstance(value, bool)

    # -- requests ---------------------------------------------------------------------------

    def _register_request(
        self,
        name: str,
        type: str,
        initial: Any,
        constraints: Optional[Mapping[str, Any]],
        metadata: Optional[Mapping[str, Any]],
        description: Optional[str],
    ) -> pb.RegisterVariableRequest:
        request = pb.RegisterVariableRequest(
            session_id=self._session_id,
            name=name,
            type=type,
            initial_value=encode_value(initial, type, name),
            constraints_json=to_json(constraints, "constraints"),
            metadata_json=to_json(metadata, "metadata"),
            source=self._source,
        )
        if description is not None:
            request.description = description
        return request

    def _set_request(
        self,
        identifier: str,
        value: Any,
        metadata: Optional[Mapping[str, Any]],
        expected_version: Optional[int],
    ) -> pb.SetVariableRequest:
        request = pb.SetVariableRequest(
            session_id=self._session_id,
            identifier=identifier,
            value=encode_value(value, self._type_of(identifier), identifier),
            metadata_json=to_json(metadata, "metadata"),
            source=self._source,
        )
        if expected_version is not None:
            if isinstance(expected_version, bool) or not isinstance(expected_version, Integral) or expected_version < 0:
                raise StateError(
                    "invalid_value",
                    f"expected_version must be a non-negative integer, got {expected_version!r}",
                )
            request.expected_version = int(expected_version)
        return request

    def _update_request(
        self, updates: Mapping[str, Any], atomic: bool, metadata: Optional[Mapping[str, Any]]
    ) -> pb.SetVariablesRequest:
        if not isinstance(updates, Mapping):
            raise StateError("invalid_value", f"updates must be a mapping of identifier to value, got {type(updates).__name__}")
        return pb.SetVariablesRequest(
            session_id=self._session_id,
            updates=[
                pb.VariableUpdate(identifier=identifier, value=encode_value(value, self._type_of(identifier), identifier))
                for identifier, value in updates.items()
            ],
            metadata_json=to_json(metadata, "metadata"),
            atomic=bool(atomic),
            source=self._source,
        )

    @staticmethod
    def _identifiers(identifiers: Iterable[str], what: str) -> list[str]:
        if isinstance(identifiers, str):
            return [identifiers]
        result = list(identifiers)
        for identifier in result:
            if not isinstance(identifier, str):
                raise StateError("invalid_value", f"{what} must be strings, got {identifier!r}")
        return result

    def _untyped(self, identifiers: Sequence[str], values: Sequence[Any]) -> list[str]:
        """The identifiers whose type decides how their value is sent and is not known yet."""
        return [
            identifier
            for identifier, value in zip(identifiers, values)
            if self._needs_type(value) and self._type_of(identifier) is None
        ]

    def _watch_cursor(
        self,
        identifiers: Iterable[str],
        include_initial: bool,
        from_revision: Optional[int],
        heartbeat_interval: float,
        reconnect: ReconnectPolicy,
        on_status: Optional[OnStatus] = None,
    ) -> WatchCursor:
        names = self._identifiers(identifiers, "watch identifiers")
        if from_revision is not None and (isinstance(from_revision, bool) or not isinstance(from_revision, int) or from_revision < 0):
            raise StateError("invalid_value", f"from_revision must be a non-negative integer, got {from_revision!r}")
        if heartbeat_interval <= 0:
            raise StateError("invalid_value", f"heartbeat_interval must be positive, got {heartbeat_interval!r}")
        return WatchCursor(
            self._session_id,
            names,
            bool(include_initial),
            from_revision,
            max(1, int(heartbeat_interval * 1000)),
            reconnect,
            self.incarnation,
            on_status,
        )
