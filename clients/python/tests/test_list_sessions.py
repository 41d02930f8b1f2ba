"""list_sessions (ListSessions, the inspector's RPC) against real bridge-servers."""

import unittest

from statebridge import SessionContext, SessionPage, StateError, list_sessions

from support import BridgeServer, unique_session


class ListSessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BridgeServer(["--inspector", "--token", "secret"])
        cls.plain = BridgeServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.plain.stop()

    def test_pages_through_the_sessions_in_id_order_with_a_prefix(self):
        prefix = unique_session("list") + "-"
        for suffix in ("b", "a", "c"):
            SessionContext(self.server.url, prefix + suffix, token="secret").close()
        first = list_sessions(self.server.url, "secret", page_size=2, prefix=prefix)
        self.assertIsInstance(first, SessionPage)
        self.assertEqual([s.session_id for s in first.sessions], [prefix + "a", prefix + "b"])
        self.assertNotEqual(first.next_page_token, "")
        second = list_sessions(self.server.url, "secret", page_size=2, prefix=prefix, page_token=first.next_page_token)
        self.assertEqual([s.session_id for s in second.sessions], [prefix + "c"])
        self.assertEqual(second.next_page_token, "")
        self.assertRegex(second.sessions[0].incarnation, r"^[0-9a-f]{16}$")

    def test_a_wrong_token_is_refused_with_unauthenticated(self):
        with self.assertRaises(StateError) as raised:
            list_sessions(self.server.url, "wrong")
        self.assertEqual(raised.exception.code, "unauthenticated")

    def test_a_server_without_the_inspector_answers_not_found(self):
        with self.assertRaises(StateError) as raised:
            list_sessions(self.plain.url)
        self.assertEqual(raised.exception.code, "not_found")
        self.assertIn("--inspector", str(raised.exception))

    def test_a_negative_page_size_is_refused_before_any_call(self):
        with self.assertRaises(StateError) as raised:
            list_sessions(self.server.url, "secret", page_size=-1)
        self.assertEqual(raised.exception.code, "invalid_value")


if __name__ == "__main__":
    unittest.main()
