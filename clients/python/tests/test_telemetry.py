"""Telemetry: one OperationEvent per operation, to listeners and to the ``statebridge``
logger, against a real bridge-server."""

import asyncio
import logging
import unittest

import statebridge.telemetry as telemetry
from statebridge import AsyncSessionContext, SessionContext, StateError

from support import BridgeServer, unique_session


class Recorder:
    """A listener that keeps every event, added for one test."""

    def __init__(self, test: unittest.TestCase) -> None:
        self.events: list[telemetry.OperationEvent] = []
        test.addCleanup(telemetry.add_listener(self.events.append))

    def summary(self) -> list[tuple[str, str, "str | None"]]:
        return [(event.operation, event.outcome, event.error_code) for event in self.events]


class TelemetryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.ctx = SessionContext(self.server.url, unique_session())
        self.addCleanup(self.ctx.close)

    def test_a_listener_gets_exactly_one_event_per_operation_with_its_fields(self):
        recorder = Recorder(self)
        self.ctx.register_variable("count", "integer", 1)
        self.assertEqual(self.ctx["count"], 1)
        # Writing an int to a variable whose type this context has not learned reads it
        # first: still one operation, one event.
        with SessionContext(self.server.url, self.ctx.session_id) as other:
            other.register_variable("ratio", "float", 0.5)
        self.assertEqual(self.ctx.set_variable("ratio", 1), 1)
        self.ctx.update_variables({"count": 2}, atomic=True)
        self.ctx.get_variables(["count", "ratio"])
        self.ctx.list_variables("c*")
        watch = self.ctx.watch_variables(["count"])
        watch.close()
        self.ctx.delete_variable("count")
        self.ctx.get_session()
        self.ctx.close()
        own = [event for event in recorder.events if event.session_id == self.ctx.session_id]
        self.assertEqual(
            [event.operation for event in own],
            [
                "register_variable",
                "get_variable",
                "register_variable",  # by the other context, on the same session
                "close",
                "set_variable",
                "update_variables",
                "get_variables",
                "list_variables",
                "watch_variables",
                "delete_variable",
                "get_session",
                "close",
            ],
        )
        for event in own:
            self.assertEqual((event.provider, event.outcome, event.error_code), ("bridged", "ok", None))
            self.assertGreaterEqual(event.duration_ms, 0)

    def test_a_failed_operation_has_outcome_error_and_its_state_error_code(self):
        self.ctx.register_variable("count", "integer", 1)
        recorder = Recorder(self)
        with self.assertRaises(StateError):
            self.ctx.set_variable("count", 5, expected_version=7)
        with self.assertRaises(StateError):
            self.ctx.get_variable("missing")
        with SessionContext(self.server.url, self.ctx.session_id) as other:
            other.delete_session()
        with self.assertRaises(StateError):
            self.ctx.get_variable("count")
        self.assertEqual(
            recorder.summary(),
            [
                ("set_variable", "error", "version_conflict"),
                ("get_variable", "error", "not_found"),
                ("delete_session", "ok", None),
                ("close", "ok", None),
                ("get_variable", "error", "session_expired"),
            ],
        )

    def test_each_operation_is_one_debug_record_of_the_statebridge_logger(self):
        self.ctx.register_variable("count", "integer", 1)
        with self.assertLogs("statebridge", logging.DEBUG) as logs:
            self.ctx.set_variable("count", 2)
            with self.assertRaises(StateError):
                self.ctx.get_variable("missing")
        records = [record for record in logs.records if hasattr(record, "statebridge_event")]
        self.assertEqual([record.levelno for record in records], [logging.DEBUG, logging.DEBUG])
        self.assertEqual(
            [(record.statebridge_event.operation, record.statebridge_event.error_code) for record in records],
            [("set_variable", None), ("get_variable", "not_found")],
        )
        self.assertIn(f"set_variable ok on session {self.ctx.session_id} in ", records[0].getMessage())
        self.assertIn("(not_found)", records[1].getMessage())

    def test_a_listener_that_raises_is_logged_and_breaks_neither_the_call_nor_the_other_listeners(self):
        def failing(event):
            raise RuntimeError("listener bug")

        self.addCleanup(telemetry.add_listener(failing))
        recorder = Recorder(self)
        with self.assertLogs("statebridge", logging.ERROR) as logs:
            variable = self.ctx.register_variable("count", "integer", 1)
        self.assertEqual(variable.version, 0)
        self.assertEqual(recorder.summary(), [("register_variable", "ok", None)])
        self.assertIn("listener bug", logs.output[0])

    def test_what_a_listener_calls_publishes_nothing(self):
        self.ctx.register_variable("count", "integer", 1)
        seen = []

        def reading(event):
            seen.append(event.operation)
            self.ctx.get_variable("count")

        self.addCleanup(telemetry.add_listener(reading))
        self.ctx.set_variable("count", 2)
        self.assertEqual(seen, ["set_variable"])

    def test_a_removed_listener_gets_nothing(self):
        events = []
        remove = telemetry.add_listener(events.append)
        remove()
        telemetry.remove_listener(events.append)  # removing twice is harmless
        self.ctx.register_variable("count", "integer", 1)
        self.assertEqual(events, [])

    def test_a_listener_must_be_callable(self):
        with self.assertRaises(TypeError):
            telemetry.add_listener("not callable")

    def test_the_async_context_publishes_the_same_events(self):
        recorder = Recorder(self)
        session_id = unique_session()

        async def run():
            async with AsyncSessionContext(self.server.url, session_id) as ctx:
                await ctx.register_variable("ratio", "float", 0.5)
                await ctx.set_variable("ratio", 1)
                with self.assertRaises(StateError):
                    await ctx.set_variable("ratio", 2.0, expected_version=9)

        asyncio.run(run())
        self.assertEqual(
            [(event.operation, event.session_id, event.error_code) for event in recorder.events],
            [
                ("register_variable", session_id, None),
                ("set_variable", session_id, None),
                ("set_variable", session_id, "version_conflict"),
                ("close", session_id, None),
            ],
        )


if __name__ == "__main__":
    unittest.main()
