"""Conversion of Python values to and from the wire's ``statebridge.v1.Value``.

Embeddings and tensor data cross the wire as packed little-endian IEEE 754 doubles, the one
format every language uses; they are packed and unpacked with ``array('d')`` in one C loop, so
a 1,000,000-element tensor converts in milliseconds and exactly (NaN, ±Infinity and -0.0
included).

Nothing here judges a value against its type, its constraints or the server's limits: the
server is the one judge, so that every client gets the same answer with the same code. In
particular ``pattern`` constraints are never evaluated in Python (``re`` backtracks, and no
RE2 binding is at hand): the server runs them in linear time and refuses, with
``invalid_value`` at register, the constructs that need backtracking (backreferences,
lookaround). Identifier lengths and tensor ranks are bounded there too.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Iterable, Mapping, Optional

from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .errors import StateError

#: The eight variable types.
VARIABLE_TYPES = ("float", "integer", "string", "boolean", "choice", "module", "embedding", "tensor")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_BIG_ENDIAN = sys.byteorder == "big"
_PLAIN_NUMBERS = frozenset((float, int))


@dataclass
class Tensor:
    """A tensor in row-major order: ``len(data)`` equals the product of ``shape``.

    A plain mapping ``{"shape": [...], "data": [...]}`` is accepted wherever a Tensor is.
    """

    shape: list[int]
    data: list[float] = field(repr=False)

    def to_dict(self) -> dict[str, list]:
        """The tensor as ``{"shape": [...], "data": [...]}``, the TypeScript providers' shape."""
        return {"shape": list(self.shape), "data": list(self.data)}

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape!r}, data=<{len(self.data)} doubles>)"


def pack_doubles(values: Any, label: str = "value", what: str = "embedding") -> bytes:
    """Packs numbers as little-endian doubles.

    Accepts ``array('d')``, any object exposing a contiguous buffer of doubles (a float64
    NumPy array, a ``memoryview``), and any iterable of real numbers. Booleans and non-numbers
    are refused, as every other client refuses them.

    Raises:
        StateError: ``invalid_value`` naming the offending element.
    """
    packed: Optional[array] = None
    if isinstance(values, array) and values.typecode == "d":
        packed = values
    elif not isinstance(values, (list, tuple)):
        try:
            view = memoryview(values)
        except TypeError:
            view = None
        if view is not None and view.format == "d" and view.c_contiguous:
            packed = array("d")
            packed.frombytes(view.cast("B"))
    if packed is None:
        sequence = values if isinstance(values, (list, tuple)) else _as_list(values, label, what)
        # array('d') would take booleans as 0/1 and refuse other kinds with a bare TypeError.
        # Collecting the element types runs in C; the element-by-element check runs only when
        # something other than float and int is present.
        if not set(map(type, sequence)) <= _PLAIN_NUMBERS:
            for index, element in enumerate(sequence):
                if isinstance(element, bool) or not isinstance(element, Real):
                    raise StateError(
                        "invalid_value",
                        f"{_quote(label)}: {what} element {index} is {_describe(element)}, not a number",
                    )
        packed = array("d", sequence)
    if _BIG_ENDIAN:
        packed = array("d", packed)
        packed.byteswap()
    return packed.tobytes()


def unpack_doubles(data: bytes, label: str = "value", what: str = "embedding") -> list[float]:
    """Unpacks little-endian doubles into a list of floats.

    Raises:
        StateError: ``invalid_value`` if the length is not a multiple of 8.
    """
    if len(data) % 8 != 0:
        raise StateError("invalid_value", f"{_quote(label)}: {what} bytes are not whole 8-byte doubles")
    unpacked = array("d")
    unpacked.frombytes(data)
    if _BIG_ENDIAN:
        unpacked.byteswap()
    return unpacked.tolist()


def _as_list(values: Any, label: str, what: str) -> list:
    if isinstance(values, (str, bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise StateError("invalid_value", f"{_quote(label)} needs a {what} (a list of numbers), got {_describe(values)}")
    return list(values)


def is_tensor_like(value: Any) -> bool:
    """Tells whether a value is a Tensor or a mapping with ``shape`` and ``data``."""
    return isinstance(value, Tensor) or (isinstance(value, Mapping) and "shape" in value and "data" in value)


def encode_value(value: Any, type_hint: Optional[str] = None, label: str = "value") -> pb.Value:
    """Encodes a Python value in the wire field its kind calls for.

    ``bool`` goes as boolean (never as an integer), ``int`` as integer (as float when the
    variable is known to be a float: integers become floats there), ``float`` as float, ``str``
    as string (as choice or module for those types), a list or buffer of numbers as an
    embedding, a :class:`Tensor` or ``{"shape", "data"}`` mapping as a tensor, and ``None`` as an
    empty value. The value is not validated against its type here: the server does that, so
    that every client is refused the same inputs with the same codes.

    Raises:
        StateError: ``invalid_value`` for a value no field can carry (an integer beyond 64
            bits, a non-number in an array, an object of another kind).
    """
    if value is None:
        return pb.Value()
    if isinstance(value, bool):
        return pb.Value(boolean_value=value)
    if isinstance(value, Integral):
        number = int(value)
        if type_hint == "float":
            try:
                return pb.Value(float_value=float(number))
            except OverflowError:
                raise StateError("invalid_value", f"{_quote(label)} = {number} is too large for a float") from None
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise StateError(
                "invalid_value",
                f"{_quote(label)} = {number} is outside the safe integer range ±(2^53−1)",
            )
        return pb.Value(integer_value=number)
    if isinstance(value, Real):
        return pb.Value(float_value=float(value))
    if isinstance(value, str):
        if type_hint == "choice":
            return pb.Value(choice_value=value)
        if type_hint == "module":
            return pb.Value(module_value=value)
        return pb.Value(string_value=value)
    if is_tensor_like(value):
        return pb.Value(tensor_value=_encode_tensor(value, label))
    if isinstance(value, (bytes, bytearray, Mapping)):
        raise StateError("invalid_value", f"{_quote(label)} cannot be sent: {_describe(value)} is not a statebridge value")
    if isinstance(value, (list, tuple, array, memoryview)) or hasattr(value, "__array__"):
        return pb.Value(embedding_value=pack_doubles(value, label, "embedding"))
    raise StateError("invalid_value", f"{_quote(label)} cannot be sent: {_describe(value)} is not a statebridge value")


def _encode_tensor(value: Any, label: str) -> pb.TensorValue:
    shape = value.shape if isinstance(value, Tensor) else value["shape"]
    data = value.data if isinstance(value, Tensor) else value["data"]
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise StateError("invalid_value", f"{_quote(label)}: a tensor needs shape, a list of integers")
    dimensions = list(shape)
    for dimension in dimensions:
        if isinstance(dimension, bool) or not isinstance(dimension, Integral):
            raise StateError(
                "invalid_value",
                f"{_quote(label)}: tensor shape must hold non-negative integers, got {_describe(dimension)}",
            )
        if not _INT64_MIN <= int(dimension) <= _INT64_MAX:
            raise StateError("invalid_value", f"{_quote(label)}: tensor dimension {dimension} is out of range")
    return pb.TensorValue(shape=[int(dimension) for dimension in dimensions], data=pack_doubles(data, label, "tensor data"))


def decode_value(value: Optional[pb.Value], label: str = "value") -> Any:
    """Decodes a wire value: floats, ints, strings and bools as themselves, an embedding as a
    list of floats, a tensor as a :class:`Tensor`; an empty value as ``None``."""
    if value is None:
        return None
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "embedding_value":
        return unpack_doubles(value.embedding_value, label, "embedding")
    if kind == "tensor_value":
        tensor = value.tensor_value
        return Tensor(shape=[int(dimension) for dimension in tensor.shape], data=unpack_doubles(tensor.data, label, "tensor data"))
    if kind == "integer_value":
        return int(value.integer_value)
    return getattr(value, kind)


def _quote(label: str) -> str:
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"str {value[:40]!r}"
    return f"a {type(value).__name__}"
