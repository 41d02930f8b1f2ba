"""A SessionContext driven over stdin/stdout, for cross-language tests run by TypeScript.

Each request is one JSON line ``{"id", "operation", "arguments"}``; each answer is one line
``{"id", "value"}`` or ``{"id", "error": {"code", "message"}}``. A watch streams its events
as ``{"watch", "event"}`` lines and its end as ``{"watch", "error"}``.

Numbers JSON cannot carry travel tagged: ``{"$float": "NaN" | "Infinity" | "-Infinity" |
"-0" | "1"}`` is a float (so that TypeScript can ask for ``1.0`` rather than ``1``), and
``{"$int": "9007199254740993"}`` an integer beyond what a JavaScript number holds exactly.

Run with ``/usr/bin/python3 clients/python/tests/interop/peer.py`` and ``PYTHONPATH`` naming
``clients/python/src``.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
from typing import Any

from statebridge import SessionContext, StateError, Tensor, Variable, WatchEvent
from statebridge.values import pack_doubles

_output_lock = threading.Lock()


def send(message: dict) -> None:
    line = json.dumps(message, allow_nan=False, separators=(",", ":"))
    with _output_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def decode(value: Any) -> Any:
    """Tagged JSON → Python values."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$int"}:
            return int(value["$int"])
        return {key: decode(item) for key, item in value.items()}
    return value


def encode(value: Any) -> Any:
    """Python values → tagged JSON."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "NaN"}
        if math.isinf(value):
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        if value == 0 and math.copysign(1.0, value) < 0:
            return {"$float": "-0"}
        return value
    if isinstance(value, Tensor):
        return {"shape": value.shape, "data": encode(value.data)}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def variable_json(variable: Variable) -> dict:
    return {
        "id": variable.id,
        "name": variable.name,
        "type": variable.type,
        "value": encode(variable.value),
        "constraints": variable.constraints,
        "metadata": variable.metadata,
        "version": variable.version,
        "createdAt": variable.created_at,
        "updatedAt": variable.updated_at,
        "source": variable.source,
    }


def event_json(event: WatchEvent) -> dict:
    return {
        "type": event.type,
        "identifier": event.identifier,
        "id": event.id,
        "name": event.name,
        "variableType": event.variable_type,
        "oldValue": encode(event.old_value),
        "newValue": encode(event.new_value),
        "version": event.version,
        "revision": event.revision,
        "source": event.source,
        "metadata": event.metadata,
        "timestamp": event.timestamp,
    }


def generated_data(size: int) -> list[float]:
    """The data both languages generate for a large tensor: exact products, and the special
    values at the front."""
    data = [(index - size // 2) * 0.001 for index in range(size)]
    for index, special in enumerate((math.nan, math.inf, -math.inf, -0.0, 5e-324)):
        if index < size:
            data[index] = special
    return data


def digest(value: Any) -> dict:
    """The shape, length and SHA-256 of the packed little-endian doubles of a tensor or embedding."""
    if isinstance(value, Tensor):
        return {"shape": value.shape, "length": len(value.data), "sha256": hashlib.sha256(pack_doubles(value.data)).hexdigest()}
    return {"length": len(value), "sha256": hashlib.sha256(pack_doubles(value)).hexdigest()}


class Peer:
    def __init__(self) -> None:
        self.ctx: SessionContext | None = None
        self.watches: dict[str, Any] = {}
        self.next_watch = 0

    def context(self) -> SessionContext:
        if self.ctx is None:
            raise StateError("closed", "open first")
        return self.ctx

    def open(self, url: str, sessionId: str, token: str | None = None, source: str = "python") -> dict:
        self.ctx = SessionContext(url, sessionId, token=token, source=source)
        return {"created": self.ctx.created, "revision": self.ctx.session.revision}

    def register(self, name, type, initial, constraints=None, metadata=None, description=None) -> dict:
        variable = self.context().register_variable(name, type, decode(initial), decode(constraints), decode(metadata), description)
        return variable_json(variable)

    def get(self, identifier) -> Any:
        return encode(self.context().get_variable(identifier))

    def info(self, identifier) -> dict:
        return variable_json(self.context().get_variable_info(identifier))

    def getMany(self, identifiers) -> dict:
        return {key: encode(value) for key, value in self.context().get_variables(identifiers).items()}

    def set(self, identifier, value, metadata=None, expectedVersion=None) -> int:
        return self.context().set_variable(identifier, decode(value), decode(metadata), decode(expectedVersion))

    def updateMany(self, updates, atomic=False, metadata=None) -> dict:
        return self.context().update_variables({key: decode(value) for key, value in updates}, atomic, decode(metadata))

    def list(self, pattern=None) -> list:
        return [variable_json(variable) for variable in self.context().list_variables(pattern)]

    def delete(self, identifier) -> None:
        self.context().delete_variable(identifier)

    def incrementWithCas(self, identifier, times) -> dict:
        """Adds 1 to an integer ``times`` times, each a compare-and-set retried on conflict."""
        ctx = self.context()
        conflicts = 0
        done = 0
        while done < times:
            variable = ctx.get_variable_info(identifier)
            try:
                ctx.set_variable(identifier, variable.value + 1, expected_version=variable.version)
                done += 1
            except StateError as error:
                if error.code != "version_conflict":
                    raise
                conflicts += 1
        return {"conflicts": conflicts}

    def revision(self) -> int:
        return self.context().get_session().revision

    def registerGeneratedTensor(self, name, rows, columns) -> dict:
        tensor = Tensor([rows, columns], generated_data(rows * columns))
        self.context().register_variable(name, "tensor", tensor)
        return digest(tensor)

    def setGeneratedTensor(self, identifier, rows, columns) -> dict:
        tensor = Tensor([rows, columns], generated_data(rows * columns))
        self.context().set_variable(identifier, tensor)
        return digest(tensor)

    def digest(self, identifier) -> dict:
        return digest(self.context().get_variable(identifier))

    def watch(self, identifiers, includeInitial=False, fromRevision=None) -> dict:
        self.next_watch += 1
        watch_id = f"w{self.next_watch}"
        watch = self.context().watch_variables(identifiers, include_initial=includeInitial, from_revision=fromRevision)
        self.watches[watch_id] = watch

        def pump() -> None:
            try:
                for event in watch:
                    send({"watch": watch_id, "event": event_json(event)})
            except StateError as error:
                send({"watch": watch_id, "error": {"code": error.code, "message": str(error)}})

        threading.Thread(target=pump, daemon=True).start()
        return {"watchId": watch_id}

    def unwatch(self, watchId) -> None:
        watch = self.watches.pop(watchId, None)
        if watch is not None:
            watch.close()


def main() -> None:
    peer = Peer()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id = request.get("id")
        operation = request.get("operation")
        if operation == "close":
            if peer.ctx is not None:
                peer.ctx.close()
            send({"id": request_id, "value": None})
            return
        try:
            method = getattr(peer, operation, None)
            if method is None or operation.startswith("_") or operation in ("context",):
                raise StateError("invalid_value", f"unknown operation {operation!r}")
            value = method(**(request.get("arguments") or {}))
            send({"id": request_id, "value": value})
        except StateError as error:
            send({"id": request_id, "error": {"code": error.code, "message": str(error)}})
        except Exception as error:  # a defect of the peer itself: report it, keep serving
            send({"id": request_id, "error": {"code": "peer_error", "message": f"{type(error).__name__}: {error}"}})
    if peer.ctx is not None:
        peer.ctx.close()


if __name__ == "__main__":
    main()
