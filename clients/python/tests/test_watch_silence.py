"""A watch stream that goes silent is reopened from the last revision seen, on a new connection
(its opener is told that the connection under it is dead). The streams here are scripted: a
real server cannot be made to stop sending heartbeats on an open stream (tests/
test_network_faults.py silences real ones with a proxy)."""

import asyncio
import threading
import unittest

import grpc

from statebridge import ReconnectPolicy, StateError
from statebridge._proto.statebridge.v1 import statebridge_pb2 as pb
from statebridge.watch import AsyncWatch, Watch, WatchCursor

FAST = ReconnectPolicy(base=0.01, cap=0.02, max_failures=3)


class Cancelled(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.CANCELLED

    def details(self):
        return "cancelled"

    def trailing_metadata(self):
        return ()


def heartbeat(revision):
    return pb.WatchVariablesResponse(heartbeat=pb.WatchHeartbeat(revision=revision))


def change(revision, value):
    event = pb.WatchEvent(
        type=pb.WATCH_EVENT_TYPE_VALUE_CHANGE,
        identifier="a",
        name="a",
        new_value=pb.Value(integer_value=value),
        version=value,
        revision=revision,
    )
    return pb.WatchVariablesResponse(events=pb.WatchEvents(revision=revision, events=[event]))


class ScriptedStream:
    """Yields its messages, then stays silent until cancelled, as a stalled stream would."""

    def __init__(self, messages):
        self.messages = list(messages)
        self.cancelled = threading.Event()

    def __next__(self):
        if self.messages:
            return self.messages.pop(0)
        if not self.cancelled.wait(30):
            raise AssertionError("the silent stream was never cancelled")
        raise Cancelled()

    def cancel(self):
        self.cancelled.set()


class AsyncScriptedStream:
    def __init__(self, messages):
        self.messages = list(messages)
        self.cancelled = False

    async def read(self):
        if self.messages:
            return self.messages.pop(0)
        await asyncio.sleep(30)
        raise AssertionError("the silent stream was never abandoned")

    def cancel(self):
        self.cancelled = True


def translate(error):
    return StateError("closed", "cancelled")


def created(revision, *ids):
    return pb.WatchVariablesResponse(created=pb.WatchCreated(revision=revision, ids=ids))


def deleted(revision):
    event = pb.WatchEvent(type=pb.WATCH_EVENT_TYPE_DELETED, identifier="a", id="var_a", name="a", revision=revision)
    return pb.WatchVariablesResponse(events=pb.WatchEvents(revision=revision, events=[event]))


class SilentStreamTest(unittest.TestCase):
    def test_a_silent_stream_is_cancelled_and_reopened_from_the_last_revision_on_a_new_connection(self):
        first = ScriptedStream([change(4, 1), heartbeat(6)])
        second = ScriptedStream([change(7, 2)])
        streams = [first, second]
        requests = []
        lost = []

        def open_stream(request):
            requests.append(request)
            stream = streams.pop(0)
            return stream, lambda: lost.append(stream)

        cursor = WatchCursor("s", ["a"], False, None, 50, FAST)
        watch = Watch(open_stream, translate, cursor, dead_after=0.2).start()
        try:
            self.assertEqual([next(watch).new_value, next(watch).new_value], [1, 2])
        finally:
            watch.close()
        self.assertTrue(first.cancelled.is_set())
        self.assertEqual(len(requests), 2)
        self.assertEqual(requests[1].from_revision, 6)
        self.assertEqual(lost, [first])


    def test_a_watch_whose_every_variable_was_deleted_opens_no_stream_after_a_failure(self):
        streams = [ScriptedStream([created(3, "var_a"), deleted(4)])]
        opened = []

        def open_stream(request):
            opened.append(request)
            return streams.pop(0), lambda: None

        watch = Watch(open_stream, translate, WatchCursor("s", ["a"], False, None, 50, FAST), dead_after=0.2).start()
        self.assertEqual(next(watch).type, "deleted")
        threading.Timer(0.6, watch.close).start()
        self.assertEqual(list(watch), [])  # the silent stream failed; nothing was reopened
        self.assertEqual(len(opened), 1)


class AsyncSilentStreamTest(unittest.IsolatedAsyncioTestCase):
    async def test_a_silent_stream_is_abandoned_and_reopened_from_the_last_revision_on_a_new_connection(self):
        first = AsyncScriptedStream([change(4, 1), heartbeat(6)])
        second = AsyncScriptedStream([change(7, 2)])
        streams = [first, second]
        requests = []
        lost = []

        def open_stream(request):
            requests.append(request)
            stream = streams.pop(0)
            return stream, lambda: lost.append(stream)

        cursor = WatchCursor("s", ["a"], False, None, 50, FAST)
        async with AsyncWatch(open_stream, translate, cursor, dead_after=0.2) as watch:
            values = [(await watch.__anext__()).new_value, (await watch.__anext__()).new_value]
        self.assertEqual(values, [1, 2])
        self.assertTrue(first.cancelled)
        self.assertEqual(requests[1].from_revision, 6)
        self.assertEqual(lost, [first])

    async def test_a_watch_whose_every_variable_was_deleted_opens_no_stream_after_a_failure(self):
        streams = [AsyncScriptedStream([created(3, "var_a"), deleted(4)])]
        opened = []

        def open_stream(request):
            opened.append(request)
            return streams.pop(0), lambda: None

        watch = AsyncWatch(open_stream, translate, WatchCursor("s", ["a"], False, None, 50, FAST), dead_after=0.2)
        await watch.start()
        self.assertEqual((await watch.__anext__()).type, "deleted")
        waiting = asyncio.ensure_future(watch.__anext__())
        await asyncio.sleep(0.6)
        self.assertFalse(waiting.done(), "the watch stays open and quiet")
        await watch.aclose()
        with self.assertRaises(StopAsyncIteration):
            await waiting
        self.assertEqual(len(opened), 1)


if __name__ == "__main__":
    unittest.main()
