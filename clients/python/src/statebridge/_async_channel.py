"""grpc.aio channels, created inside a running event loop."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio

from ._core import CHANNEL_OPTIONS
from ._proto.statebridge.v1 import statebridge_pb2_grpc as pb_grpc


def open_async_stream_channel(address: str, secure: bool) -> tuple[Any, pb_grpc.BridgeServiceStub]:
    """Opens a grpc.aio channel to the server and a stub on it."""
    if secure:
        channel = grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(), options=CHANNEL_OPTIONS)
    else:
        channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    return channel, pb_grpc.BridgeServiceStub(channel)
