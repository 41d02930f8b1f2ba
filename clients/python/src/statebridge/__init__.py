"""statebridge: typed, versioned, session-scoped variables shared with TypeScript over a
bridge-server.

    from statebridge import SessionContext

    with SessionContext("127.0.0.1:50051", "session-1") as ctx:
        ctx.register_variable("temperature", "float", 0.7, constraints={"min": 0, "max": 2})
        ctx["temperature"] = 0.9
        for event in ctx.watch_variables(["temperature"]):
            print(event.name, event.new_value, event.source)
"""

from .async_session import AsyncSessionContext
from .errors import STATE_ERROR_CODES, Failure, StateError
from .models import Capabilities, SessionInfo, Variable, WatchEvent
from .session import SessionContext
from .sessions import SessionPage, list_sessions
from .tracing import set_traceparent_provider
from .values import VARIABLE_TYPES, Tensor
from .watch import AsyncWatch, ReconnectPolicy, Watch, WatchStatus

__version__ = "0.1.0"

__all__ = [
    "AsyncSessionContext",
    "AsyncWatch",
    "Capabilities",
    "Failure",
    "ReconnectPolicy",
    "STATE_ERROR_CODES",
    "SessionContext",
    "SessionInfo",
    "SessionPage",
    "StateError",
    "Tensor",
    "VARIABLE_TYPES",
    "Variable",
    "Watch",
    "WatchEvent",
    "WatchStatus",
    "__version__",
    "list_sessions",
    "set_traceparent_provider",
]
