"""What a Python watch follows, against a real bridge-server, as the README's Guarantees state
it for every client: the variables its identifiers named when it started (not names), in the
session it started in (not one recreated under the same id), and from a resume point ahead of
the session by way of resync."""

import asyncio
import threading
import time
import unittest

from statebridge import AsyncSessionContext, ReconnectPolicy, SessionContext, StateError

from support import BridgeServer, TcpProxy, unique_session

FAST = ReconnectPolicy(base=0.05, cap=0.2, max_failures=50)


class Consumer:
    """Reads a blocking watch in a thread, keeping each event and the error that ended it."""

    def __init__(self, watch):
        self.watch = watch
        self.events = []
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for event in self.watch:
                self.events.append(event)
        except StateError as error:
            self.error = error

    def wait_until(self, condition, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not condition() and self.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not condition():
            raise AssertionError(f"not reached within {timeout} s; events: {self.summary()}; error: {self.error}")

    def stop(self):
        self.watch.close()
        self._thread.join(10)

    def summary(self):
        return [(event.type, event.identifier, event.new_value) for event in self.events]


class VariableIdentityTest(unittest.TestCase):
    """Issue 10 item 1: a watch opened by name follows the variable, never a new one that took
    its name, whether or not its stream reconnected."""

    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.proxy = TcpProxy(self.server.port)
        self.addCleanup(self.proxy.close)
        self.session = unique_session()
        self.writer = SessionContext(self.server.target, self.session)
        self.addCleanup(self.writer.close)
        self.writer.register_variable("a", "integer", 0)
        self.writer.register_variable("marker", "integer", 0)
        self.watcher = SessionContext(self.proxy.target, self.session)
        self.addCleanup(self.watcher.close)

    def watch(self, identifiers):
        watch = self.watcher.watch_variables(identifiers, include_initial=False, heartbeat_interval=0.2, reconnect=FAST)
        consumer = Consumer(watch)
        self.addCleanup(consumer.stop)
        return consumer

    def replace_a(self, cut):
        """Deletes "a", registers a new "a" (cutting the watcher's connection in between if
        ``cut``), writes it twice, then writes the marker: the witness that the watch went on."""
        self.writer.delete_variable("a")
        if cut:
            self.proxy.cut()
        self.writer.register_variable("a", "integer", 100)
        self.writer["a"] = 101
        if cut:
            self.proxy.cut()
        self.writer["a"] = 102
        self.writer["marker"] = 1

    def test_a_watch_by_name_gets_the_deletion_and_nothing_of_a_new_variable_under_the_name(self):
        consumer = self.watch(["a", "marker"])
        self.replace_a(cut=False)
        consumer.wait_until(lambda: any(event.identifier == "marker" for event in consumer.events))
        self.assertEqual(consumer.summary(), [("deleted", "a", None), ("value_change", "marker", 1)])

    def test_a_reconnected_watch_by_name_gets_nothing_of_a_new_variable_under_the_name(self):
        # Regression: the resume named "a" again, and the server resolved it to the new
        # variable, whose events (version 1 of a variable the watcher never saw) followed.
        consumer = self.watch(["a", "marker"])
        self.replace_a(cut=True)
        consumer.wait_until(lambda: any(event.identifier == "marker" for event in consumer.events))
        self.assertEqual(consumer.summary(), [("deleted", "a", None), ("value_change", "marker", 1)])
        self.assertGreaterEqual(self.proxy.connections, 2)

    def test_two_watchers_of_a_name_see_the_same_events_whether_or_not_they_reconnected(self):
        steady = Consumer(
            SessionContext(self.server.target, self.session).watch_variables(["a", "marker"], include_initial=False)
        )
        self.addCleanup(steady.stop)
        reconnected = self.watch(["a", "marker"])
        self.writer["a"] = 1
        self.replace_a(cut=True)
        for consumer in (steady, reconnected):
            consumer.wait_until(lambda consumer=consumer: any(e.identifier == "marker" for e in consumer.events))
        self.assertEqual(reconnected.summary(), steady.summary())
        self.assertEqual([event.revision for event in reconnected.events], [event.revision for event in steady.events])

    def test_events_of_a_watch_resumed_by_ids_name_the_variable_as_the_watcher_did(self):
        consumer = self.watch(["a"])
        self.writer["a"] = 1
        consumer.wait_until(lambda: len(consumer.events) == 1)
        self.proxy.cut()
        self.writer["a"] = 2
        consumer.wait_until(lambda: len(consumer.events) == 2)
        self.assertEqual([(event.identifier, event.name, event.new_value) for event in consumer.events], [("a", "a", 1), ("a", "a", 2)])

    def test_a_watch_whose_every_variable_was_deleted_is_not_ended_by_a_reconnect(self):
        # Regression: the resume named only deleted variables and ended with not_found.
        consumer = self.watch(["a"])
        self.replace_a(cut=True)
        consumer.wait_until(lambda: len(consumer.events) == 1)
        time.sleep(1.0)  # reconnects would happen now; none may end the watch or deliver
        self.assertIsNone(consumer.error)
        self.assertFalse(consumer.watch.closed)
        self.assertEqual(consumer.summary(), [("deleted", "a", None)])


class AsyncVariableIdentityTest(unittest.IsolatedAsyncioTestCase):
    async def test_a_reconnected_async_watch_by_name_gets_nothing_of_a_new_variable_under_the_name(self):
        server = BridgeServer()
        self.addCleanup(server.stop)
        proxy = TcpProxy(server.port)
        self.addCleanup(proxy.close)
        session = unique_session()
        writer = SessionContext(server.target, session)
        self.addCleanup(writer.close)
        writer.register_variable("a", "integer", 0)
        writer.register_variable("marker", "integer", 0)
        async with AsyncSessionContext(proxy.target, session) as watcher:
            async with watcher.watch_variables(
                ["a", "marker"], include_initial=False, heartbeat_interval=0.2, reconnect=FAST
            ) as watch:
                writer.delete_variable("a")
                proxy.cut()
                writer.register_variable("a", "integer", 100)
                writer["a"] = 101
                proxy.cut()
                writer["marker"] = 1
                seen = []
                while not any(event.identifier == "marker" for event in seen):
                    seen.append(await asyncio.wait_for(watch.__anext__(), 20))
        self.assertEqual([(e.type, e.identifier, e.new_value) for e in seen], [("deleted", "a", None), ("value_change", "marker", 1)])


class SessionIncarnationTest(unittest.TestCase):
    """Issue 10 item 2: a session recreated under the same id is another session."""

    def test_a_context_tells_whether_it_created_its_session_and_its_incarnation(self):
        with BridgeServer() as server:
            session = unique_session()
            with SessionContext(server.target, session) as first, SessionContext(server.target, session) as second:
                self.assertTrue(first.created)
                self.assertFalse(second.created)
                self.assertRegex(first.incarnation, r"^[0-9a-f]{16}$")
                self.assertEqual(second.incarnation, first.incarnation)
                self.assertEqual(first.get_session().incarnation, first.incarnation)

    def test_a_watch_across_a_restart_that_recreated_the_session_ends_with_session_expired(self):
        # Regression: the watch resumed into the new session as if it were the old one.
        server = BridgeServer()
        self.addCleanup(lambda: server.stop())
        session = unique_session()
        watcher = SessionContext(server.target, session)
        self.addCleanup(watcher.close)
        watcher.register_variable("a", "integer", 0)
        for value in range(1, 6):
            watcher["a"] = value
        consumer = Consumer(watcher.watch_variables(["a"], include_initial=False, heartbeat_interval=0.2, reconnect=FAST))
        self.addCleanup(consumer.stop)
        server.kill()
        server = BridgeServer(port=server.port)
        with SessionContext(server.target, session) as recreator:
            self.assertTrue(recreator.created)
            self.assertNotEqual(recreator.incarnation, watcher.incarnation)
            recreator.register_variable("a", "integer", 0)
            for value in range(1, 10):
                recreator["a"] = value
                if consumer.error is not None:
                    break
                time.sleep(0.1)
        consumer.wait_until(lambda: consumer.error is not None)
        self.assertEqual(consumer.error.code, "session_expired")
        self.assertIn("recreated", consumer.error.message)
        self.assertEqual(consumer.events, [])
        # The context learned that its session ended: it does not go on with the new one.
        with self.assertRaises(StateError) as caught:
            watcher.get_variable("a")
        self.assertEqual(caught.exception.code, "session_expired")
        with self.assertRaises(StateError) as caught:
            watcher.watch_variables(["a"])
        self.assertEqual(caught.exception.code, "session_expired")

    def test_a_watch_from_a_revision_of_a_session_since_recreated_fails_with_session_expired(self):
        with BridgeServer() as server:
            session = unique_session()
            old = SessionContext(server.target, session)
            self.addCleanup(old.close)
            old.register_variable("a", "integer", 0)
            with SessionContext(server.target, session) as other:
                other.delete_session()
            with SessionContext(server.target, session) as recreator:
                recreator.register_variable("a", "integer", 0)
            with self.assertRaises(StateError) as caught:
                old.watch_variables(["a"], from_revision=1)
            self.assertEqual(caught.exception.code, "session_expired")
            self.assertIn("recreated", caught.exception.message)


class AsyncSessionIncarnationTest(unittest.IsolatedAsyncioTestCase):
    async def test_an_async_context_told_session_expired_never_goes_on_with_a_session_recreated_under_its_id(self):
        with BridgeServer() as server:
            session = unique_session()
            async with AsyncSessionContext(server.target, session) as context:
                self.assertRegex(context.incarnation, r"^[0-9a-f]{16}$")
                self.assertTrue(context.created)
                await context.register_variable("a", "integer", 0)
                watch = await context.watch_variables(["a"], include_initial=False, reconnect=FAST)
                with SessionContext(server.target, session) as other:
                    other.delete_session()
                with SessionContext(server.target, session) as recreator:
                    self.assertTrue(recreator.created)
                    recreator.register_variable("a", "integer", 0)
                with self.assertRaises(StateError) as caught:
                    await asyncio.wait_for(watch.__anext__(), 20)
                self.assertEqual(caught.exception.code, "session_expired")
                with self.assertRaises(StateError) as caught:
                    await context.get_variable("a")
                self.assertEqual(caught.exception.code, "session_expired")
                self.assertIn("create a new context", caught.exception.message)


class ResumeAheadTest(unittest.TestCase):
    """Issue 10 item 4: a resume point ahead of the session is answered with resync, which the
    client applies rather than dropping everything after it as duplicates."""

    def test_a_watch_from_a_revision_ahead_of_the_session_gets_resync_then_every_change(self):
        with BridgeServer() as server, SessionContext(server.target, unique_session()) as ctx:
            ctx.register_variable("a", "integer", 7)
            ahead = ctx.get_session().revision + 100
            consumer = Consumer(ctx.watch_variables(["a"], from_revision=ahead))
            self.addCleanup(consumer.stop)
            ctx["a"] = 8
            ctx["a"] = 9
            consumer.wait_until(lambda: len(consumer.events) == 3)
            self.assertEqual(consumer.summary(), [("resync", "a", 7), ("value_change", "a", 8), ("value_change", "a", 9)])
            self.assertEqual(consumer.watch.revision, consumer.events[-1].revision)


class WatchKeepsSessionTest(unittest.TestCase):
    """Issue 10 item 4: a process that only watches keeps its session past the TTL."""

    def test_a_context_that_only_watches_keeps_its_session_past_the_ttl(self):
        with BridgeServer(["--session-ttl", "1"]) as server:
            session = unique_session()
            with SessionContext(server.target, session) as watcher:
                watcher.register_variable("a", "integer", 0)
                consumer = Consumer(watcher.watch_variables(["a"], include_initial=False, heartbeat_interval=0.2))
                self.addCleanup(consumer.stop)
                time.sleep(2.5)  # past the 1 s TTL, with no call but the open watch
                with SessionContext(server.target, session) as writer:
                    self.assertFalse(writer.created)
                    writer["a"] = 1
                consumer.wait_until(lambda: len(consumer.events) == 1)
                self.assertEqual(consumer.summary(), [("value_change", "a", 1)])


if __name__ == "__main__":
    unittest.main()
