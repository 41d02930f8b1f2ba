"""Translation of gRPC failures into StateError: the client's one seam between the two."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .errors import STATE_ERROR_CODES, Failure, StateError

#: The trailer that carries the exact statebridge error code.
ERROR_CODE_TRAILER = "statebridge-error-code"
#: The trailer that carries the serialized google.rpc.Status with its details.
STATUS_DETAILS_TRAILER = "grpc-status-details-bin"

_ERROR_DETAIL_TYPE = "statebridge.v1.ErrorDetail"


def _build_status_class() -> Any:
    """Builds a message class with google.rpc.Status's wire shape (code=1, message=2, repeated
    Any details=3) in a private descriptor pool, so that decoding the status details needs no
    googleapis package and cannot clash with one that is installed."""
    file = descriptor_pb2.FileDescriptorProto(
        name="statebridge_python/rpc_status_mirror.proto",
        package="statebridge_python.mirror",
        syntax="proto3",
    )
    any_message = file.message_type.add(name="Any")
    any_message.field.add(name="type_url", number=1, type=9, label=1)  # string
    any_message.field.add(name="value", number=2, type=12, label=1)  # bytes
    status = file.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=5, label=1)  # int32
    status.field.add(name="message", number=2, type=9, label=1)  # string
    status.field.add(
        name="details",
        number=3,
        type=11,  # message
        label=3,  # repeated
        type_name=".statebridge_python.mirror.Any",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("statebridge_python.mirror.Status")
    get_message_class = getattr(message_factory, "GetMessageClass", None)
    if get_message_class is not None:
        return get_message_class(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


_Status = _build_status_class()

# The code a gRPC status means when neither the trailer nor the details say better, as in the
# proto's table; several codes share one status, so this is only a fallback.
_CODE_OF_STATUS = {
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.ALREADY_EXISTS: "already_exists",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_value",
    grpc.StatusCode.OUT_OF_RANGE: "constraint_violation",
    grpc.StatusCode.ABORTED: "version_conflict",
    grpc.StatusCode.FAILED_PRECONDITION: "partial_failure",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "resource_exhausted",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.CANCELLED: "closed",
}


def decode_error_detail(status_details: bytes) -> Optional[Any]:
    """Finds the statebridge ErrorDetail in a serialized google.rpc.Status, if there is one."""
    try:
        status = _Status.FromString(status_details)
    except Exception:  # a malformed trailer must not hide the error it came with
        return None
    for detail in status.details:
        if detail.type_url.rsplit("/", 1)[-1] == _ERROR_DETAIL_TYPE:
            try:
                return pb.ErrorDetail.FromString(detail.value)
            except Exception:
                return None
    return None


def _trailers(error: grpc.RpcError) -> Iterable[tuple[str, Any]]:
    trailing = getattr(error, "trailing_metadata", None)
    if trailing is None:
        return ()
    try:
        metadata = trailing()
    except Exception:
        return ()
    return tuple((key, value) for key, value in (metadata or ()))


def connection_failed(error: grpc.RpcError) -> bool:
    """Whether a failed call says its connection may be dead: grpc's own ``unavailable`` or a
    deadline, with no statebridge code (which only a server that was reached sends)."""
    status_code = error.code() if hasattr(error, "code") else None
    if status_code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return False
    return not any(key in (ERROR_CODE_TRAILER, STATUS_DETAILS_TRAILER) for key, _ in _trailers(error))


def state_error_from_rpc(error: grpc.RpcError, target: str) -> StateError:
    """Translates a failed call into a StateError: the code comes from the
    ``statebridge-error-code`` trailer, else from the ErrorDetail in the status details, else
    from the gRPC status. ``partial_failure`` carries its failures and applied versions."""
    status_code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details_text = error.details() if hasattr(error, "details") else None
    trailer_code: Optional[str] = None
    detail = None
    for key, value in _trailers(error):
        if key == ERROR_CODE_TRAILER and trailer_code is None:
            trailer_code = value.decode() if isinstance(value, bytes) else str(value)
        elif key == STATUS_DETAILS_TRAILER and detail is None and isinstance(value, bytes):
            detail = decode_error_detail(value)

    code: Optional[str] = None
    if trailer_code in STATE_ERROR_CODES:
        code = trailer_code
    elif detail is not None and detail.code in STATE_ERROR_CODES:
        code = detail.code
    else:
        # UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN…: the server could not be relied on.
        code = _CODE_OF_STATUS.get(status_code, "unavailable")

    message = (detail.message if detail is not None and detail.message else None) or details_text or ""
    if code == "unavailable" and trailer_code is None and detail is None:
        reason = details_text or status_code.name
        message = f"the bridge-server at {target} could not be reached or failed ({status_code.name}): {reason}"
    failures: dict[str, Failure] = {}
    applied: dict[str, int] = {}
    revision: Optional[int] = None
    if detail is not None and code == "partial_failure":
        for failure in detail.failures:
            failures[failure.identifier] = Failure(code=failure.code, message=failure.message)
        applied = {key: int(value) for key, value in detail.applied.items()}
        revision = int(detail.revision)
    return StateError(code, message, failures=failures, applied=applied, revision=revision)
