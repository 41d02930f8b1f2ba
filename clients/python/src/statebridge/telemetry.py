"""Telemetry of the Python client: one :class:`OperationEvent` per operation of a session
context, with the fields the TypeScript providers publish on ``statebridge:operation``.

Each event goes to the listeners added with :func:`add_listener`, and to the ``statebridge``
logger as one ``DEBUG`` record (its ``statebridge_event`` attribute holds the event)::

    import statebridge.telemetry

    statebridge.telemetry.add_listener(lambda event: print(event.operation, event.duration_ms))

With no listener and ``DEBUG`` off for ``statebridge``, an operation is not timed and builds
nothing. A listener that raises is logged and changes nothing for the call or the other
listeners. An operation made by another one (``set_variable`` reading the variable's type
first) is part of it: one call, one event.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal, Optional, TypeVar

__all__ = ["OperationEvent", "add_listener", "remove_listener"]

_log = logging.getLogger("statebridge")
_listeners: tuple[Callable[["OperationEvent"], None], ...] = ()
# Set while an operation runs, so that the operations it makes publish nothing of their own.
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("statebridge_operation", default=False)

Result = TypeVar("Result")


@dataclass(frozen=True)
class OperationEvent:
    """One finished operation of a :class:`~statebridge.SessionContext` or
    :class:`~statebridge.AsyncSessionContext`."""

    #: Always ``"bridged"``: the Python client works on a bridge-server session.
    provider: str
    #: The method called: ``get_variable``, ``set_variable``, ``update_variables``…
    operation: str
    session_id: str
    #: Wall time from the call to its return or raise, in milliseconds.
    duration_ms: float
    outcome: Literal["ok", "error"]
    #: The StateError code of a failure (``None`` on success or for another exception).
    error_code: Optional[str]


def add_listener(listener: Callable[[OperationEvent], None]) -> Callable[[], None]:
    """Calls ``listener`` with every :class:`OperationEvent` of every session context, on the
    thread (or in the event loop) that ran the operation. Returns a function that removes it."""
    global _listeners
    if not callable(listener):
        raise TypeError(f"a telemetry listener must be callable, got {listener!r}")
    _listeners = (*_listeners, listener)
    return lambda: remove_listener(listener)


def remove_listener(listener: Callable[[OperationEvent], None]) -> None:
    """Removes a listener added with :func:`add_listener`; a listener not added is ignored."""
    global _listeners
    remaining = list(_listeners)
    if listener in remaining:
        remaining.remove(listener)
    _listeners = tuple(remaining)


def _publish(context: Any, operation: str, started: float, error: Optional[BaseException]) -> None:
    code = getattr(error, "code", None) if error is not None else None
    event = OperationEvent(
        provider="bridged",
        operation=operation,
        session_id=context.session_id,
        duration_ms=(time.perf_counter() - started) * 1000,
        outcome="ok" if error is None else "error",
        error_code=code if isinstance(code, str) else None,
    )
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug(
            "%s %s on session %s in %.3f ms%s",
            event.operation,
            event.outcome,
            event.session_id,
            event.duration_ms,
            "" if event.error_code is None else f" ({event.error_code})",
            extra={"statebridge_event": event},
        )
    # What a listener itself calls is not published: a listener that reads a variable would
    # otherwise be told of its own read, without end.
    token = _inside.set(True)
    try:
        for listener in _listeners:
            try:
                listener(event)
            except Exception:  # a telemetry hook must not break the call it reports
                _log.exception("a telemetry listener raised; the operation is not affected")
    finally:
        _inside.reset(token)


def _wanted() -> bool:
    return (bool(_listeners) or _log.isEnabledFor(logging.DEBUG)) and not _inside.get()


def traced(operation: str) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Publishes each call of a blocking method of a session context as ``operation``."""

    def decorate(method: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Result:
            if not _wanted():
                return method(self, *args, **kwargs)
            started = time.perf_counter()
            token = _inside.set(True)
            try:
                result = method(self, *args, **kwargs)
            except BaseException as error:
                _inside.reset(token)
                _publish(self, operation, started, error)
                raise
            _inside.reset(token)
            _publish(self, operation, started, None)
            return result

        return wrapper

    return decorate


def traced_async(operation: str) -> Callable[[Callable[..., Awaitable[Result]]], Callable[..., Awaitable[Result]]]:
    """Publishes each call of a coroutine method of a session context as ``operation``."""

    def decorate(method: Callable[..., Awaitable[Result]]) -> Callable[..., Awaitable[Result]]:
        @functools.wraps(method)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Result:
            if not _wanted():
                return await method(self, *args, **kwargs)
            started = time.perf_counter()
            token = _inside.set(True)
            try:
                result = await method(self, *args, **kwargs)
            except BaseException as error:
                _inside.reset(token)
                _publish(self, operation, started, error)
                raise
            _inside.reset(token)
            _publish(self, operation, started, None)
            return result

        return wrapper

    return decorate
