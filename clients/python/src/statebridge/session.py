"""SessionContext: the blocking Python client of a bridge-server session."""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from typing import Any, Iterable, Mapping, Optional, Union

import grpc

from ._cache import DEFAULT_CACHE_MAX_ENTRIES, CachedReads, NearCache
from ._channel import ReplaceableSyncChannel, open_sync_channel, tls_settings
from ._core import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_LENGTH,
    READ_ATTEMPTS,
    read_retry_delay,
    to_json,
)
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._session_watches import SessionWatches
from ._status import connection_failed
from .errors import StateError
from .telemetry import traced
from .models import Capabilities, SessionInfo, Variable, capabilities_from_wire, session_from_wire
from .watch import Watch


class SessionContext(CachedReads, SessionWatches):
    """The variables of one bridge-server session, read, written and watched from Python.

    Creating a context gets or creates the session (``InitializeSession``). Every write
    carries ``source`` (``"python"`` unless told otherwise). Failures raise
    :class:`~statebridge.StateError` with the same stable codes as the TypeScript providers.
    ``ctx["name"]`` reads a value and ``ctx["name"] = value`` writes one. Use it as a context
    manager, or call :meth:`close`.

    Args:
        target: the bridge-server address: ``"127.0.0.1:50051"``, or the
            ``http://host:port`` the server prints.
        session_id: the session to work in; created if it does not exist.
        token: the server's bearer token, if it requires one.
        source: the name every write carries.
        timeout: seconds each call may take (``None``: no deadline). Watches have none.
        ttl_seconds: the TTL of the session if this call creates it (``None``: the server's).
        session_metadata: metadata of the session if this call creates it.
        max_receive_message_length: the largest message accepted from the server, in bytes (a
            response, or a watch event). A larger one fails its call, or ends its watch, with
            ``resource_exhausted`` naming this limit. Default 256 MiB.
        max_send_message_length: the largest request sent, in bytes; a larger one fails with
            ``resource_exhausted`` before it is sent. Default 256 MiB (the server's own limit,
            64 MiB by default, refuses it with ``resource_exhausted`` too).
        connect_timeout: seconds a connection attempt may take, handshakes included. Default 5.
            A connection found dead (a silent watch, a call past its deadline, grpc's own
            ``unavailable``) is dropped and the next call or reconnect opens a new one.
        root_certificates: PEM CA certificates to trust instead of the system's, for a server
            whose certificate a private CA issued. Giving any certificate means TLS (an
            ``https://`` target does too).
        private_key: the PEM private key of a client certificate, for a server that requires
            one (mutual TLS); with ``certificate_chain``.
        certificate_chain: the PEM client certificate (and its intermediates) of ``private_key``.
        cache: keep the variables this context reads current through a watch each, so that
            reading them again never leaves the process. Reads stay monotonic and see this
            context's own writes; writes made elsewhere show once the watch delivers them
            (``capabilities().linearizable_reads`` is False). ``fresh=True`` asks the server.
        cache_max_entries: the most variables cached (one watch thread each); past it the least
            recently read goes. Default 1,000.
    """

    def __init__(
        self,
        target: str,
        session_id: str,
        token: Optional[str] = None,
        source: str = "python",
        timeout: Optional[float] = 5.0,
        *,
        ttl_seconds: Optional[int] = None,
        session_metadata: Optional[Mapping[str, Any]] = None,
        max_receive_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        max_send_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        root_certificates: Union[str, bytes, None] = None,
        private_key: Union[str, bytes, None] = None,
        certificate_chain: Union[str, bytes, None] = None,
        cache: bool = False,
        cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES,
    ) -> None:
        super().__init__(
            target,
            session_id,
            token,
            source,
            timeout,
            max_receive_message_length,
            max_send_message_length,
            connect_timeout,
        )
        self._secure = tls_settings(target, bool(self._secure), root_certificates, private_key, certificate_chain)
        address, secure, options = self._address, self._secure, self._channel_options
        self._channels = ReplaceableSyncChannel(lambda: open_sync_channel(address, secure, options), self._retire_grace)
        self._watches: "weakref.WeakSet[Watch]" = weakref.WeakSet()
        # Reentrant: a watch collected while this thread holds the lock removes itself from the set.
        self._watches_lock = threading.RLock()
        self._cache: Optional[NearCache] = None
        if cache:
            self._cache = NearCache(self._open_cache_watch, cache_max_entries, lambda error: None)
        try:
            response = self._call(
                "InitializeSession",
                pb.InitializeSessionRequest(
                    session_id=session_id,
                    metadata_json=to_json(session_metadata, "session metadata"),
                    ttl_seconds=int(ttl_seconds or 0),
                ),
                idempotent=True,
            )
        except BaseException:
            self._channels.close()
            self._closed = True
            raise
        #: The session as it was when this context was created.
        self.session: SessionInfo = session_from_wire(response.session)
        #: Whether creating this context created the session.
        self.created: bool = bool(response.created)

    def _call(self, method: str, request: Any, idempotent: bool = False) -> Any:
        """Runs one call (``method`` names the RPC) under the deadline. A read (``idempotent``)
        that finds the server unavailable is tried again with backoff while the deadline
        allows; a write is tried once, since one that failed may have been applied. A failure
        that says the connection may be dead replaces the channel for the next try."""
        self._check_open()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        attempt = 1
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            generation, stub = self._channels.current()
            try:
                return getattr(stub, method)(request, timeout=remaining, metadata=self._call_metadata)
            except grpc.RpcError as rpc_error:
                if connection_failed(rpc_error):
                    self._channels.replace(generation)
                error = self._translate(rpc_error)
            if self._closed:
                raise StateError("closed", f"the session context for {self._session_id!r} is closed")
            delay = read_retry_delay(attempt)
            if (
                not idempotent
                or error.code != "unavailable"
                or attempt >= READ_ATTEMPTS
                or (deadline is not None and time.monotonic() + delay >= deadline)
            ):
                raise error
            time.sleep(delay)
            attempt += 1

    def _learn_types(self, identifiers: list[str]) -> None:
        if identifiers:
            self.get_variables(identifiers)

    # -- sessions ---------------------------------------------------------------------------

    @traced("ping")
    def ping(self, message: str = "") -> str:
        """Asks the server to answer; returns the echoed message."""
        return self._call("Ping", pb.PingRequest(message=message), idempotent=True).message

    _capabilities: Optional[Capabilities] = None

    def capabilities(self) -> Capabilities:
        """What backs the server's sessions: its store's kind, and whether sessions survive a
        restart of the server (``persistence``) and are served by several servers
        (``distribution``). Asked with ``Ping`` on first use, then remembered."""
        if self._capabilities is None:
            found = capabilities_from_wire(self._call("Ping", pb.PingRequest(), idempotent=True))
            self._capabilities = dataclasses.replace(found, linearizable_reads=self._cache is None)
        return self._capabilities

    @traced("get_session")
    def get_session(self) -> SessionInfo:
        """Describes the session. Raises ``session_expired`` once it has expired or been deleted."""
        return session_from_wire(self._call("GetSession", pb.GetSessionRequest(session_id=self._session_id), idempotent=True).session)

    @traced("heartbeat")
    def heartbeat(self) -> SessionInfo:
        """Keeps the session alive: its TTL slides from now. Returns the session with its new expiry."""
        return session_from_wire(self._call("Heartbeat", pb.HeartbeatRequest(session_id=self._session_id), idempotent=True).session)

    @traced("delete_session")
    def delete_session(self) -> bool:
        """Deletes the session for every client (its watches end with ``session_expired``).
        Returns whether there was one to delete."""
        return self._call("CleanupSession", pb.CleanupSessionRequest(session_id=self._session_id)).deleted

    # -- variables --------------------------------------------------------------------------

    @traced("register_variable")
    def register_variable(
        self,
        name: str,
        type: str,
        initial: Any,
        constraints: Optional[Mapping[str, Any]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        description: Optional[str] = None,
    ) -> Variable:
        """Creates a variable at version 0 and returns it.

        Raises:
            StateError: ``already_exists`` if the name is taken; ``invalid_type`` for an
                unknown type; ``invalid_value`` for a bad name, value or constraint;
                ``constraint_violation`` if the initial value breaks the constraints.
        """
        request = self._register_request(name, type, initial, constraints, metadata, description)
        variable = self._remember(self._call("RegisterVariable", request).variable)
        if self._cache is not None:
            self._cache.forget(variable.name)  # a name cached for a variable deleted elsewhere
        return variable

    @traced("get_variable")
    def get_variable(self, identifier: str, fresh: bool = False) -> Any:
        """Reads a variable's value by name or id. Raises ``not_found`` if there is none.
        ``fresh`` asks the server even with ``cache``."""
        return self.get_variable_info(identifier, fresh).value

    @traced("get_variable_info")
    def get_variable_info(self, identifier: str, fresh: bool = False) -> Variable:
        """Reads a whole variable by name or id. Raises ``not_found`` if there is none."""
        cache = self._cache
        if cache is not None and not fresh:
            cached = cache.lookup(identifier)
            if cached is not None:
                self._check_open()
                return cached
        request = pb.GetVariableRequest(session_id=self._session_id, identifier=identifier)
        variable = self._remember(self._call("GetVariable", request, idempotent=True).variable, identifier)
        if cache is not None:
            cache.observe(variable)
        return variable

    @traced("get_variables")
    def get_variables(self, identifiers: Iterable[str]) -> dict[str, Any]:
        """Reads many values, keyed by the identifier as given; missing ones are skipped."""
        return {identifier: variable.value for identifier, variable in self.get_variables_info(identifiers).items()}

    @traced("get_variables_info")
    def get_variables_info(self, identifiers: Iterable[str], fresh: bool = False) -> dict[str, Variable]:
        """Reads many whole variables, keyed by the identifier as given; missing ones are skipped."""
        names = self._identifiers(identifiers, "identifiers")
        if self._cache is not None:
            return self._cache_many(names, fresh)
        response = self._call(
            "GetVariables", pb.GetVariablesRequest(session_id=self._session_id, identifiers=names), idempotent=True
        )
        found = {identifier: self._remember(variable, identifier) for identifier, variable in response.variables.items()}
        return {identifier: found[identifier] for identifier in names if identifier in found}

    @traced("set_variable")
    def set_variable(
        self,
        identifier: str,
        value: Any,
        metadata: Optional[Mapping[str, Any]] = None,
        expected_version: Optional[int] = None,
    ) -> int:
        """Writes a value and returns the new version. With ``expected_version``, writes only
        if the variable is still at that version (compare-and-set); ``metadata`` is merged into
        the variable's metadata.

        Raises:
            StateError: ``not_found``, ``invalid_value``, ``constraint_violation``, or
                ``version_conflict`` when the version has moved on.
        """
        self._learn_types(self._untyped([identifier], [value]))
        request = self._set_request(identifier, value, metadata, expected_version)
        with self._writing([identifier]):
            version = int(self._call("SetVariable", request).version)
        if self._cache is not None:
            self._cache.wrote(identifier, version)
        return version

    @traced("update_variables")
    def update_variables(
        self,
        updates: Mapping[str, Any],
        atomic: bool = False,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> dict[str, int]:
        """Writes many values in one revision; returns each identifier's new version.

        Atomic: all or nothing. Otherwise what validates is applied and, if anything failed,
        a ``partial_failure`` StateError lists each failure in ``failures`` and what was
        applied in ``applied``.
        """
        if isinstance(updates, Mapping):
            self._learn_types(self._untyped(list(updates.keys()), list(updates.values())))
        with self._writing(list(updates.keys()) if isinstance(updates, Mapping) else []):
            response = self._call("SetVariables", self._update_request(updates, atomic, metadata))
        versions = {identifier: int(version) for identifier, version in response.versions.items()}
        for identifier, version in versions.items():
            if self._cache is not None:
                self._cache.wrote(identifier, version)
        return versions

    @traced("list_variables")
    def list_variables(self, pattern: Optional[str] = None) -> list[Variable]:
        """Lists variables in creation order; ``pattern`` is an anchored glob (``*`` any run,
        ``?`` one character, ``\\`` escapes)."""
        request = pb.ListVariablesRequest(session_id=self._session_id)
        if pattern is not None:
            request.pattern = pattern
        found = [self._remember(variable) for variable in self._call("ListVariables", request, idempotent=True).variables]
        for variable in found if self._cache is not None else ():
            self._cache.observe(variable)  # only moves cached entries forward
        return found

    @traced("delete_variable")
    def delete_variable(self, identifier: str) -> None:
        """Deletes a variable. Raises ``not_found`` if there is none."""
        with self._writing([identifier], always=True):
            self._call(
                "DeleteVariable",
                pb.DeleteVariableRequest(session_id=self._session_id, identifier=identifier, source=self._source),
            )
        self._forget(identifier)

    # -- sugar and lifetime -----------------------------------------------------------------

    def __getitem__(self, identifier: str) -> Any:
        return self.get_variable(identifier)

    def __setitem__(self, identifier: str, value: Any) -> None:
        self.set_variable(identifier, value)

    def __contains__(self, identifier: object) -> bool:
        return isinstance(identifier, str) and identifier in self.get_variables_info([identifier])

    @traced("close")
    def close(self) -> None:
        """Closes every watch of this context and its connection; idempotent. The session
        itself stays on the server (see :meth:`delete_session`)."""
        if self._closed:
            return
        self._closed = True
        with self._watches_lock:
            watches = list(self._watches)
        if self._cache is not None:
            self._cache.close()
        for watch in watches:
            watch.close()
        self._channels.close()

    def __enter__(self) -> "SessionContext":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionContext(target={self._target!r}, session_id={self._session_id!r}, source={self._source!r})"
