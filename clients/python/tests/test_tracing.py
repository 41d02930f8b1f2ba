"""Trace context: every call of a session carries the caller's traceparent, and the server's
access log (at debug) names the trace it joined."""

import asyncio
import json
import time
import unittest

import statebridge
from statebridge import AsyncSessionContext, SessionContext
from statebridge.tracing import set_traceparent_provider, trace_metadata

from support import BridgeServer, unique_session

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

try:
    import opentelemetry  # noqa: F401

    HAS_OPENTELEMETRY = True
except ImportError:
    HAS_OPENTELEMETRY = False


class TraceparentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer(["--log-level", "debug"])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def tearDown(self):
        set_traceparent_provider(None)

    def access_lines(self, session_id: str, count: int) -> list:
        """The server's access-log lines of ``session_id``'s calls, once there are ``count``."""
        deadline = time.monotonic() + 10
        while True:
            lines = []
            for raw in list(self.server.errors):
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if line.get("msg") == "call" and line.get("sessionId") == session_id:
                    lines.append(line)
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)

    def test_every_call_carries_the_traceparent_the_provider_gives(self):
        set_traceparent_provider(lambda: TRACEPARENT)
        session_id = unique_session("trace")
        with SessionContext(self.server.target, session_id) as ctx:
            ctx.register_variable("x", "float", 1.0)
            self.assertEqual(ctx["x"], 1.0)
        lines = self.access_lines(session_id, 3)
        self.assertEqual(
            [line["method"].rsplit("/", 1)[1] for line in lines],
            ["InitializeSession", "RegisterVariable", "GetVariable"],
        )
        self.assertEqual({line.get("traceId") for line in lines}, {TRACE_ID})

    def test_the_asyncio_context_carries_it_too(self):
        set_traceparent_provider(lambda: TRACEPARENT)
        session_id = unique_session("trace-async")

        async def run():
            ctx = await AsyncSessionContext.open(self.server.target, session_id)
            try:
                await ctx.register_variable("x", "float", 1.0)
            finally:
                await ctx.close()

        asyncio.run(run())
        lines = self.access_lines(session_id, 2)
        self.assertEqual(len(lines), 2)
        self.assertEqual({line.get("traceId") for line in lines}, {TRACE_ID})

    def test_without_a_provider_nothing_is_sent(self):
        session_id = unique_session("untraced")
        with SessionContext(self.server.target, session_id):
            pass
        (line,) = self.access_lines(session_id, 1)
        self.assertNotIn("traceId", line)

    def test_a_provider_that_fails_or_returns_nothing_sends_nothing_and_the_call_goes_on(self):
        def failing():
            raise RuntimeError("tracing is broken")

        for provider in (failing, lambda: None, lambda: 42):
            set_traceparent_provider(provider)
            session_id = unique_session("trace-broken")
            with self.assertLogs("statebridge", "WARNING") if provider is failing else _nothing():
                with SessionContext(self.server.target, session_id) as ctx:
                    self.assertTrue(ctx.created)
            (line,) = self.access_lines(session_id, 1)
            self.assertNotIn("traceId", line)

    def test_a_provider_must_be_callable(self):
        with self.assertRaises(TypeError):
            set_traceparent_provider("00-abc")  # type: ignore[arg-type]

    def test_the_hook_is_exported(self):
        self.assertIs(statebridge.set_traceparent_provider, set_traceparent_provider)

    @unittest.skipUnless(HAS_OPENTELEMETRY, "opentelemetry is not installed (Debian has no package for it)")
    def test_with_opentelemetry_the_current_context_is_injected(self):
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("client") as span:
            (pair,) = trace_metadata()
        self.assertEqual(pair[0], "traceparent")
        self.assertIn(format(span.get_span_context().trace_id, "032x"), pair[1])


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


if __name__ == "__main__":
    unittest.main()
