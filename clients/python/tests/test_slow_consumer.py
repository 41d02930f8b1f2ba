"""Issue 10, item 5: a Python watcher whose loop blocks while a writer goes on must not make the
server hold its backlog. The server (a child process with a small --watch-queue-bytes) cuts the
stream off with resource_exhausted, its memory stays bounded, and the watch resumes (here with a
resync, the history being short) and ends at the latest value, in order, exactly once. Before
the server respected HTTP/2 backpressure a Python watcher was never cut off and the server's
memory grew with the backlog."""

import asyncio
import threading
import time
import unittest

from statebridge import AsyncSessionContext, ReconnectPolicy, SessionContext

from support import BridgeServer, unique_session

VALUE_BYTES = 16 * 1024
WRITES = 3000
WATCHERS = 8
#: What unbounded queues would hold: every write's value, for every watcher.
BACKLOG_BYTES = WRITES * VALUE_BYTES * WATCHERS
CUT_OFF = "watch stream cut off: consumer too slow"
POLICY = ReconnectPolicy(base=0.01, cap=0.2, max_failures=1000)


def resident_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class SlowConsumerTest(unittest.TestCase):
    def setUp(self):
        self.server = BridgeServer(
            ["--watch-queue-bytes", str(256 * 1024), "--watch-queue-limit", "1000", "--history-size", "20"]
        )
        self.addCleanup(self.server.stop)
        self.session = unique_session("slow")
        self.writer = SessionContext(self.server.target, self.session)
        self.addCleanup(self.writer.close)
        self.writer.register_variable("big", "string", "start")
        self.writing = threading.Event()
        self.writing.set()

    def write(self):
        """Writes WRITES large values; returns the last value, its version and the peak growth
        of the server's resident memory."""
        pid = self.server.process.pid
        baseline = resident_bytes(pid)
        peak = baseline
        padding = "x" * VALUE_BYTES
        last, version = "", 0
        for write in range(1, WRITES + 1):
            last = f"{write}:{padding}"
            version = self.writer.set_variable("big", last)
            if write % 100 == 0:
                peak = max(peak, resident_bytes(pid))
        self.writing.clear()
        return last, version, baseline, peak

    def check(self, histories, last, version, growth):
        # Bounded: far below the backlog that unbounded queues would have held.
        self.assertLess(growth, BACKLOG_BYTES / 4)
        cut_offs = [line for line in self.server.errors if CUT_OFF in line]
        self.assertGreaterEqual(len(cut_offs), WATCHERS, "every watcher's stream was cut off by the server")
        for events in histories:
            revisions = [event.revision for event in events]
            # Ordered and exactly once: revisions strictly increase.
            self.assertEqual(revisions, sorted(set(revisions)))
            self.assertEqual(events[-1].new_value, last)
            self.assertEqual(events[-1].version, version)
            # The backlog was skipped with a resync, not replayed.
            self.assertIn("resync", [event.type for event in events])
            self.assertLess(len(events), WRITES)

    def test_a_blocking_watcher_is_cut_off_keeps_the_server_bounded_and_ends_at_the_latest_value(self):
        watcher = SessionContext(self.server.target, self.session)
        self.addCleanup(watcher.close)
        histories, threads = [], []
        for _ in range(WATCHERS):
            watch = watcher.watch_variables(["big"], include_initial=False, heartbeat_interval=1.0, reconnect=POLICY)
            events = []
            histories.append(events)

            def consume(watch=watch, events=events):
                for event in watch:
                    events.append(event)
                    if self.writing.is_set():
                        time.sleep(1.0)  # blocks while the writer goes on

            thread = threading.Thread(target=consume, daemon=True)
            self.addCleanup(thread.join, 10)
            self.addCleanup(watch.close)
            threads.append(thread)
        for thread in threads:
            thread.start()
        last, version, baseline, peak = self.write()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            events and events[-1].new_value == last for events in histories
        ):
            peak = max(peak, resident_bytes(self.server.process.pid))
            time.sleep(0.05)
        self.check(histories, last, version, peak - baseline)

    def test_an_asyncio_watcher_that_blocks_is_cut_off_keeps_the_server_bounded_and_ends_at_the_latest_value(self):
        async def run():
            histories = []
            async with AsyncSessionContext(self.server.target, self.session) as watcher:
                watches = []
                for _ in range(WATCHERS):
                    watch = await watcher.watch_variables(
                        ["big"], include_initial=False, heartbeat_interval=1.0, reconnect=POLICY
                    )
                    watches.append(watch)
                    histories.append([])

                async def consume(watch, events):
                    async for event in watch:
                        events.append(event)
                        if self.writing.is_set():
                            await asyncio.sleep(1.0)

                tasks = [asyncio.ensure_future(consume(w, e)) for w, e in zip(watches, histories)]
                last, version, baseline, peak = await asyncio.get_running_loop().run_in_executor(None, self.write)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not all(
                    events and events[-1].new_value == last for events in histories
                ):
                    peak = max(peak, resident_bytes(self.server.process.pid))
                    await asyncio.sleep(0.05)
                for watch in watches:
                    await watch.aclose()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            self.check(histories, last, version, peak - baseline)

        asyncio.run(run())


if __name__ == "__main__":
    unittest.main()
