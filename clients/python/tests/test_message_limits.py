"""The Python clients' message size limits: max_receive_message_length and
max_send_message_length, against a real bridge-server."""

import asyncio
import threading
import unittest

from statebridge import AsyncSessionContext, ReconnectPolicy, SessionContext, StateError

from support import BridgeServer, unique_session

LIMIT = 1_000_000
#: 200,000 float64s: 1.6 MB on the wire, over LIMIT.
LARGE = [index / 7 for index in range(200_000)]
FAST = ReconnectPolicy(base=0.01, cap=0.01, max_failures=1000)


class MessageLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.writer = SessionContext(self.server.url, unique_session())
        self.addCleanup(self.writer.close)

    def limited(self, **limits):
        context = SessionContext(self.server.url, self.writer.session_id, **limits)
        self.addCleanup(context.close)
        return context

    def test_a_response_over_max_receive_message_length_fails_with_resource_exhausted_naming_the_limit(self):
        self.writer.register_variable("vector", "embedding", LARGE)
        reader = self.limited(max_receive_message_length=LIMIT)
        with self.assertRaises(StateError) as raised:
            reader.get_variable("vector")
        self.assertEqual(raised.exception.code, "resource_exhausted")
        self.assertRegex(raised.exception.message, r"larger than max_receive_message_length \(1000000 bytes\)")
        # Smaller answers still come on the same channel.
        reader.register_variable("small", "integer", 1)
        self.assertEqual(reader.get_variable("small"), 1)

    def test_a_request_over_max_send_message_length_fails_with_resource_exhausted_naming_the_limit(self):
        writer = self.limited(max_send_message_length=LIMIT)
        with self.assertRaises(StateError) as raised:
            writer.register_variable("vector", "embedding", LARGE)
        self.assertEqual(raised.exception.code, "resource_exhausted")
        self.assertRegex(raised.exception.message, r"larger than max_send_message_length \(1000000 bytes\)")
        self.assertEqual(self.writer.list_variables(), [])

    def test_a_watch_event_over_max_receive_message_length_ends_the_watch_without_reconnecting(self):
        self.writer.register_variable("vector", "embedding", [0.0])
        reader = self.limited(max_receive_message_length=LIMIT)
        watch = reader.watch_variables(["vector"], include_initial=False, reconnect=FAST)
        timer = threading.Timer(20, watch.close)
        timer.start()
        self.addCleanup(timer.cancel)
        self.writer.set_variable("vector", LARGE)
        with self.assertRaises(StateError) as raised:
            next(iter(watch))
        self.assertEqual(raised.exception.code, "resource_exhausted")
        self.assertRegex(raised.exception.message, r"max_receive_message_length \(1000000 bytes\)")
        self.assertTrue(watch.closed)

    def test_the_default_limits_take_a_2m_element_embedding(self):
        vector = [index / 7 for index in range(2_000_000)]
        self.writer.register_variable("vector", "embedding", vector)
        self.assertEqual(self.limited().get_variable("vector"), vector)

    def test_a_limit_must_be_a_positive_number_of_bytes(self):
        for limits in ({"max_receive_message_length": 0}, {"max_send_message_length": -1}, {"max_receive_message_length": "1"}):
            with self.assertRaises(StateError) as raised:
                SessionContext(self.server.url, unique_session(), **limits)
            self.assertEqual(raised.exception.code, "invalid_value")
            self.assertIn(next(iter(limits)), raised.exception.message)


class AsyncMessageLimitsTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def test_a_response_or_a_watch_event_over_the_limit_fails_with_resource_exhausted(self):
        async with AsyncSessionContext(self.server.url, unique_session()) as writer:
            await writer.register_variable("vector", "embedding", [0.0])
            async with AsyncSessionContext(self.server.url, writer.session_id, max_receive_message_length=LIMIT) as reader:
                watch = await reader.watch_variables(["vector"], include_initial=False, reconnect=FAST)
                await writer.set_variable("vector", LARGE)
                with self.assertRaises(StateError) as raised:
                    await asyncio.wait_for(watch.__anext__(), 20)
                self.assertEqual(raised.exception.code, "resource_exhausted")
                self.assertRegex(raised.exception.message, r"max_receive_message_length \(1000000 bytes\)")
                with self.assertRaises(StateError) as raised:
                    await reader.get_variable("vector")
                self.assertEqual(raised.exception.code, "resource_exhausted")
                self.assertRegex(raised.exception.message, r"max_receive_message_length \(1000000 bytes\)")
