"""Every operation and every type of SessionContext, against a real bridge-server."""

import math
import re
import struct
import unittest

from statebridge import SessionContext, StateError, Tensor, Variable
from statebridge.values import pack_doubles

from support import BridgeServer, unique_session


class SessionContextTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.ctx = SessionContext(self.server.url, unique_session())
        self.addCleanup(self.ctx.close)

    def test_creating_a_context_creates_the_session_and_a_second_one_joins_it(self):
        self.assertTrue(self.ctx.created)
        with SessionContext(self.server.target, self.ctx.session_id) as other:
            self.assertFalse(other.created)
            self.assertEqual(other.session.session_id, self.ctx.session_id)

    def test_register_returns_the_variable_at_version_0_written_by_python(self):
        variable = self.ctx.register_variable(
            "temperature",
            "float",
            0.7,
            constraints={"min": 0, "max": 2},
            metadata={"owner": "tuner"},
            description="sampling temperature",
        )
        self.assertIsInstance(variable, Variable)
        self.assertRegex(variable.id, re.compile(r"^var_[0-9a-f]{24}$"))
        self.assertEqual((variable.name, variable.type, variable.value, variable.version), ("temperature", "float", 0.7, 0))
        self.assertEqual(variable.constraints, {"min": 0, "max": 2})
        self.assertEqual(variable.metadata, {"owner": "tuner", "description": "sampling temperature"})
        self.assertEqual(variable.source, "python")
        self.assertGreater(variable.created_at, 1_600_000_000_000)
        self.assertEqual(variable.created_at, variable.updated_at)

    def test_get_reads_by_name_and_by_id(self):
        variable = self.ctx.register_variable("count", "integer", 5)
        self.assertEqual(self.ctx.get_variable("count"), 5)
        self.assertEqual(self.ctx.get_variable(variable.id), 5)
        self.assertEqual(self.ctx.get_variable_info(variable.id).name, "count")

    def test_set_returns_the_new_version_and_merges_metadata(self):
        self.ctx.register_variable("count", "integer", 0, metadata={"a": 1})
        self.assertEqual(self.ctx.set_variable("count", 1), 1)
        self.assertEqual(self.ctx.set_variable("count", 1, metadata={"b": 2}), 2)
        info = self.ctx.get_variable_info("count")
        self.assertEqual((info.value, info.version, info.source), (1, 2, "python"))
        self.assertEqual(info.metadata, {"a": 1, "b": 2})
        self.assertGreaterEqual(info.updated_at, info.created_at)

    def test_set_with_the_expected_version_succeeds(self):
        self.ctx.register_variable("count", "integer", 0)
        self.assertEqual(self.ctx.set_variable("count", 10, expected_version=0), 1)
        self.assertEqual(self.ctx.set_variable("count", 11, expected_version=1), 2)

    def test_item_syntax_reads_and_writes(self):
        self.ctx.register_variable("name", "string", "a")
        self.ctx["name"] = "b"
        self.assertEqual(self.ctx["name"], "b")
        self.assertIn("name", self.ctx)
        self.assertNotIn("missing", self.ctx)

    def test_an_int_written_to_a_float_variable_is_stored_as_a_float(self):
        SessionContext(self.server.target, self.ctx.session_id).register_variable("temperature", "float", 0.5)
        self.ctx["temperature"] = 1
        value = self.ctx["temperature"]
        self.assertIsInstance(value, float)
        self.assertEqual(value, 1.0)
        self.ctx.update_variables({"temperature": 2})
        self.assertEqual(self.ctx["temperature"], 2.0)

    def test_a_whole_float_written_to_an_integer_variable_becomes_an_integer(self):
        self.ctx.register_variable("count", "integer", 0)
        self.ctx["count"] = 3.0
        self.assertIsInstance(self.ctx["count"], int)

    def test_get_variables_returns_what_exists_keyed_as_given(self):
        a = self.ctx.register_variable("a", "integer", 1)
        self.ctx.register_variable("b", "string", "x")
        self.assertEqual(self.ctx.get_variables(["b", a.id, "missing"]), {"b": "x", a.id: 1})
        self.assertEqual(self.ctx.get_variables([]), {})

    def test_update_variables_writes_every_value_in_one_revision(self):
        self.ctx.register_variable("a", "integer", 1)
        self.ctx.register_variable("b", "float", 1.0)
        for atomic in (False, True):
            with self.subTest(atomic=atomic):
                before = self.ctx.get_session().revision
                versions = self.ctx.update_variables({"a": 2, "b": 2.5}, atomic=atomic, metadata={"step": 1})
                self.assertEqual(self.ctx.get_session().revision, before + 1)
                self.assertEqual(set(versions), {"a", "b"})
                self.assertEqual(self.ctx.get_variables(["a", "b"]), {"a": 2, "b": 2.5})
                self.assertEqual(self.ctx.get_variable_info("a").metadata, {"step": 1})

    def test_list_variables_in_creation_order_with_an_anchored_glob(self):
        for name in ("model.lr", "model.depth", "data.size", "xmodel.lr"):
            self.ctx.register_variable(name, "float", 1.0)
        self.assertEqual([v.name for v in self.ctx.list_variables()], ["model.lr", "model.depth", "data.size", "xmodel.lr"])
        self.assertEqual([v.name for v in self.ctx.list_variables("model.*")], ["model.lr", "model.depth"])
        self.assertEqual([v.name for v in self.ctx.list_variables("*.lr")], ["model.lr", "xmodel.lr"])
        self.assertEqual(self.ctx.list_variables("nothing*"), [])

    def test_delete_variable_removes_it(self):
        self.ctx.register_variable("gone", "boolean", True)
        self.ctx.delete_variable("gone")
        with self.assertRaises(StateError) as caught:
            self.ctx.get_variable("gone")
        self.assertEqual(caught.exception.code, "not_found")
        self.ctx.register_variable("gone", "string", "back")
        self.assertEqual(self.ctx["gone"], "back")

    def test_every_mutation_takes_the_next_revision(self):
        start = self.ctx.get_session().revision
        self.ctx.register_variable("a", "integer", 1)
        self.ctx.set_variable("a", 2)
        self.ctx.update_variables({"a": 3}, atomic=True)
        self.ctx.delete_variable("a")
        self.assertEqual(self.ctx.get_session().revision, start + 4)

    def test_heartbeat_slides_the_expiry(self):
        first = self.ctx.heartbeat()
        second = self.ctx.heartbeat()
        self.assertEqual(first.session_id, self.ctx.session_id)
        self.assertGreaterEqual(second.expires_at, first.expires_at)
        self.assertGreater(second.expires_at, second.last_accessed_at)

    def test_a_new_session_takes_its_ttl_and_metadata(self):
        with SessionContext(self.server.target, unique_session(), ttl_seconds=120, session_metadata={"team": "py"}) as ctx:
            self.assertEqual(ctx.session.ttl_seconds, 120)
            self.assertEqual(ctx.session.metadata, {"team": "py"})

    def test_ping_answers(self):
        self.assertEqual(self.ctx.ping("hello"), "hello")

    def test_a_closed_context_refuses_every_call_with_closed(self):
        self.ctx.close()
        self.ctx.close()
        with self.assertRaises(StateError) as caught:
            self.ctx.get_variable("anything")
        self.assertEqual(caught.exception.code, "closed")


class TypesTest(unittest.TestCase):
    """Every type round-trips through the server unchanged."""

    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.ctx = SessionContext(self.server.target, unique_session())
        self.addCleanup(self.ctx.close)

    def round_trip(self, name, type, initial, written, constraints=None):
        self.ctx.register_variable(name, type, initial, constraints=constraints)
        self.assertEqual(self.ctx.get_variable_info(name).type, type)
        self.ctx.set_variable(name, written)
        return self.ctx.get_variable(name)

    def test_float_keeps_nan_infinities_and_negative_zero(self):
        self.ctx.register_variable("x", "float", 0.25)
        for value in (math.inf, -math.inf, 1e-300, 1.7976931348623157e308):
            self.ctx["x"] = value
            self.assertEqual(self.ctx["x"], value)
        self.ctx["x"] = math.nan
        self.assertTrue(math.isnan(self.ctx["x"]))
        self.ctx["x"] = -0.0
        self.assertEqual(math.copysign(1.0, self.ctx["x"]), -1.0)

    def test_integer_keeps_the_safe_range_exactly(self):
        self.ctx.register_variable("n", "integer", 0)
        for value in (2**53 - 1, -(2**53 - 1), 0, -1):
            self.ctx["n"] = value
            self.assertEqual(self.ctx["n"], value)
            self.assertIsInstance(self.ctx["n"], int)

    def test_string_keeps_any_unicode(self):
        self.assertEqual(self.round_trip("s", "string", "", "héllo 🌍 \u0000 end"), "héllo 🌍 \u0000 end")

    def test_boolean(self):
        self.assertIs(self.round_trip("flag", "boolean", True, False), False)

    def test_choice(self):
        self.assertEqual(self.round_trip("c", "choice", "a", "b", {"choices": ["a", "b"]}), "b")

    def test_module(self):
        self.assertEqual(self.round_trip("m", "module", "dspy.Predict", "dspy.ChainOfThought"), "dspy.ChainOfThought")

    def test_embedding_is_a_list_of_floats(self):
        value = self.round_trip("e", "embedding", [0.0, 0.0, 0.0], [0.5, -1, 3.25], {"dimensions": 3})
        self.assertEqual(value, [0.5, -1.0, 3.25])
        self.assertTrue(all(isinstance(element, float) for element in value))

    def test_tensor_accepts_a_tensor_or_a_mapping_and_returns_a_tensor(self):
        value = self.round_trip("t", "tensor", Tensor([2, 2], [1, 2, 3, 4]), {"shape": [1, 3], "data": [math.inf, -0.0, 5]})
        self.assertIsInstance(value, Tensor)
        self.assertEqual(value.shape, [1, 3])
        self.assertEqual(pack_doubles(value.data), struct.pack("<3d", math.inf, -0.0, 5.0))

    def test_a_million_element_tensor_round_trips_exactly(self):
        data = [index * 0.1 - 50_000 for index in range(1_000_000)]
        data[0], data[1], data[2], data[3] = math.nan, math.inf, -math.inf, -0.0
        self.ctx.register_variable("big", "tensor", Tensor([1000, 1000], data))
        value = self.ctx["big"]
        self.assertEqual(value.shape, [1000, 1000])
        self.assertEqual(pack_doubles(value.data), pack_doubles(data))

    def test_choice_and_module_written_by_python_keep_their_type(self):
        self.ctx.register_variable("c", "choice", "x", constraints={"choices": ["x", "y"]})
        with SessionContext(self.server.target, self.ctx.session_id) as fresh:
            fresh["c"] = "y"
            self.assertEqual(fresh.get_variable_info("c").type, "choice")


if __name__ == "__main__":
    unittest.main()
