"""grpc.aio channels, created inside a running event loop."""

from __future__ import annotations

from typing import Any, Sequence

import grpc
import grpc.aio

from ._proto.statebridge.v1 import statebridge_pb2_grpc as pb_grpc


def open_async_stream_channel(
    address: str, secure: bool, options: Sequence[tuple[str, Any]]
) -> tuple[Any, pb_grpc.BridgeServiceStub]:
    """Opens a grpc.aio channel to the server, with the context's channel ``options``, and a stub on it."""
    if secure:
        channel = grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(), options=options)
    else:
        channel = grpc.aio.insecure_channel(address, options=options)
    return channel, pb_grpc.BridgeServiceStub(channel)
