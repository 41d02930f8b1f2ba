"""A context's channel, replaced by a new one when its connection is found dead.

grpc keeps using a connection it believes alive until keepalive gives up on it (25 s at the
least), and a channel whose connection attempts failed answers new calls from its backoff
state. A new channel, with a subchannel pool of its own, connects at once. So a call or a watch
that finds the connection dead (a silent watch stream, a deadline, an ``unavailable`` the
server did not send) replaces the channel; calls still running on the old one keep it until
they end, for up to ``grace`` seconds, and then it is closed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar, Union

import grpc

from ._proto.statebridge.v1 import statebridge_pb2_grpc as pb_grpc
from .errors import StateError

Channel = TypeVar("Channel")


class ReplaceableChannel(Generic[Channel]):
    """The bookkeeping of a channel that is replaced when it fails: which one is current, and
    its generation, so that a failure seen on a channel already replaced replaces nothing."""

    def __init__(self, open_channel: Callable[[], Channel], grace: float) -> None:
        self._open_channel = open_channel
        self._grace = grace
        self._lock = threading.Lock()
        self._channel: Optional[Channel] = None
        self._stub: Any = None
        self._generation = 0
        self._closed = False
        #: How many times the channel was replaced.
        self.replacements = 0

    def current(self) -> tuple[int, Any]:
        """The current channel's generation and a stub on it; opens the channel if needed.

        Raises:
            StateError: ``closed`` once :meth:`close` was called.
        """
        with self._lock:
            if self._closed:
                raise StateError("closed", "the channel is closed")
            if self._channel is None:
                self._channel = self._open_channel()
                self._stub = pb_grpc.BridgeServiceStub(self._channel)
            return self._generation, self._stub

    def replace(self, generation: int) -> None:
        """Drops the channel of ``generation`` if it is still the current one: the next call
        opens a new channel, and the old one is closed after the grace period."""
        with self._lock:
            if self._closed or generation != self._generation or self._channel is None:
                return
            old, self._channel, self._stub = self._channel, None, None
            self._generation += 1
            self.replacements += 1
        self._retire(old, self._grace)

    def _take_all(self) -> Optional[Channel]:
        with self._lock:
            self._closed = True
            channel, self._channel, self._stub = self._channel, None, None
        return channel

    def _retire(self, channel: Channel, grace: float) -> None:
        raise NotImplementedError


class ReplaceableSyncChannel(ReplaceableChannel[grpc.Channel]):
    """A blocking grpc channel, replaced when it fails; retired channels close on a timer."""

    def __init__(self, open_channel: Callable[[], grpc.Channel], grace: float) -> None:
        super().__init__(open_channel, grace)
        self._timers: set[threading.Timer] = set()
        self._retired: set[grpc.Channel] = set()

    def _retire(self, channel: grpc.Channel, grace: float) -> None:
        def close_it() -> None:
            with self._lock:
                self._retired.discard(channel)
                self._timers.discard(timer)
            channel.close()

        timer = threading.Timer(grace, close_it)
        timer.daemon = True
        with self._lock:
            if self._closed:
                closing_now = True
            else:
                closing_now = False
                self._retired.add(channel)
                self._timers.add(timer)
        if closing_now:
            channel.close()
        else:
            timer.start()

    def close(self) -> None:
        """Closes the current channel and every retired one now; idempotent."""
        channel = self._take_all()
        with self._lock:
            timers, self._timers = self._timers, set()
            retired, self._retired = self._retired, set()
        for timer in timers:
            timer.cancel()
        for old in [*retired, *([channel] if channel is not None else [])]:
            old.close()


@dataclass(frozen=True)
class TlsSettings:
    """What a TLS channel trusts and presents, PEM: ``None`` takes grpc's default (the system's
    root certificates; no client certificate)."""

    root_certificates: Optional[bytes] = None
    private_key: Optional[bytes] = None
    certificate_chain: Optional[bytes] = None

    def credentials(self) -> grpc.ChannelCredentials:
        """The credentials of a blocking or a grpc.aio secure channel."""
        return grpc.ssl_channel_credentials(self.root_certificates, self.private_key, self.certificate_chain)


def _pem(value: Union[str, bytes, None], name: str) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("ascii", "replace")
    if not isinstance(value, (bytes, bytearray)):
        raise StateError("invalid_value", f"{name} must be PEM text (str or bytes), got {type(value).__name__}")
    if b"-----BEGIN " not in value:
        raise StateError("invalid_value", f"{name} is not PEM: it has no -----BEGIN line (pass the file's contents, not its path)")
    return bytes(value)


def tls_settings(
    target: str,
    https: bool,
    root_certificates: Union[str, bytes, None] = None,
    private_key: Union[str, bytes, None] = None,
    certificate_chain: Union[str, bytes, None] = None,
) -> Optional[TlsSettings]:
    """The TLS of a context's channels: ``None`` for cleartext. An ``https://`` target, or any
    certificate given with a bare ``host:port``, means TLS.

    Raises:
        StateError: ``invalid_value`` for certificates with an ``http://`` target, a private key
            without its certificate chain (or the reverse), or text that is not PEM.
    """
    settings = TlsSettings(
        _pem(root_certificates, "root_certificates"),
        _pem(private_key, "private_key"),
        _pem(certificate_chain, "certificate_chain"),
    )
    if (settings.private_key is None) != (settings.certificate_chain is None):
        missing = "private_key" if settings.private_key is None else "certificate_chain"
        raise StateError("invalid_value", f"private_key and certificate_chain go together: {missing} is missing")
    if settings == TlsSettings():
        return settings if https else None
    if target.strip().startswith("http://"):
        raise StateError("invalid_value", f"certificates are for TLS: use an https:// target, not {target!r}")
    return settings


def channel_credentials(secure: Union[bool, TlsSettings, None]) -> Optional[grpc.ChannelCredentials]:
    """The credentials of a channel: ``None`` for cleartext (``False`` or ``None``), the system's
    roots for ``True``, or the given :class:`TlsSettings`."""
    if isinstance(secure, TlsSettings):
        return secure.credentials()
    return grpc.ssl_channel_credentials() if secure else None


def open_sync_channel(address: str, secure: Union[bool, TlsSettings, None], options: Any) -> grpc.Channel:
    """Opens a blocking channel to the server with the context's options, over TLS when ``secure``."""
    credentials = channel_credentials(secure)
    if credentials is not None:
        return grpc.secure_channel(address, credentials, options=options)
    return grpc.insecure_channel(address, options=options)
