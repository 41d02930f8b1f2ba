"""Trace context for the calls a session makes: the server's span of each call joins the
caller's trace.

With OpenTelemetry installed (``opentelemetry-api``), the current context is injected with
its registered propagator (W3C ``traceparent`` by default), as the TypeScript client does.
Without it, :func:`set_traceparent_provider` takes a function that returns the
``traceparent`` to send (or ``None``), for applications that carry trace context their own way.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

try:  # pragma: no cover - depends on what is installed
    from opentelemetry import propagate as _propagate
except ImportError:  # pragma: no cover
    _propagate = None

_log = logging.getLogger("statebridge")

_provider: Optional[Callable[[], Optional[str]]] = None


def set_traceparent_provider(provider: Optional[Callable[[], Optional[str]]]) -> None:
    """Sets the function asked for a ``traceparent`` before each call and each watch
    (re)connection; ``None`` removes it. It wins over OpenTelemetry's propagator. A value
    that is not a string, or a provider that raises, sends nothing (the call goes on)."""
    global _provider
    if provider is not None and not callable(provider):
        raise TypeError(f"the traceparent provider must be callable or None, got {provider!r}")
    _provider = provider


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """The metadata that carries the current trace context: empty when there is none."""
    provider = _provider
    if provider is not None:
        try:
            traceparent = provider()
        except Exception:  # a tracing hook must not break the call
            _log.warning("the traceparent provider raised: the call is sent without one", exc_info=True)
            return ()
        return (("traceparent", traceparent),) if isinstance(traceparent, str) and traceparent else ()
    if _propagate is None:
        return ()
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    return tuple((key, value) for key, value in carrier.items() if isinstance(value, str))
