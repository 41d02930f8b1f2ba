"""The near cache of a SessionContext (``cache=True``) against a real bridge-server: a cached read
never leaves the process, another context's writes arrive through the watch, the context's own
writes are visible to its next read, reads never go back, and an interrupted watch stops the
cache from serving."""

from __future__ import annotations

import threading
import time
import unittest

from statebridge import SessionContext, StateError
from support import BridgeServer, TcpProxy, unique_session


def read_until(read, accept, timeout: float = 5.0):
    """Reads until ``accept`` holds of what ``read`` gives; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; last read {value!r}")
        time.sleep(0.005)


class NearCacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def open(self, session_id: str, target=None, **options) -> SessionContext:
        context = SessionContext(target or self.server.target, session_id, **options)
        self.addCleanup(context.close)
        return context

    def cached(self, context: SessionContext, identifier: str) -> None:
        """Waits until ``context`` serves ``identifier`` from its cache."""
        read_until(lambda: context._cache.lookup(identifier), lambda variable: variable is not None)

    def test_capabilities_say_reads_are_not_linearizable_with_the_cache_only(self) -> None:
        session = unique_session()
        self.assertFalse(self.open(session, cache=True).capabilities().linearizable_reads)
        self.assertTrue(self.open(session).capabilities().linearizable_reads)

    def test_a_cached_read_never_leaves_the_process_and_fresh_asks_the_server(self) -> None:
        session = unique_session()
        proxy = TcpProxy(self.server.port)
        self.addCleanup(proxy.close)
        context = self.open(session, target=proxy.target, cache=True, timeout=0.5)
        context.register_variable("temperature", "float", 0.7)
        self.assertEqual(context.get_variable("temperature"), 0.7)
        self.cached(context, "temperature")
        proxy.blackhole()
        # Nothing reaches the server now: cached reads still answer, fresh ones cannot.
        for _ in range(100):
            self.assertEqual(context["temperature"], 0.7)
        self.assertEqual(context.get_variables(["temperature"]), {"temperature": 0.7})
        with self.assertRaises(StateError) as raised:
            context.get_variable("temperature", fresh=True)
        self.assertEqual(raised.exception.code, "unavailable")

    def test_a_silent_watch_stops_the_cache_serving_and_reads_go_to_the_server(self) -> None:
        # Regression guard: a cache whose watch went silent (a partition) kept serving what it held.
        session = unique_session()
        proxy = TcpProxy(self.server.port)
        self.addCleanup(proxy.close)
        context = SessionContext(proxy.target, session, cache=True, timeout=0.3)
        self.addCleanup(context.close)
        context._cache_heartbeat_interval = 0.1
        writer = self.open(session)
        context.register_variable("x", "integer", 1)
        context.get_variable("x")
        self.cached(context, "x")
        proxy.blackhole()
        writer.set_variable("x", 2)

        def outcome() -> str:
            try:
                return str(context.get_variable("x"))
            except StateError as error:
                return error.code

        self.assertEqual(read_until(outcome, lambda seen: seen != "1"), "unavailable")

    def test_another_contexts_write_reaches_the_cache_through_the_watch(self) -> None:
        session = unique_session()
        reader = self.open(session, cache=True)
        writer = self.open(session)
        writer.register_variable("x", "integer", 0)
        reader.get_variable("x")
        self.cached(reader, "x")
        version = writer.set_variable("x", 42, metadata={"by": "writer"})
        read_until(lambda: reader.get_variable("x"), lambda value: value == 42)
        variable = reader.get_variable_info("x")
        self.assertEqual((variable.version, variable.metadata), (version, {"by": "writer"}))

    def test_read_your_writes_set_update_and_delete_are_visible_to_the_next_read(self) -> None:
        session = unique_session()
        context = self.open(session, cache=True)
        other = self.open(session)
        context.register_variable("x", "integer", 0)
        context.register_variable("y", "integer", 0)
        context.get_variables(["x", "y"])
        self.cached(context, "x")
        for value in range(1, 40):
            other.set_variable("y", -value)
            context.set_variable("x", value)
            self.assertEqual(context.get_variable("x"), value)
            versions = context.update_variables({"x": value * 10}, atomic=True)
            variable = context.get_variable_info("x")
            self.assertEqual((variable.value, variable.version), (value * 10, versions["x"]))
        identifier = context.get_variable_info("x").id
        context.delete_variable("x")
        for name in ("x", identifier):
            with self.assertRaises(StateError) as raised:
                context.get_variable(name)
            self.assertEqual(raised.exception.code, "not_found")
        context.register_variable("x", "string", "again")
        self.assertEqual(context.get_variable("x"), "again")

    def test_monotonic_reads_while_another_context_writes(self) -> None:
        session = unique_session()
        reader = self.open(session, cache=True)
        writer = self.open(session)
        writer.register_variable("x", "integer", 0)
        done = threading.Event()

        def write() -> None:
            try:
                for value in range(1, 150):
                    writer.set_variable("x", value)
            finally:
                done.set()

        threading.Thread(target=write, daemon=True).start()
        versions = []
        count = 0
        while not done.is_set():
            count += 1
            versions.append(reader.get_variable_info("x", fresh=count % 7 == 0).version)
        for index in range(1, len(versions)):
            self.assertGreaterEqual(versions[index], versions[index - 1], f"read {index}")
        read_until(lambda: reader.get_variable("x"), lambda value: value == 149)

    def test_cache_max_entries_bounds_the_cache(self) -> None:
        session = unique_session()
        context = self.open(session, cache=True, cache_max_entries=2)
        for name in ("a", "b", "c"):
            context.register_variable(name, "integer", 0)
            context.get_variable(name)
        self.assertEqual(len(context._cache), 2)
        self.assertIsNone(context._cache.lookup("a"))
        with self.assertRaises(StateError) as raised:
            self.open(session, cache=True, cache_max_entries=0)
        self.assertEqual(raised.exception.code, "invalid_value")


if __name__ == "__main__":
    unittest.main()
