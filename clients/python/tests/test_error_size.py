"""Errors that echo long input keep their code in grpcio: the server shortens what it echoes
until the status fits in 4 KiB of metadata. Regression: a 1024-character name in a
1024-character session id made grpcio fail with "received initial metadata size exceeds
limit", losing the code."""

import unittest

import grpc

from statebridge import SessionContext, StateError
from statebridge._proto.statebridge.v1 import statebridge_pb2 as pb
from statebridge._proto.statebridge.v1 import statebridge_pb2_grpc as pb_grpc

from support import BridgeServer

# The server's promise; grpcio's own default limit is twice as large.
METADATA_LIMIT = 4096


class ErrorSizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_a_status_echoing_long_input_fits_in_4_kib_of_metadata(self):
        channel = grpc.insecure_channel(self.server.target, options=[("grpc.max_metadata_size", METADATA_LIMIT)])
        self.addCleanup(channel.close)
        stub = pb_grpc.BridgeServiceStub(channel)
        for letter in ("n", "é", "😀"):
            request = pb.GetVariableRequest(session_id=letter * 1024, identifier=letter * 1024)
            with self.assertRaises(grpc.RpcError) as caught:
                stub.GetVariable(request, timeout=10)
            error = caught.exception
            trailers = dict(error.trailing_metadata() or ())
            self.assertIn(error.code(), (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), error.details())
            self.assertIn(trailers.get("statebridge-error-code"), ("session_expired", "invalid_value"))
            self.assertIn("grpc-status-details-bin", trailers)

    def test_the_client_reports_the_code_of_an_error_echoing_long_input(self):
        context = SessionContext(self.server.target, "s" * 1024)
        self.addCleanup(context.close)
        with self.assertRaises(StateError) as caught:
            context.get_variable("n" * 1024)
        self.assertIn(caught.exception.code, ("not_found", "session_expired", "invalid_value"), str(caught.exception))


if __name__ == "__main__":
    unittest.main()
