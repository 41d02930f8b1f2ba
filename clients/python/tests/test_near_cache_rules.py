"""The near cache's rules, driven event by event through a scripted watch, so that each
interleaving (a server read racing a watch event, a status between two reads) is the one the
test names. The cache against a real server is test_near_cache.py."""

from __future__ import annotations

import queue
import time
import unittest

from statebridge import StateError, Variable, WatchEvent
from statebridge._cache import NearCache
from statebridge._cursor import WatchStatus

_END = object()


class ScriptedWatch:
    def __init__(self, variable_id: str, on_status) -> None:
        self.variable_id = variable_id
        self.on_status = on_status
        self.events: "queue.Queue" = queue.Queue()
        self.closed = False

    def __iter__(self):
        while True:
            item = self.events.get()
            if item is _END:
                return
            if isinstance(item, StateError):
                raise item
            yield item

    def close(self) -> None:
        self.closed = True
        self.events.put(_END)


def variable(version: int, value: int, id: str = "var_1", name: str = "x") -> Variable:
    return Variable(id=id, name=name, type="integer", value=value, constraints={}, metadata={},
                    version=version, created_at=1, updated_at=1, source="test")


def event(type: str, version: int, value, id: str = "var_1") -> WatchEvent:
    return WatchEvent(type=type, identifier=id, id=id, name="x", variable_type="integer", old_value=None,
                      new_value=value, version=version, revision=version, source="other", metadata={}, timestamp=2)


def eventually(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.002)


class NearCacheRulesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.watches: list[ScriptedWatch] = []
        self.errors: list[StateError] = []

        def open_watch(variable_id, on_status):
            watch = ScriptedWatch(variable_id, on_status)
            self.watches.append(watch)
            return watch

        self.cache = NearCache(open_watch, 10, self.errors.append)
        self.addCleanup(self.cache.close)

    def deliver(self, item, watch=None) -> None:
        """Hands ``item`` to the watch and waits until the cache's thread took it."""
        eventually(lambda: self.watches)
        target = watch or self.watches[-1]
        target.events.put(item)
        eventually(lambda: target.events.empty())
        time.sleep(0.01)

    def test_served_only_after_the_initial_value_under_name_and_id(self) -> None:
        self.cache.observe(variable(3, 30))
        self.assertIsNone(self.cache.lookup("x"))
        self.deliver(event("initial", 3, 30))
        self.assertEqual(self.cache.lookup("x").value, 30)
        self.assertEqual(self.cache.lookup("var_1").value, 30)

    def test_an_older_read_or_initial_never_overwrites_a_newer_value(self) -> None:
        self.cache.observe(variable(5, 50))
        self.deliver(event("initial", 4, 40))
        self.assertEqual(self.cache.lookup("x").version, 5)
        self.deliver(event("value_change", 6, 60))
        self.cache.observe(variable(5, 50))
        self.assertEqual((self.cache.lookup("x").value, self.cache.lookup("x").version), (60, 6))

    def test_another_id_under_the_same_name_does_not_change_the_entry(self) -> None:
        self.cache.observe(variable(1, 10))
        self.deliver(event("initial", 1, 10))
        self.deliver(event("value_change", 9, 90, id="var_2"))
        self.assertEqual(self.cache.lookup("x").value, 10)
        self.cache.observe(variable(0, 7, id="var_2"))
        self.assertIsNone(self.cache.lookup("var_1"))

    def test_nothing_older_than_the_own_write_is_served(self) -> None:
        self.cache.observe(variable(1, 10))
        self.deliver(event("initial", 1, 10))
        self.cache.wrote("x", 2)
        self.assertIsNone(self.cache.lookup("var_1"))
        self.deliver(event("value_change", 2, 20))
        self.assertEqual(self.cache.lookup("x").value, 20)

    def test_an_interrupted_watch_drops_the_entry_and_is_closed(self) -> None:
        for status in (
            WatchStatus("reconnecting", attempt=1, delay=0.01, error=StateError("unavailable", "cut")),
            WatchStatus("reconnecting", attempt=1, delay=0.01, error=StateError("resource_exhausted", "slow")),
            WatchStatus("gave_up", error=StateError("unavailable", "gone")),
        ):
            with self.subTest(status=status):
                self.cache.observe(variable(1, 10))
                self.deliver(event("initial", 1, 10))
                self.watches[-1].on_status(status)
                self.assertIsNone(self.cache.lookup("x"))
                self.assertEqual(len(self.cache), 0)
                self.assertTrue(self.watches[-1].closed)

    def test_resync_and_deleted_events_drop_the_entry(self) -> None:
        for kind in ("resync", "deleted"):
            with self.subTest(kind=kind):
                self.cache.observe(variable(1, 10))
                self.deliver(event("initial", 1, 10))
                self.deliver(event(kind, 2, 20 if kind == "resync" else None))
                self.assertIsNone(self.cache.lookup("x"))

    def test_session_expired_drops_everything_and_is_told(self) -> None:
        self.cache.observe(variable(1, 10))
        self.deliver(event("initial", 1, 10))
        self.cache.observe(variable(1, 11, id="var_2", name="y"))
        self.deliver(event("initial", 1, 11, id="var_2"))
        self.assertEqual(len(self.cache), 2)
        self.watches[0].events.put(StateError("session_expired", "recreated"))
        eventually(lambda: len(self.cache) == 0)
        self.assertEqual([error.code for error in self.errors], ["session_expired"])


if __name__ == "__main__":
    unittest.main()
