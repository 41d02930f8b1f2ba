"""AsyncSessionContext: the asyncio Python client of a bridge-server session (grpc.aio)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import grpc
import grpc.aio

from ._async_channel import ReplaceableAsyncChannel
from ._channel import tls_settings
from ._core import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_LENGTH,
    MISSED_HEARTBEATS,
    READ_ATTEMPTS,
    SessionCore,
    read_retry_delay,
    to_json,
)
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._status import connection_failed
from .errors import StateError
from .telemetry import traced_async
from .models import Capabilities, SessionInfo, Variable, capabilities_from_wire, session_from_wire
from .watch import AsyncWatch, OnStatus, ReconnectPolicy


class AsyncSessionContext(SessionCore):
    """The asyncio twin of :class:`~statebridge.SessionContext`: the same operations, as
    coroutines, over one grpc.aio channel.

    Open it inside a running event loop, either ``ctx = await AsyncSessionContext.open(...)``
    or ``async with AsyncSessionContext(...) as ctx:``; both get or create the session.
    ``await ctx.close()`` (or leaving the ``async with``) closes it. The message size limits
    (``max_receive_message_length``, ``max_send_message_length``), ``connect_timeout`` and TLS
    (``root_certificates``, ``private_key``, ``certificate_chain``) are
    SessionContext's, and so is replacing a connection found dead.
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
        self._ttl_seconds = ttl_seconds
        self._session_metadata_json = to_json(session_metadata, "session metadata")
        self._channels = ReplaceableAsyncChannel(self._address, self._secure, self._channel_options, self._retire_grace)
        self._opened = False
        self._watches: set[AsyncWatch] = set()
        #: The session as it was when this context was opened.
        self.session: Optional[SessionInfo] = None
        #: Whether opening this context created the session.
        self.created = False

    @classmethod
    async def open(
        cls,
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
    ) -> "AsyncSessionContext":
        """Creates a context and gets or creates its session."""
        context = cls(
            target,
            session_id,
            token,
            source,
            timeout,
            ttl_seconds=ttl_seconds,
            session_metadata=session_metadata,
            max_receive_message_length=max_receive_message_length,
            max_send_message_length=max_send_message_length,
            connect_timeout=connect_timeout,
            root_certificates=root_certificates,
            private_key=private_key,
            certificate_chain=certificate_chain,
        )
        await context.initialize()
        return context

    async def initialize(self) -> SessionInfo:
        """Opens the channel and gets or creates the session; idempotent."""
        self._check_open()
        if self.session is not None:
            return self.session
        self._opened = True
        try:
            response = await self._call(
                "InitializeSession",
                pb.InitializeSessionRequest(
                    session_id=self._session_id,
                    metadata_json=self._session_metadata_json,
                    ttl_seconds=int(self._ttl_seconds or 0),
                ),
                idempotent=True,
            )
        except BaseException:
            await self.close()
            raise
        self.session = session_from_wire(response.session)
        self.created = bool(response.created)
        return self.session

    async def _call(self, method: str, request: Any, idempotent: bool = False) -> Any:
        """Runs one call (``method`` names the RPC) under the deadline; reads are retried, and
        the channel replaced, as in SessionContext._call."""
        self._check_open_and_initialized()
        loop = asyncio.get_running_loop()
        deadline = None if self._timeout is None else loop.time() + self._timeout
        attempt = 1
        while True:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.001)
            generation, stub = self._channels.current()
            try:
                return await getattr(stub, method)(request, timeout=remaining, metadata=self._call_metadata)
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
                or (deadline is not None and loop.time() + delay >= deadline)
            ):
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    def _check_open_and_initialized(self) -> None:
        self._check_open()
        if not self._opened:
            raise StateError("closed", "the async session context is not open yet: await initialize() or use open()")

    async def _learn_types(self, identifiers: list[str]) -> None:
        if identifiers:
            await self.get_variables(identifiers)

    # -- sessions ---------------------------------------------------------------------------

    @traced_async("ping")
    async def ping(self, message: str = "") -> str:
        """Asks the server to answer; returns the echoed message."""
        return (await self._call("Ping", pb.PingRequest(message=message), idempotent=True)).message

    _capabilities: Optional[Capabilities] = None

    async def capabilities(self) -> Capabilities:
        """What backs the server's sessions: its store's kind, and whether sessions survive a
        restart of the server (``persistence``) and are served by several servers
        (``distribution``). Asked with ``Ping`` on first use, then remembered."""
        if self._capabilities is None:
            response = await self._call("Ping", pb.PingRequest(), idempotent=True)
            self._capabilities = capabilities_from_wire(response)
        return self._capabilities

    @traced_async("get_session")
    async def get_session(self) -> SessionInfo:
        """Describes the session. Raises ``session_expired`` once it has expired or been deleted."""
        response = await self._call(
            "GetSession", pb.GetSessionRequest(session_id=self._session_id), idempotent=True
        )
        return session_from_wire(response.session)

    @traced_async("heartbeat")
    async def heartbeat(self) -> SessionInfo:
        """Keeps the session alive: its TTL slides from now."""
        response = await self._call(
            "Heartbeat", pb.HeartbeatRequest(session_id=self._session_id), idempotent=True
        )
        return session_from_wire(response.session)

    @traced_async("delete_session")
    async def delete_session(self) -> bool:
        """Deletes the session for every client; returns whether there was one to delete."""
        response = await self._call("CleanupSession", pb.CleanupSessionRequest(session_id=self._session_id))
        return response.deleted

    # -- variables --------------------------------------------------------------------------

    @traced_async("register_variable")
    async def register_variable(
        self,
        name: str,
        type: str,
        initial: Any,
        constraints: Optional[Mapping[str, Any]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        description: Optional[str] = None,
    ) -> Variable:
        """Creates a variable at version 0 and returns it."""
        request = self._register_request(name, type, initial, constraints, metadata, description)
        return self._remember((await self._call("RegisterVariable", request)).variable)

    @traced_async("get_variable")
    async def get_variable(self, identifier: str) -> Any:
        """Reads a variable's value by name or id."""
        return (await self.get_variable_info(identifier)).value

    @traced_async("get_variable_info")
    async def get_variable_info(self, identifier: str) -> Variable:
        """Reads a whole variable by name or id."""
        request = pb.GetVariableRequest(session_id=self._session_id, identifier=identifier)
        return self._remember((await self._call("GetVariable", request, idempotent=True)).variable, identifier)

    @traced_async("get_variables")
    async def get_variables(self, identifiers: Iterable[str]) -> dict[str, Any]:
        """Reads many values, keyed by the identifier as given; missing ones are skipped."""
        found = await self.get_variables_info(identifiers)
        return {identifier: variable.value for identifier, variable in found.items()}

    @traced_async("get_variables_info")
    async def get_variables_info(self, identifiers: Iterable[str]) -> dict[str, Variable]:
        """Reads many whole variables, keyed by the identifier as given; missing ones are skipped."""
        names = self._identifiers(identifiers, "identifiers")
        response = await self._call(
            "GetVariables", pb.GetVariablesRequest(session_id=self._session_id, identifiers=names), idempotent=True
        )
        found = {identifier: self._remember(variable, identifier) for identifier, variable in response.variables.items()}
        return {identifier: found[identifier] for identifier in names if identifier in found}

    @traced_async("set_variable")
    async def set_variable(
        self,
        identifier: str,
        value: Any,
        metadata: Optional[Mapping[str, Any]] = None,
        expected_version: Optional[int] = None,
    ) -> int:
        """Writes a value and returns the new version; see SessionContext.set_variable."""
        await self._learn_types(self._untyped([identifier], [value]))
        request = self._set_request(identifier, value, metadata, expected_version)
        return int((await self._call("SetVariable", request)).version)

    @traced_async("update_variables")
    async def update_variables(
        self,
        updates: Mapping[str, Any],
        atomic: bool = False,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> dict[str, int]:
        """Writes many values in one revision; see SessionContext.update_variables."""
        if isinstance(updates, Mapping):
            await self._learn_types(self._untyped(list(updates.keys()), list(updates.values())))
        response = await self._call("SetVariables", self._update_request(updates, atomic, metadata))
        return {identifier: int(version) for identifier, version in response.versions.items()}

    @traced_async("list_variables")
    async def list_variables(self, pattern: Optional[str] = None) -> list[Variable]:
        """Lists variables in creation order, optionally matching an anchored glob."""
        request = pb.ListVariablesRequest(session_id=self._session_id)
        if pattern is not None:
            request.pattern = pattern
        response = await self._call("ListVariables", request, idempotent=True)
        return [self._remember(variable) for variable in response.variables]

    @traced_async("delete_variable")
    async def delete_variable(self, identifier: str) -> None:
        """Deletes a variable."""
        await self._call(
            "DeleteVariable",
            pb.DeleteVariableRequest(session_id=self._session_id, identifier=identifier, source=self._source),
        )
        self._forget(identifier)

    # -- watching ---------------------------------------------------------------------------

    def watch_variables(
        self,
        identifiers: Iterable[str],
        include_initial: bool = True,
        from_revision: Optional[int] = None,
        *,
        heartbeat_interval: float = 5.0,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        on_status: Optional[OnStatus] = None,
    ) -> AsyncWatch:
        """Watches variables: returns an asyncio iterator of WatchEvent with the guarantees of
        SessionContext.watch_variables (resumes after reconnects, nothing lost or repeated).
        ``await`` it, or enter it with ``async with``, to wait until the server has registered
        the watch; a bare ``async for`` registers it on the first step."""
        self._check_open_and_initialized()
        cursor = self._watch_cursor(
            identifiers, include_initial, from_revision, heartbeat_interval, reconnect, on_status
        )
        channels = self._channels

        def open_stream(request: pb.WatchVariablesRequest) -> tuple[Any, Callable[[], None]]:
            generation, stub = channels.current()
            return stub.WatchVariables(request, metadata=self._call_metadata), lambda: channels.replace(generation)

        watch: AsyncWatch

        async def forget() -> None:
            self._watches.discard(watch)

        watch = AsyncWatch(open_stream, self._translate, cursor, MISSED_HEARTBEATS * heartbeat_interval, forget)
        self._watches.add(watch)
        return watch

    # -- lifetime ---------------------------------------------------------------------------

    @traced_async("close")
    async def close(self) -> None:
        """Closes every watch of this context and its channel; idempotent."""
        if self._closed:
            return
        self._closed = True
        for watch in list(self._watches):
            await watch.aclose()
        await self._channels.close()

    async def __aenter__(self) -> "AsyncSessionContext":
        await self.initialize()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncSessionContext(target={self._target!r}, session_id={self._session_id!r}, source={self._source!r})"
