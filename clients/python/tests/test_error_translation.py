"""Translation of gRPC failures into StateError, without a server."""

import unittest

import grpc

from statebridge._proto.statebridge.v1 import statebridge_pb2 as pb
from statebridge._status import _Status, decode_error_detail, state_error_from_rpc


class FakeRpcError(grpc.RpcError):
    """A failed call as grpcio reports it: a status, details and trailing metadata."""

    def __init__(self, status, details, trailers=()):
        super().__init__(details)
        self._status, self._details, self._trailers = status, details, tuple(trailers)

    def code(self):
        return self._status

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailers


def status_details(detail):
    status = _Status(code=9, message=detail.message)
    any_detail = status.details.add()
    any_detail.type_url = "type.googleapis.com/statebridge.v1.ErrorDetail"
    any_detail.value = detail.SerializeToString()
    return status.SerializeToString()


class ErrorTranslationTest(unittest.TestCase):
    def test_the_trailer_code_wins_over_the_status(self):
        error = FakeRpcError(grpc.StatusCode.NOT_FOUND, "session_expired: gone", [("statebridge-error-code", "session_expired")])
        translated = state_error_from_rpc(error, "t")
        self.assertEqual(translated.code, "session_expired")
        self.assertEqual(str(translated), "session_expired: gone")

    def test_the_error_detail_gives_the_code_and_the_partial_failure(self):
        detail = pb.ErrorDetail(
            code="partial_failure",
            message="partial_failure: 1 of 2 failed",
            failures=[pb.IdentifierFailure(identifier="b", code="constraint_violation", message="too big")],
            applied={"a": 3},
            revision=12,
        )
        error = FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "x", [("grpc-status-details-bin", status_details(detail))])
        translated = state_error_from_rpc(error, "t")
        self.assertEqual(translated.code, "partial_failure")
        self.assertEqual(translated.failures["b"].code, "constraint_violation")
        self.assertEqual(translated.applied, {"a": 3})
        self.assertEqual(translated.revision, 12)

    def test_without_trailer_or_detail_the_status_decides(self):
        cases = [
            (grpc.StatusCode.INVALID_ARGUMENT, "invalid_value"),
            (grpc.StatusCode.OUT_OF_RANGE, "constraint_violation"),
            (grpc.StatusCode.ABORTED, "version_conflict"),
            (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
            (grpc.StatusCode.DEADLINE_EXCEEDED, "unavailable"),
            (grpc.StatusCode.INTERNAL, "unavailable"),
        ]
        for status, code in cases:
            with self.subTest(status=status):
                self.assertEqual(state_error_from_rpc(FakeRpcError(status, "d"), "t").code, code)

    def test_an_unknown_trailer_code_falls_back_to_the_status(self):
        error = FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "d", [("statebridge-error-code", "no_such_code")])
        self.assertEqual(state_error_from_rpc(error, "t").code, "already_exists")

    def test_malformed_status_details_are_ignored(self):
        self.assertIsNone(decode_error_detail(b"\xff\xff\xff"))


if __name__ == "__main__":
    unittest.main()
