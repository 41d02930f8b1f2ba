"""The near cache of a SessionContext (``cache=True``): the variables it reads, kept current by a
watch each (on a daemon thread), so that reading them again never leaves the process.

The same rules as TypeScript's ``near-cache.ts``: an entry is served only once its watch
delivered the initial value and until the watch is interrupted (reconnecting, gave up, ended),
resynced or the variable deleted; every value seen (a server read, a watch event) moves an entry
forward only, by version of the same variable id, so reads are monotonic; the context's own
writes set a floor below which nothing is served (read-your-writes); ``session_expired`` drops
everything.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
from typing import Any, Callable, Iterator, Optional

from ._cursor import WatchStatus
from ._proto.statebridge.v1 import statebridge_pb2 as pb
from .errors import StateError
from .models import Variable, WatchEvent

#: The default bound of a cache: past it the least recently read variable goes.
DEFAULT_CACHE_MAX_ENTRIES = 1_000

#: Opens a started watch of one variable id, with initial values, telling ``on_status``.
OpenWatch = Callable[[str, Callable[[WatchStatus], None]], Any]


class _Entry:
    __slots__ = ("variable", "keys", "live", "floor", "watch", "dropped")

    def __init__(self, variable: Variable) -> None:
        self.variable = variable
        self.keys = (variable.id, variable.name)
        self.live = False
        self.floor = 0
        self.watch: Any = None
        self.dropped = False


class NearCache:
    """See the module's docstring. Thread-safe: reads take no lock past a dictionary lookup."""

    def __init__(self, open_watch: OpenWatch, max_entries: int, on_watch_error: Callable[[StateError], None]) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise StateError("invalid_value", f"cache_max_entries must be a positive integer, got {max_entries!r}")
        self._open_watch = open_watch
        self._max_entries = max_entries
        self._on_watch_error = on_watch_error
        self._by_id: "collections.OrderedDict[str, _Entry]" = collections.OrderedDict()
        self._by_key: dict[str, _Entry] = {}
        self._lock = threading.RLock()
        self._most_recent: Optional[_Entry] = None
        self._closed = False

    def lookup(self, identifier: str) -> Optional[Variable]:
        """The cached variable, if it may be served now."""
        entry = self._by_key.get(identifier)
        if entry is None or not entry.live or entry.variable.version < entry.floor:
            return None
        if entry is not self._most_recent:
            with self._lock:
                if not entry.dropped:
                    self._by_id.move_to_end(entry.variable.id)
                    self._most_recent = entry
        return entry.variable

    def observe(self, variable: Variable) -> None:
        """Takes in a variable read from the server, and starts following it if it is new."""
        with self._lock:
            if self._closed:
                return
            existing = self._by_id.get(variable.id)
            if existing is not None:
                if variable.version > existing.variable.version:
                    existing.variable = variable
                return
            stale = self._by_key.get(variable.name)
            if stale is not None:
                # The name now belongs to another id: the variable was deleted and registered again.
                self._drop(stale)
            entry = _Entry(variable)
            self._by_id[variable.id] = entry
            for key in entry.keys:
                self._by_key[key] = entry
            while len(self._by_id) > self._max_entries:
                self._drop(next(iter(self._by_id.values())))
        threading.Thread(target=self._follow, args=(entry,), name=f"statebridge-cache-{variable.id}", daemon=True).start()

    def wrote(self, identifier: str, version: int) -> None:
        """This context wrote ``identifier``, which now has ``version``: never serve older."""
        entry = self._by_key.get(identifier)
        if entry is not None and version > entry.floor:
            entry.floor = version

    def forget(self, identifier: str) -> None:
        """Drops what is cached under ``identifier`` (a name or an id) and closes its watch."""
        with self._lock:
            entry = self._by_key.get(identifier)
            if entry is not None:
                self._drop(entry)

    def clear(self) -> None:
        with self._lock:
            for entry in list(self._by_id.values()):
                self._drop(entry)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.clear()

    def __len__(self) -> int:
        return len(self._by_id)

    def _drop(self, entry: _Entry) -> None:
        with self._lock:
            if entry.dropped:
                return
            entry.dropped = True
            entry.live = False
            if self._by_id.get(entry.variable.id) is entry:
                del self._by_id[entry.variable.id]
            for key in entry.keys:
                if self._by_key.get(key) is entry:
                    del self._by_key[key]
            if self._most_recent is entry:
                self._most_recent = None
            watch, entry.watch = entry.watch, None
        if watch is not None:
            watch.close()

    def _follow(self, entry: _Entry) -> None:
        def on_status(status: WatchStatus) -> None:
            # Interrupted: what the entry holds may be stale until the stream resumes.
            if status.kind != "connected":
                self._drop(entry)

        try:
            watch = self._open_watch(entry.variable.id, on_status)
        except StateError as error:
            self._drop(entry)
            self._ended(error)
            return
        except Exception:  # noqa: BLE001 - a watch that cannot open leaves reads to the server
            self._drop(entry)
            return
        with self._lock:
            if entry.dropped:
                watch.close()
                return
            entry.watch = watch
        try:
            for event in watch:
                if entry.dropped:
                    return
                self._apply(entry, event)
        except StateError as error:
            self._ended(error)
        except Exception:  # noqa: BLE001 - the entry goes; reads go to the server
            pass
        finally:
            self._drop(entry)

    def _apply(self, entry: _Entry, event: WatchEvent) -> None:
        if event.id != entry.variable.id:
            return
        if event.type not in ("initial", "value_change"):
            # A deletion ends the variable; a resync means changes were missed.
            self._drop(entry)
            return
        with self._lock:
            if event.version > entry.variable.version:
                entry.variable = dataclasses.replace(
                    entry.variable,
                    value=event.new_value,
                    version=event.version,
                    metadata=event.metadata,
                    updated_at=event.timestamp,
                    source=event.source,
                )
            if event.type == "initial":
                # The initial value proves the watch current: from now on it hears every change.
                entry.live = True

    def _ended(self, error: StateError) -> None:
        if error.code == "session_expired":
            self.clear()
        self._on_watch_error(error)


class CachedReads:
    """What a SessionContext needs for its near cache, kept here so that the context stays one
    file: the cache's watches, ``get_variables_info`` through the cache, and the bookkeeping of
    writes."""

    _cache: Optional[NearCache]
    #: Seconds between the heartbeats the cache's watches ask for: a watch silent for three of
    #: them is taken for broken, and its entry stops being served.
    _cache_heartbeat_interval = 5.0

    def _open_cache_watch(self, variable_id: str, on_status: Callable[[WatchStatus], None]) -> Any:
        return self.watch_variables(  # type: ignore[attr-defined]
            [variable_id],
            include_initial=True,
            heartbeat_interval=self._cache_heartbeat_interval,
            on_status=on_status,
        )

    def _cache_many(self, names: list[str], fresh: bool) -> dict[str, Variable]:
        """get_variables_info() from the cache if it may serve every identifier, else the server."""
        cache = self._cache
        assert cache is not None
        if not fresh and names:
            found = {}
            for identifier in names:
                cached = cache.lookup(identifier)
                if cached is None:
                    break
                found[identifier] = cached
            else:
                self._check_open()  # type: ignore[attr-defined]
                return found
        request = pb.GetVariablesRequest(session_id=self._session_id, identifiers=names)  # type: ignore[attr-defined]
        response = self._call("GetVariables", request, idempotent=True)  # type: ignore[attr-defined]
        variables = {
            identifier: self._remember(variable, identifier)  # type: ignore[attr-defined]
            for identifier, variable in response.variables.items()
        }
        for variable in variables.values():
            cache.observe(variable)
        return {identifier: variables[identifier] for identifier in names if identifier in variables}

    @contextlib.contextmanager
    def _writing(self, identifiers: list[str], always: bool = False) -> Iterator[None]:
        """A write of ``identifiers``: if it fails (it may still have applied, past a deadline),
        or ``always`` (a deletion), their cached entries go."""
        cache = self._cache
        try:
            yield
        except BaseException:
            for identifier in identifiers if cache is not None else ():
                cache.forget(identifier)  # type: ignore[union-attr]
            raise
        if always and cache is not None:
            for identifier in identifiers:
                cache.forget(identifier)
