"""Value conversion to and from the wire, without a server."""

import math
import struct
import unittest
from array import array

from statebridge import StateError, Tensor
from statebridge._proto.statebridge.v1 import statebridge_pb2 as pb
from statebridge.values import decode_value, encode_value, pack_doubles, unpack_doubles


class EncodeValueTest(unittest.TestCase):
    def test_each_python_kind_goes_in_its_own_field(self):
        cases = [
            (1.5, "float_value"),
            (3, "integer_value"),
            (True, "boolean_value"),
            (False, "boolean_value"),
            ("text", "string_value"),
            ([1.0, 2.0], "embedding_value"),
            (Tensor(shape=[1], data=[1.0]), "tensor_value"),
            ({"shape": [2], "data": [1, 2]}, "tensor_value"),
        ]
        for value, field in cases:
            with self.subTest(value=value):
                self.assertEqual(encode_value(value).WhichOneof("kind"), field)

    def test_bool_is_never_sent_as_an_integer(self):
        self.assertEqual(encode_value(True, "integer").WhichOneof("kind"), "boolean_value")

    def test_an_int_for_a_float_variable_travels_as_a_float(self):
        encoded = encode_value(2, "float")
        self.assertEqual(encoded.WhichOneof("kind"), "float_value")
        self.assertEqual(encoded.float_value, 2.0)

    def test_strings_use_the_field_of_choice_and_module_variables(self):
        self.assertEqual(encode_value("a", "choice").WhichOneof("kind"), "choice_value")
        self.assertEqual(encode_value("a.b", "module").WhichOneof("kind"), "module_value")

    def test_none_is_an_empty_value(self):
        self.assertIsNone(encode_value(None).WhichOneof("kind"))

    def test_an_integer_beyond_64_bits_is_refused_with_invalid_value(self):
        with self.assertRaises(StateError) as caught:
            encode_value(2**64, "integer", "count")
        self.assertEqual(caught.exception.code, "invalid_value")
        self.assertIn('"count"', str(caught.exception))

    def test_an_integer_beyond_53_bits_is_sent_for_the_server_to_refuse(self):
        self.assertEqual(encode_value(2**53, "integer").integer_value, 2**53)

    def test_booleans_and_strings_in_an_embedding_are_refused(self):
        for bad in ([1.0, True], [1.0, "2"], [None]):
            with self.subTest(bad=bad), self.assertRaises(StateError) as caught:
                encode_value(bad, "embedding", "vector")
            self.assertEqual(caught.exception.code, "invalid_value")

    def test_objects_no_field_can_carry_are_refused(self):
        for bad in (object(), b"bytes", {"no": "shape"}):
            with self.subTest(bad=bad), self.assertRaises(StateError) as caught:
                encode_value(bad)
            self.assertEqual(caught.exception.code, "invalid_value")

    def test_tensor_shape_must_hold_integers(self):
        with self.assertRaises(StateError) as caught:
            encode_value({"shape": [1.5], "data": [1.0]})
        self.assertEqual(caught.exception.code, "invalid_value")


class PackedDoublesTest(unittest.TestCase):
    def test_packs_little_endian_doubles_bit_for_bit(self):
        values = [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
        self.assertEqual(pack_doubles(values), struct.pack("<8d", *values))

    def test_nan_survives_a_round_trip(self):
        unpacked = unpack_doubles(pack_doubles([math.nan]))
        self.assertTrue(math.isnan(unpacked[0]))

    def test_minus_zero_survives_a_round_trip(self):
        self.assertEqual(math.copysign(1.0, unpack_doubles(pack_doubles([-0.0]))[0]), -1.0)

    def test_buffers_of_doubles_pack_without_conversion(self):
        buffer = array("d", [1.0, 2.0, 3.0])
        self.assertEqual(pack_doubles(memoryview(buffer)), struct.pack("<3d", 1.0, 2.0, 3.0))
        self.assertEqual(pack_doubles(buffer), struct.pack("<3d", 1.0, 2.0, 3.0))

    def test_generators_of_numbers_are_accepted(self):
        self.assertEqual(pack_doubles(float(index) for index in range(3)), struct.pack("<3d", 0.0, 1.0, 2.0))

    def test_bytes_that_are_not_whole_doubles_are_refused(self):
        with self.assertRaises(StateError) as caught:
            unpack_doubles(b"\x00" * 9)
        self.assertEqual(caught.exception.code, "invalid_value")

    def test_a_million_element_tensor_round_trips_exactly(self):
        data = [index * 0.1 for index in range(1_000_000)]
        data[7], data[8], data[9] = math.inf, -math.inf, -0.0
        wire = encode_value(Tensor(shape=[1000, 1000], data=data)).SerializeToString()
        decoded = decode_value(pb.Value.FromString(wire))
        self.assertEqual(decoded.shape, [1000, 1000])
        self.assertEqual(pack_doubles(decoded.data), pack_doubles(data))


class DecodeValueTest(unittest.TestCase):
    def test_decodes_every_field(self):
        self.assertEqual(decode_value(pb.Value(float_value=0.5)), 0.5)
        self.assertEqual(decode_value(pb.Value(integer_value=-7)), -7)
        self.assertIs(decode_value(pb.Value(boolean_value=False)), False)
        self.assertEqual(decode_value(pb.Value(string_value="s")), "s")
        self.assertEqual(decode_value(pb.Value(choice_value="c")), "c")
        self.assertEqual(decode_value(pb.Value(module_value="m.n")), "m.n")
        self.assertEqual(decode_value(pb.Value(embedding_value=struct.pack("<2d", 1, 2))), [1.0, 2.0])
        tensor = decode_value(pb.Value(tensor_value=pb.TensorValue(shape=[2, 1], data=struct.pack("<2d", 3, 4))))
        self.assertEqual((tensor.shape, tensor.data), ([2, 1], [3.0, 4.0]))
        self.assertEqual(tensor.to_dict(), {"shape": [2, 1], "data": [3.0, 4.0]})
        self.assertIsNone(decode_value(pb.Value()))


if __name__ == "__main__":
    unittest.main()
