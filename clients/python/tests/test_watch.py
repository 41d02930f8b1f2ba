"""Watching from Python, blocking and asyncio, against a real bridge-server: order, atomic
batches, resuming after a cut connection with nothing lost or repeated, and the errors that
end a watch."""

import asyncio
import threading
import time
import unittest

from statebridge import AsyncSessionContext, ReconnectPolicy, SessionContext, StateError

from support import BridgeServer, TcpProxy, unique_session

FAST = ReconnectPolicy(base=0.05, cap=0.5, max_failures=10)


def take(watch, count, timeout=20.0):
    """The next `count` events of a blocking watch; fails rather than hang."""
    events = []
    timer = threading.Timer(timeout, watch.close)
    timer.start()
    try:
        for event in watch:
            events.append(event)
            if len(events) == count:
                break
    finally:
        timer.cancel()
    if len(events) != count:
        raise AssertionError(f"expected {count} events, got {len(events)}: {events}")
    return events


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.ctx = SessionContext(self.server.target, unique_session())
        self.addCleanup(self.ctx.close)

    def test_initial_values_first_then_every_change_in_order(self):
        self.ctx.register_variable("a", "integer", 0)
        self.ctx.register_variable("b", "string", "x")
        with self.ctx.watch_variables(["a", "b"]) as watch:
            initial = take(watch, 2)
            self.assertEqual({(e.type, e.name, e.new_value, e.version) for e in initial}, {("initial", "a", 0, 0), ("initial", "b", "x", 0)})
            self.assertEqual(len({e.revision for e in initial}), 1)
            self.ctx["a"] = 1
            self.ctx["b"] = "y"
            self.ctx["a"] = 2
            changes = take(watch, 3)
        self.assertEqual([(e.type, e.name, e.old_value, e.new_value, e.version) for e in changes], [
            ("value_change", "a", 0, 1, 1),
            ("value_change", "b", "x", "y", 1),
            ("value_change", "a", 1, 2, 2),
        ])
        self.assertEqual([e.source for e in changes], ["python"] * 3)
        revisions = [e.revision for e in changes]
        self.assertEqual(revisions, sorted(revisions))
        self.assertGreater(revisions[0], initial[0].revision)

    def test_an_atomic_batch_arrives_as_events_of_one_revision(self):
        self.ctx.register_variable("a", "integer", 0)
        self.ctx.register_variable("b", "integer", 0)
        with self.ctx.watch_variables(["a", "b"], include_initial=False) as watch:
            self.ctx.update_variables({"a": 1, "b": 2}, atomic=True, metadata={"step": 3})
            events = take(watch, 2)
        self.assertEqual({(e.name, e.new_value) for e in events}, {("a", 1), ("b", 2)})
        self.assertEqual(events[0].revision, events[1].revision)
        self.assertEqual(events[0].metadata.get("step"), 3)

    def test_from_revision_replays_every_later_change(self):
        self.ctx.register_variable("a", "integer", 0)
        start = self.ctx.get_session().revision
        for value in (1, 2, 3):
            self.ctx["a"] = value
        with self.ctx.watch_variables(["a"], from_revision=start) as watch:
            events = take(watch, 3)
        self.assertEqual([e.new_value for e in events], [1, 2, 3])
        self.assertEqual([e.revision for e in events], [start + 1, start + 2, start + 3])

    def test_a_deleted_variable_sends_a_deleted_event(self):
        self.ctx.register_variable("a", "integer", 0)
        with self.ctx.watch_variables(["a"], include_initial=False) as watch:
            self.ctx.delete_variable("a")
            (event,) = take(watch, 1)
        self.assertEqual((event.type, event.name, event.source), ("deleted", "a", "python"))

    def test_watching_an_unknown_identifier_fails_with_not_found(self):
        self.ctx.register_variable("a", "integer", 0)
        with self.assertRaises(StateError) as caught:
            self.ctx.watch_variables(["a", "missing"])
        self.assertEqual(caught.exception.code, "not_found")
        self.assertIn("missing", str(caught.exception))

    def test_every_change_after_watch_variables_returns_is_delivered(self):
        self.ctx.register_variable("a", "integer", 0)
        for round in range(5):
            with self.subTest(round=round), self.ctx.watch_variables(["a"], include_initial=False) as watch:
                self.ctx["a"] = round + 1
                (event,) = take(watch, 1)
                self.assertEqual(event.new_value, round + 1)

    def test_close_from_another_thread_ends_the_iteration(self):
        self.ctx.register_variable("a", "integer", 0)
        watch = self.ctx.watch_variables(["a"], include_initial=False)
        threading.Timer(0.3, watch.close).start()
        self.assertEqual(list(watch), [])

    def test_closing_the_context_ends_its_watches(self):
        self.ctx.register_variable("a", "integer", 0)
        watch = self.ctx.watch_variables(["a"])
        take(watch, 1)
        self.ctx.close()
        self.assertTrue(watch.closed)
        self.assertEqual(list(watch), [])

    def test_deleting_the_session_ends_the_watch_with_session_expired(self):
        self.ctx.register_variable("a", "integer", 0)
        watch = self.ctx.watch_variables(["a"], reconnect=FAST)
        take(watch, 1)
        with SessionContext(self.server.target, self.ctx.session_id) as other:
            other.delete_session()
        with self.assertRaises(StateError) as caught:
            next(watch)
        self.assertEqual(caught.exception.code, "session_expired")

    def test_heartbeats_keep_a_quiet_watch_open_and_are_not_delivered(self):
        self.ctx.register_variable("a", "integer", 0)
        with self.ctx.watch_variables(["a"], include_initial=False, heartbeat_interval=0.05) as watch:
            time.sleep(0.5)  # ten heartbeats pass; none is delivered as an event
            self.ctx["a"] = 1
            (event,) = take(watch, 1)
            self.assertEqual(event.new_value, 1)
            self.assertGreaterEqual(watch.revision, event.revision)


class ReconnectTest(unittest.TestCase):
    def test_a_cut_connection_resumes_with_nothing_lost_or_repeated(self):
        with BridgeServer() as server:
            proxy = TcpProxy(server.port)
            self.addCleanup(proxy.close)
            session = unique_session()
            writer = SessionContext(server.target, session)
            self.addCleanup(writer.close)
            writer.register_variable("counter", "integer", 0)
            watcher = SessionContext(proxy.target, session)
            self.addCleanup(watcher.close)
            total = 60
            watch = watcher.watch_variables(["counter"], include_initial=False, reconnect=FAST, heartbeat_interval=0.1)
            received = []

            def consume():
                for event in watch:
                    received.append(event)
                    if len(received) == total:
                        break

            consumer = threading.Thread(target=consume)
            consumer.start()
            time.sleep(0.3)
            for value in range(1, total + 1):
                writer["counter"] = value
                if value % 15 == 0:
                    proxy.cut()
                    time.sleep(0.05)
            consumer.join(timeout=30)
            watch.close()
            self.assertFalse(consumer.is_alive())
            self.assertGreaterEqual(proxy.connections, 2)
            self.assertEqual([event.new_value for event in received], list(range(1, total + 1)))
            self.assertEqual([event.version for event in received], list(range(1, total + 1)))

    def test_a_server_restart_ends_the_watch_with_session_expired(self):
        server = BridgeServer()
        try:
            ctx = SessionContext(server.target, unique_session())
            ctx.register_variable("a", "integer", 0)
            watch = ctx.watch_variables(["a"], reconnect=FAST)
            take(watch, 1)
            server = server.restart()
            with self.assertRaises(StateError) as caught:
                next(watch)
            self.assertEqual(caught.exception.code, "session_expired")
            ctx.close()
        finally:
            server.stop()

    def test_the_watch_gives_up_with_unavailable_after_too_many_failures(self):
        server = BridgeServer()
        ctx = SessionContext(server.target, unique_session())
        self.addCleanup(ctx.close)
        ctx.register_variable("a", "integer", 0)
        watch = ctx.watch_variables(["a"], reconnect=ReconnectPolicy(base=0.01, cap=0.05, max_failures=3))
        take(watch, 1)
        server.kill()
        with self.assertRaises(StateError) as caught:
            next(watch)
        self.assertEqual(caught.exception.code, "unavailable")
        self.assertIn("3 failures in a row", str(caught.exception))


class AsyncWatchTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def test_async_context_watches_initial_values_then_changes(self):
        async with AsyncSessionContext(self.server.target, unique_session()) as ctx:
            await ctx.register_variable("a", "float", 0.5)
            async with ctx.watch_variables(["a"]) as watch:
                first = await asyncio.wait_for(watch.__anext__(), 10)
                self.assertEqual((first.type, first.new_value), ("initial", 0.5))
                await ctx.set_variable("a", 0.75)
                await ctx.update_variables({"a": 1}, atomic=True)
                second = await asyncio.wait_for(watch.__anext__(), 10)
                third = await asyncio.wait_for(watch.__anext__(), 10)
            self.assertEqual([(e.new_value, e.version, e.source) for e in (second, third)], [(0.75, 1, "python"), (1.0, 2, "python")])
            self.assertTrue(watch.closed)

    async def test_async_for_over_the_blocking_context_watch(self):
        ctx = SessionContext(self.server.target, unique_session())
        self.addCleanup(ctx.close)
        ctx.register_variable("a", "integer", 0)
        seen = []
        async with ctx.watch_variables_async(["a"]) as watch:
            async for event in watch:
                seen.append(event.new_value)
                if len(seen) == 3:
                    break
                await asyncio.to_thread(ctx.set_variable, "a", len(seen))
        self.assertEqual(seen, [0, 1, 2])

    async def test_async_watch_resumes_after_a_cut_with_nothing_lost_or_repeated(self):
        proxy = TcpProxy(self.server.port)
        self.addCleanup(proxy.close)
        session = unique_session()
        writer = SessionContext(self.server.target, session)
        self.addCleanup(writer.close)
        writer.register_variable("counter", "integer", 0)
        async with AsyncSessionContext(proxy.target, session) as watcher:
            watch = watcher.watch_variables(["counter"], include_initial=False, reconnect=FAST, heartbeat_interval=0.1)
            total = 40
            received = []

            async def consume():
                async for event in watch:
                    received.append(event.new_value)
                    if len(received) == total:
                        return

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0.3)
            for value in range(1, total + 1):
                await asyncio.to_thread(writer.set_variable, "counter", value)
                if value % 10 == 0:
                    proxy.cut()
            await asyncio.wait_for(consumer, 30)
            await watch.aclose()
        self.assertEqual(received, list(range(1, total + 1)))
        self.assertGreaterEqual(proxy.connections, 2)

    async def test_async_watch_of_an_unknown_identifier_fails_with_not_found(self):
        async with AsyncSessionContext(self.server.target, unique_session()) as ctx:
            with self.assertRaises(StateError) as caught:
                async for _ in ctx.watch_variables(["missing"]):
                    pass
            self.assertEqual(caught.exception.code, "not_found")


if __name__ == "__main__":
    unittest.main()
