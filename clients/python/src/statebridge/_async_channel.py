"""grpc.aio channels, created inside a running event loop, and replaced when they fail (see
``_channel``)."""

from __future__ import annotations

import asyncio
from typing import Any, Sequence, Union

import grpc
import grpc.aio

from ._channel import ReplaceableChannel, TlsSettings, channel_credentials


def open_async_channel(
    address: str, secure: Union[bool, TlsSettings, None], options: Sequence[tuple[str, Any]]
) -> grpc.aio.Channel:
    """Opens a grpc.aio channel to the server with the context's channel ``options``, over TLS when ``secure``."""
    credentials = channel_credentials(secure)
    if credentials is not None:
        return grpc.aio.secure_channel(address, credentials, options=options)
    return grpc.aio.insecure_channel(address, options=options)


class ReplaceableAsyncChannel(ReplaceableChannel[grpc.aio.Channel]):
    """A grpc.aio channel, replaced when it fails; a retired channel gets the grace period to
    finish its calls (``channel.close(grace)``). Use it from its event loop only."""

    def __init__(
        self, address: str, secure: Union[bool, TlsSettings, None], options: Sequence[tuple[str, Any]], grace: float
    ) -> None:
        super().__init__(lambda: open_async_channel(address, secure, options), grace)
        self._closing: dict[asyncio.Task[None], grpc.aio.Channel] = {}

    def _retire(self, channel: grpc.aio.Channel, grace: float) -> None:
        task = asyncio.get_running_loop().create_task(channel.close(grace))
        self._closing[task] = channel
        task.add_done_callback(lambda done: self._closing.pop(done, None))

    async def close(self) -> None:
        """Closes the current channel and every retired one now; idempotent."""
        channel = self._take_all()
        closing, self._closing = dict(self._closing), {}
        for task in closing:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        for old in [*closing.values(), *([channel] if channel is not None else [])]:
            await old.close()
