"""Listing the sessions a bridge-server holds (ListSessions: the inspector's RPC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import grpc

from ._channel import open_sync_channel
from ._core import channel_options, parse_target
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from ._proto.statebridge.v1 import statebridge_pb2_grpc as pb_grpc
from ._status import state_error_from_rpc
from .errors import StateError
from .models import SessionInfo, session_from_wire

#: The most sessions one page holds; a larger ``page_size`` is served as this many.
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class SessionPage:
    """One page of :func:`list_sessions`: sessions in id order."""

    sessions: list[SessionInfo]
    #: Pass as ``page_token`` for the next page; empty on the last page.
    next_page_token: str = ""


def list_sessions(
    target: str,
    token: Optional[str] = None,
    *,
    page_size: int = 0,
    page_token: str = "",
    prefix: str = "",
    timeout: Optional[float] = 5.0,
) -> SessionPage:
    """Lists the sessions the server at ``target`` holds, one page per call.

    ``page_size`` 0 means the server's default (100); ``prefix`` keeps only ids that start with
    it. The server answers only when it runs with ``--inspector``; otherwise this raises
    ``StateError`` with code ``not_found``. A missing or wrong token raises ``unauthenticated``,
    a server that cannot be reached ``unavailable``.
    """
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 0:
        raise StateError("invalid_value", f"page_size must be a whole number, 0 or more, got {page_size!r}")
    if not isinstance(page_token, str) or not isinstance(prefix, str):
        raise StateError("invalid_value", "page_token and prefix must be strings")
    address, secure = parse_target(target)
    channel = open_sync_channel(address, secure, channel_options(64 * 1024 * 1024, 4 * 1024 * 1024))
    try:
        stub = pb_grpc.BridgeServiceStub(channel)
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        try:
            response = stub.ListSessions(
                pb.ListSessionsRequest(page_size=min(page_size, MAX_PAGE_SIZE), page_token=page_token, prefix=prefix),
                timeout=timeout,
                metadata=metadata,
            )
        except grpc.RpcError as rpc_error:
            raise state_error_from_rpc(rpc_error, target) from None
        return SessionPage(
            sessions=[session_from_wire(session) for session in response.sessions],
            next_page_token=response.next_page_token,
        )
    finally:
        channel.close()
