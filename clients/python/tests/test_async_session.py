"""AsyncSessionContext: the same operations as coroutines, against a real bridge-server."""

import unittest

from statebridge import AsyncSessionContext, StateError, Tensor

from support import BridgeServer, dead_port, unique_session


class AsyncSessionContextTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def asyncSetUp(self):
        self.ctx = await AsyncSessionContext.open(self.server.url, unique_session())

    async def asyncTearDown(self):
        await self.ctx.close()

    async def test_every_operation(self):
        self.assertTrue(self.ctx.created)
        variable = await self.ctx.register_variable("t", "float", 0.5, constraints={"max": 2}, description="d")
        self.assertEqual((variable.version, variable.source, variable.metadata), (0, "python", {"description": "d"}))
        self.assertEqual(await self.ctx.get_variable(variable.id), 0.5)
        self.assertEqual(await self.ctx.set_variable("t", 1, expected_version=0), 1)
        self.assertEqual(await self.ctx.get_variable("t"), 1.0)
        await self.ctx.register_variable("v", "tensor", Tensor([2], [1, 2]))
        self.assertEqual(await self.ctx.update_variables({"t": 1.5, "v": {"shape": [1], "data": [3]}}, atomic=True), {"t": 2, "v": 1})
        values = await self.ctx.get_variables(["t", "v", "missing"])
        self.assertEqual(values["t"], 1.5)
        self.assertEqual((values["v"].shape, values["v"].data), ([1], [3.0]))
        self.assertEqual([v.name for v in await self.ctx.list_variables("?")], ["t", "v"])
        await self.ctx.delete_variable("v")
        self.assertEqual((await self.ctx.get_variable_info("t")).version, 2)
        session = await self.ctx.heartbeat()
        self.assertEqual(session.variable_count, 1)
        self.assertEqual(await self.ctx.ping("p"), "p")

    async def test_errors_carry_the_same_codes(self):
        await self.ctx.register_variable("t", "float", 0.5, constraints={"max": 2})
        await self.ctx.register_variable("n", "integer", 0)
        cases = [
            ("not_found", self.ctx.get_variable("missing")),
            ("already_exists", self.ctx.register_variable("t", "float", 0.1)),
            ("invalid_type", self.ctx.register_variable("x", "quaternion", 0.1)),
            ("invalid_value", self.ctx.set_variable("n", 0.5)),
            ("constraint_violation", self.ctx.set_variable("t", 3.0)),
            ("version_conflict", self.ctx.set_variable("t", 1.0, expected_version=7)),
        ]
        for code, call in cases:
            with self.subTest(code=code), self.assertRaises(StateError) as caught:
                await call
            self.assertEqual(caught.exception.code, code)
        with self.assertRaises(StateError) as caught:
            await self.ctx.update_variables({"t": 1.0, "n": "bad"})
        self.assertEqual(caught.exception.code, "partial_failure")
        self.assertEqual(caught.exception.applied, {"t": 1})
        self.assertEqual(caught.exception.failures["n"].code, "invalid_value")

    async def test_unavailable_when_nothing_listens(self):
        with self.assertRaises(StateError) as caught:
            await AsyncSessionContext.open(f"127.0.0.1:{dead_port()}", unique_session(), timeout=2)
        self.assertEqual(caught.exception.code, "unavailable")

    async def test_a_closed_context_refuses_calls_with_closed(self):
        await self.ctx.close()
        with self.assertRaises(StateError) as caught:
            await self.ctx.get_variable("t")
        self.assertEqual(caught.exception.code, "closed")


if __name__ == "__main__":
    unittest.main()
