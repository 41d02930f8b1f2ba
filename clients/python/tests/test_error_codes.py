"""Every error code a Python caller can meet, from a real bridge-server."""

import unittest

from statebridge import SessionContext, StateError

from support import BridgeServer, dead_port, unique_session


class ErrorCodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.ctx = SessionContext(self.server.target, unique_session())
        self.addCleanup(self.ctx.close)

    def assertCode(self, code, call, *arguments, **keywords):
        with self.assertRaises(StateError) as caught:
            call(*arguments, **keywords)
        self.assertEqual(caught.exception.code, code, str(caught.exception))
        self.assertTrue(str(caught.exception).startswith(f"{code}: "), str(caught.exception))
        return caught.exception

    def test_not_found_for_an_unknown_identifier(self):
        error = self.assertCode("not_found", self.ctx.get_variable, "nope")
        self.assertIn("nope", str(error))
        self.assertCode("not_found", self.ctx.set_variable, "nope", 1.0)
        self.assertCode("not_found", self.ctx.delete_variable, "nope")

    def test_already_exists_for_a_taken_name(self):
        self.ctx.register_variable("x", "float", 1.0)
        self.assertCode("already_exists", self.ctx.register_variable, "x", "integer", 1)

    def test_invalid_type_for_an_unknown_type(self):
        self.assertCode("invalid_type", self.ctx.register_variable, "x", "complex", 1.0)

    def test_invalid_value_for_values_of_the_wrong_kind(self):
        self.ctx.register_variable("f", "float", 1.0)
        self.ctx.register_variable("i", "integer", 1)
        self.ctx.register_variable("b", "boolean", True)
        self.ctx.register_variable("e", "embedding", [1.0, 2.0])
        self.assertCode("invalid_value", self.ctx.set_variable, "f", "abc")
        self.assertCode("invalid_value", self.ctx.set_variable, "i", 1.5)
        self.assertCode("invalid_value", self.ctx.set_variable, "i", 2**53)
        self.assertCode("invalid_value", self.ctx.set_variable, "i", 2**70)
        self.assertCode("invalid_value", self.ctx.set_variable, "b", 1)
        self.assertCode("invalid_value", self.ctx.set_variable, "b", "true")
        self.assertCode("invalid_value", self.ctx.set_variable, "e", [1.0, float("nan")])
        self.assertCode("invalid_value", self.ctx.set_variable, "f", None)
        self.assertCode("invalid_value", self.ctx.register_variable, "var_0123456789abcdef01234567", "float", 1.0)
        self.assertCode("invalid_value", self.ctx.register_variable, "", "float", 1.0)
        self.assertCode("invalid_value", self.ctx.register_variable, "t", "tensor", {"shape": [2, 2], "data": [1.0]})
        self.assertCode("invalid_value", self.ctx.register_variable, "g", "float", 1.0, constraints={"length": 3})
        self.assertCode("invalid_value", self.ctx.register_variable, "h", "float", 1.0, metadata={"bad": float("nan")})
        self.assertEqual(self.ctx.get_variables(["f", "i", "b"]), {"f": 1.0, "i": 1, "b": True})

    def test_constraint_violation_for_values_the_constraints_refuse(self):
        self.ctx.register_variable("temperature", "float", 1.0, constraints={"min": 0, "max": 2})
        error = self.assertCode("constraint_violation", self.ctx.set_variable, "temperature", 3.5)
        self.assertIn("temperature", str(error))
        self.assertCode("constraint_violation", self.ctx.register_variable, "s", "string", "toolong", constraints={"maxLength": 3})
        self.assertCode("constraint_violation", self.ctx.register_variable, "c", "choice", "z", constraints={"choices": ["a"]})
        self.assertCode("constraint_violation", self.ctx.register_variable, "e", "embedding", [1.0], constraints={"dimensions": 2})
        self.assertEqual(self.ctx["temperature"], 1.0)

    def test_version_conflict_for_a_stale_expected_version(self):
        self.ctx.register_variable("x", "integer", 0)
        self.ctx.set_variable("x", 1)
        self.assertCode("version_conflict", self.ctx.set_variable, "x", 2, expected_version=0)
        self.assertEqual(self.ctx.get_variable_info("x").version, 1)

    def test_partial_failure_names_each_failure_and_what_was_applied(self):
        self.ctx.register_variable("good", "integer", 0)
        self.ctx.register_variable("bounded", "float", 0.0, constraints={"max": 1})
        before = self.ctx.get_session().revision
        error = self.assertCode(
            "partial_failure", self.ctx.update_variables, {"good": 5, "bounded": 9.0, "missing": 1.0}
        )
        self.assertEqual(set(error.failures), {"bounded", "missing"})
        self.assertEqual(error.failures["bounded"].code, "constraint_violation")
        self.assertEqual(error.failures["missing"].code, "not_found")
        self.assertEqual(error.applied, {"good": 1})
        self.assertEqual(error.revision, before + 1)
        self.assertEqual(self.ctx.get_variables(["good", "bounded"]), {"good": 5, "bounded": 0.0})

    def test_an_atomic_batch_with_a_bad_value_changes_nothing(self):
        self.ctx.register_variable("good", "integer", 0)
        self.ctx.register_variable("bounded", "float", 0.0, constraints={"max": 1})
        with self.assertRaises(StateError) as caught:
            self.ctx.update_variables({"good": 5, "bounded": 9.0}, atomic=True)
        self.assertNotEqual(caught.exception.code, "partial_failure")
        self.assertEqual(self.ctx.get_variables(["good", "bounded"]), {"good": 0, "bounded": 0.0})

    def test_session_expired_once_the_session_is_deleted(self):
        self.ctx.register_variable("x", "integer", 0)
        self.assertTrue(self.ctx.delete_session())
        self.assertCode("session_expired", self.ctx.get_variable, "x")
        self.assertCode("session_expired", self.ctx.heartbeat)

    def test_closed_after_close(self):
        self.ctx.close()
        self.assertCode("closed", self.ctx.list_variables)


class ServerOptionErrorsTest(unittest.TestCase):
    def test_resource_exhausted_past_the_variables_quota(self):
        with BridgeServer(["--max-variables", "2"]) as server:
            with SessionContext(server.target, unique_session()) as ctx:
                ctx.register_variable("a", "integer", 1)
                ctx.register_variable("b", "integer", 1)
                with self.assertRaises(StateError) as caught:
                    ctx.register_variable("c", "integer", 1)
                self.assertEqual(caught.exception.code, "resource_exhausted")

    def test_unauthenticated_without_the_right_token(self):
        with BridgeServer(["--token", "s3cret"]) as server:
            for token in (None, "wrong"):
                with self.subTest(token=token), self.assertRaises(StateError) as caught:
                    SessionContext(server.target, unique_session(), token=token)
                self.assertEqual(caught.exception.code, "unauthenticated")
            with SessionContext(server.target, unique_session(), token="s3cret") as ctx:
                ctx.register_variable("x", "integer", 1)
                self.assertEqual(ctx["x"], 1)

    def test_unavailable_when_nothing_listens(self):
        with self.assertRaises(StateError) as caught:
            SessionContext(f"127.0.0.1:{dead_port()}", unique_session(), timeout=2)
        self.assertEqual(caught.exception.code, "unavailable")

    def test_session_expired_after_the_server_restarts_empty(self):
        server = BridgeServer()
        try:
            ctx = SessionContext(server.target, unique_session())
            ctx.register_variable("x", "integer", 1)
            server = server.restart()
            with self.assertRaises(StateError) as caught:
                ctx.get_variable("x")
            self.assertEqual(caught.exception.code, "session_expired")
            ctx.close()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
