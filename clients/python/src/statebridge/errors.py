"""The one error class of statebridge, with the same stable codes as the TypeScript providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

#: The stable error codes. Every backend, the bridge-server and this client report the same
#: code for the same failure.
STATE_ERROR_CODES = (
    "not_found",
    "already_exists",
    "invalid_type",
    "invalid_value",
    "constraint_violation",
    "version_conflict",
    "partial_failure",
    "invalid_export",
    "session_expired",
    "unavailable",
    "resource_exhausted",
    "unauthenticated",
    "closed",
)


@dataclass(frozen=True)
class Failure:
    """What went wrong with one identifier of a batch that failed in part."""

    #: The stable code of this identifier's failure, such as ``"constraint_violation"``.
    code: str
    #: A message naming the identifier and the value.
    message: str


class StateError(Exception):
    """The one error of statebridge.

    ``code`` is stable and meant for programs (one of :data:`STATE_ERROR_CODES`); the message
    is meant for people and names what was wrong and with what. For ``partial_failure``,
    ``failures`` maps each identifier that failed to a :class:`Failure`, ``applied`` maps each
    identifier that was applied anyway to its new version, and ``revision`` is the revision the
    applied part took. For every other code those are empty and ``revision`` is ``None``.
    """

    code: str
    message: str
    failures: dict[str, Failure]
    applied: dict[str, int]
    revision: Optional[int]

    def __init__(
        self,
        code: str,
        message: str,
        *,
        failures: Optional[Mapping[str, Failure]] = None,
        applied: Optional[Mapping[str, int]] = None,
        revision: Optional[int] = None,
    ) -> None:
        text = message if message.startswith(f"{code}:") else f"{code}: {message}"
        super().__init__(text)
        self.code = code
        self.message = text
        self.failures = dict(failures or {})
        self.applied = dict(applied or {})
        self.revision = revision

    @property
    def raw_message(self) -> str:
        """The message without its ``code: `` prefix."""
        prefix = f"{self.code}: "
        return self.message[len(prefix) :] if self.message.startswith(prefix) else self.message

    def __repr__(self) -> str:
        return f"StateError({self.code!r}, {self.raw_message!r})"

    def __reduce__(self):  # pickles (multiprocessing) with every field
        return (
            _rebuild,
            (self.code, self.message, self.failures, self.applied, self.revision),
        )


def _rebuild(code, message, failures, applied, revision):
    return StateError(code, message, failures=failures, applied=applied, revision=revision)
