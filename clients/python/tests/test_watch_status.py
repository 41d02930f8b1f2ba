"""The connection state a watcher is told (``on_status``). Regression tests of a watcher told
nothing for minutes while its server was gone for good: a server stopped for good shows as
``reconnecting`` with growing attempts and then ``gave_up``; a partition that heals shows as
``reconnecting`` then ``resumed`` at the revision the watch had reached."""

import asyncio
import threading
import time
import unittest

from statebridge import AsyncSessionContext, ReconnectPolicy, SessionContext, StateError, WatchStatus

from support import BridgeServer, TcpProxy, unique_session

#: Gives up after the third failure in a row, quickly.
QUICK = ReconnectPolicy(base=0.01, cap=0.04, max_failures=3)
PATIENT = ReconnectPolicy(base=0.05, cap=0.5, max_failures=1000)
HEARTBEAT = 0.2


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


class WatchStatusTest(unittest.TestCase):
    def test_a_blocking_watch_whose_server_stopped_for_good_is_told_reconnecting_then_gave_up(self):
        server = BridgeServer()
        self.addCleanup(server.stop)
        context = SessionContext(server.target, unique_session())
        self.addCleanup(context.close)
        context.register_variable("x", "integer", 0)
        statuses: list[WatchStatus] = []
        watch = context.watch_variables(
            ["x"], include_initial=False, heartbeat_interval=HEARTBEAT, reconnect=QUICK, on_status=statuses.append
        )
        self.addCleanup(watch.close)
        self.assertEqual([status.kind for status in statuses], ["connected"])
        self.assertIsNotNone(statuses[0].revision)
        server.stop()
        with self.assertRaises(StateError) as raised:
            for _ in watch:
                pass
        self.assertEqual(raised.exception.code, "unavailable")
        self.assertEqual([status.kind for status in statuses], ["connected", "reconnecting", "reconnecting", "gave_up"])
        reconnecting = [status for status in statuses if status.kind == "reconnecting"]
        self.assertEqual([status.attempt for status in reconnecting], [1, 2])
        for status in reconnecting:
            self.assertEqual(status.error.code, "unavailable")
            self.assertLessEqual(status.delay, QUICK.cap)
        self.assertIs(statuses[-1].error, raised.exception)

    def test_a_blocking_watch_through_a_partition_that_heals_is_told_reconnecting_then_resumed_at_its_revision(self):
        server = BridgeServer()
        self.addCleanup(server.stop)
        proxy = TcpProxy(server.port)
        self.addCleanup(proxy.close)
        session = unique_session()
        writer = SessionContext(server.target, session)
        self.addCleanup(writer.close)
        writer.register_variable("x", "integer", 0)
        watcher = SessionContext(proxy.target, session)
        self.addCleanup(watcher.close)
        statuses: list[WatchStatus] = []
        watch = watcher.watch_variables(
            ["x"], include_initial=False, heartbeat_interval=HEARTBEAT, reconnect=PATIENT, on_status=statuses.append
        )
        self.addCleanup(watch.close)
        events = []
        threading.Thread(target=lambda: events.extend(watch), daemon=True).start()
        writer.set_variable("x", 1)
        wait_until(lambda: len(events) == 1)
        proxy.blackhole()
        wait_until(lambda: any(status.kind == "reconnecting" for status in statuses))
        writer.set_variable("x", 2)
        proxy.heal()
        wait_until(lambda: len(events) == 2)
        self.assertEqual([event.new_value for event in events], [1, 2])
        kinds = [status.kind for status in statuses]
        self.assertEqual(kinds[0], "connected")
        self.assertTrue(all(kind == "reconnecting" for kind in kinds[1:-1]), kinds)
        self.assertEqual(statuses[-1], WatchStatus("resumed", revision=events[0].revision))


class AsyncWatchStatusTest(unittest.IsolatedAsyncioTestCase):
    async def test_an_asyncio_watch_whose_server_stopped_for_good_is_told_reconnecting_then_gave_up(self):
        server = BridgeServer()
        self.addCleanup(server.stop)
        context = await AsyncSessionContext.open(server.url, unique_session())
        self.addAsyncCleanup(context.close)
        await context.register_variable("x", "integer", 0)
        statuses: list[WatchStatus] = []
        watch = await context.watch_variables(
            ["x"], include_initial=False, heartbeat_interval=HEARTBEAT, reconnect=QUICK, on_status=statuses.append
        )
        self.addAsyncCleanup(watch.aclose)
        self.assertEqual([status.kind for status in statuses], ["connected"])
        server.stop()
        with self.assertRaises(StateError) as raised:
            async for _ in watch:
                pass
        self.assertEqual(raised.exception.code, "unavailable")
        self.assertEqual([status.kind for status in statuses], ["connected", "reconnecting", "reconnecting", "gave_up"])
        self.assertEqual([status.attempt for status in statuses[1:3]], [1, 2])
        self.assertIs(statuses[-1].error, raised.exception)


if __name__ == "__main__":
    unittest.main()
