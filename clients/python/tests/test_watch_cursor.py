"""The bookkeeping that makes a watch resumable, without a server."""

import unittest

from statebridge import ReconnectPolicy, StateError
from statebridge._proto.statebridge.v1 import statebridge_pb2 as pb
from statebridge.watch import WatchCursor


def events(revision, *names):
    return pb.WatchVariablesResponse(
        events=pb.WatchEvents(
            revision=revision,
            events=[
                pb.WatchEvent(type=pb.WATCH_EVENT_TYPE_VALUE_CHANGE, name=name, identifier=name, revision=revision)
                for name in names
            ],
        )
    )


def heartbeat(revision, incarnation="", interval_ms=0):
    return pb.WatchVariablesResponse(
        heartbeat=pb.WatchHeartbeat(revision=revision, incarnation=incarnation, interval_ms=interval_ms)
    )


def created(revision, *ids, incarnation="", interval_ms=0):
    return pb.WatchVariablesResponse(
        created=pb.WatchCreated(revision=revision, ids=ids, incarnation=incarnation, heartbeat_interval_ms=interval_ms)
    )


def typed(kind, revision, identifier, id):
    event = pb.WatchEvent(type=kind, identifier=identifier, id=id, name=identifier, revision=revision)
    return pb.WatchVariablesResponse(events=pb.WatchEvents(revision=revision, events=[event]))


def cursor(include_initial=True, from_revision=None, policy=ReconnectPolicy(), incarnation=""):
    return WatchCursor("session", ["a", "b"], include_initial, from_revision, 1000, policy, incarnation)


class WatchCursorTest(unittest.TestCase):
    def test_the_first_request_asks_for_initial_values(self):
        request = cursor().request()
        self.assertTrue(request.include_initial)
        self.assertFalse(request.HasField("from_revision"))
        self.assertEqual(list(request.identifiers), ["a", "b"])
        self.assertEqual(request.heartbeat_interval_ms, 1000)

    def test_from_revision_overrides_include_initial(self):
        request = cursor(from_revision=4).request()
        self.assertEqual(request.from_revision, 4)
        self.assertFalse(request.include_initial)

    def test_a_reconnect_resumes_from_the_last_event_revision(self):
        watch = cursor()
        watch.accept(events(3, "a"))
        watch.accept(events(5, "a", "b"))
        request = watch.request()
        self.assertEqual(request.from_revision, 5)
        self.assertFalse(request.include_initial)

    def test_a_heartbeat_moves_the_resume_point_forward(self):
        watch = cursor()
        watch.accept(events(3, "a"))
        self.assertEqual(watch.accept(heartbeat(9)), [])
        self.assertEqual(watch.request().from_revision, 9)

    def test_a_heartbeat_before_the_initial_snapshot_does_not_skip_it(self):
        watch = cursor(include_initial=True)
        watch.accept(heartbeat(9))
        self.assertTrue(watch.request().include_initial)
        self.assertFalse(watch.request().HasField("from_revision"))

    def test_events_at_or_below_the_last_delivered_revision_are_dropped(self):
        watch = cursor()
        self.assertEqual(len(watch.accept(events(5, "a", "b"))), 2)
        self.assertEqual(watch.accept(events(5, "a", "b")), [])
        self.assertEqual(watch.accept(events(4, "a")), [])
        self.assertEqual([event.revision for event in watch.accept(events(6, "a"))], [6])

    def test_terminal_errors_are_raised_as_they_are(self):
        for code in ("session_expired", "not_found", "unauthenticated", "invalid_value"):
            with self.subTest(code=code), self.assertRaises(StateError) as caught:
                cursor().after_failure(StateError(code, "no"))
            self.assertEqual(caught.exception.code, code)

    def test_gives_up_with_unavailable_after_max_failures_in_a_row(self):
        watch = cursor(policy=ReconnectPolicy(base=0.001, cap=0.002, max_failures=3))
        watch.after_failure(StateError("unavailable", "down"))
        watch.after_failure(StateError("unavailable", "down"))
        with self.assertRaises(StateError) as caught:
            watch.after_failure(StateError("unavailable", "down"))
        self.assertEqual(caught.exception.code, "unavailable")
        self.assertIn("3 failures", str(caught.exception))

    def test_a_message_resets_the_failure_count(self):
        watch = cursor(policy=ReconnectPolicy(base=0.001, cap=0.002, max_failures=2))
        watch.after_failure(StateError("unavailable", "down"))
        watch.accept(heartbeat(1))
        watch.after_failure(StateError("unavailable", "down"))
        self.assertEqual(watch.failures, 1)


class WatchIdentityCursorTest(unittest.TestCase):
    """A watch follows the ids its identifiers named at the start, in one incarnation."""

    def test_a_resume_names_the_ids_the_first_created_told(self):
        watch = cursor(include_initial=False)
        watch.accept(created(3, "var_a", "var_b"))
        request = watch.request()
        self.assertEqual(list(request.identifiers), ["var_a", "var_b"])
        self.assertEqual(request.from_revision, 3)

    def test_a_deleted_event_ends_the_interest_of_its_identifier(self):
        watch = cursor(include_initial=False)
        watch.accept(created(3, "var_a", "var_b"))
        watch.accept(typed(pb.WATCH_EVENT_TYPE_DELETED, 4, "a", "var_a"))
        self.assertEqual(list(watch.request().identifiers), ["var_b"])
        watch.accept(typed(pb.WATCH_EVENT_TYPE_DELETED, 5, "b", "var_b"))
        self.assertIsNone(watch.request(), "nothing is left to follow, nor to reopen")

    def test_a_resume_that_finds_a_followed_id_gone_ends_its_identifier(self):
        watch = cursor(include_initial=False)
        watch.accept(created(3, "var_a", "var_b"))
        watch.request()
        watch.accept(created(3, "", "var_b"))
        self.assertEqual(list(watch.request().identifiers), ["var_b"])

    def test_events_of_a_stream_resumed_by_ids_carry_the_identifier_as_named(self):
        watch = cursor(include_initial=False)
        watch.accept(created(3, "var_a", "var_b"))
        watch.request()
        (event,) = watch.accept(typed(pb.WATCH_EVENT_TYPE_VALUE_CHANGE, 4, "var_a", "var_a"))
        self.assertEqual((event.identifier, event.id), ("a", "var_a"))

    def test_every_request_names_the_incarnation_given_or_first_told(self):
        given = cursor(incarnation="00000000000000aa")
        self.assertEqual(given.request().incarnation, "00000000000000aa")
        given.accept(created(1, "var_a", "var_b", incarnation="00000000000000bb"))
        self.assertEqual(given.request().incarnation, "00000000000000aa")
        learned = cursor()
        self.assertEqual(learned.request().incarnation, "")
        learned.accept(created(1, "var_a", "var_b", incarnation="00000000000000bb"))
        learned.accept(events(2, "a"))
        self.assertEqual(learned.request().incarnation, "00000000000000bb")

    def test_a_resync_behind_the_resume_point_is_delivered_and_the_watch_goes_on_from_it(self):
        watch = cursor(from_revision=100)
        (event,) = watch.accept(typed(pb.WATCH_EVENT_TYPE_RESYNC, 7, "a", "var_a"))
        self.assertEqual(event.type, "resync")
        self.assertEqual(watch.request().from_revision, 7)
        self.assertEqual([e.revision for e in watch.accept(events(8, "a"))], [8])

    def test_an_announced_heartbeat_interval_longer_than_asked_lengthens_the_silence_limit(self):
        watch = cursor()
        self.assertEqual(watch.silence_limit(3.0), 3.0)
        watch.accept(heartbeat(1, interval_ms=2000))
        self.assertEqual(watch.silence_limit(3.0), 6.0)


class ReconnectPolicyTest(unittest.TestCase):
    def test_delays_double_from_the_base_up_to_the_cap_with_jitter_below(self):
        policy = ReconnectPolicy(base=1.0, cap=30.0, jitter=0.2)
        for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (40, 30.0)]:
            for _ in range(50):
                delay = policy.delay(failures)
                self.assertLessEqual(delay, ceiling)
                self.assertGreaterEqual(delay, ceiling * 0.8)

    def test_the_defaults_are_one_second_thirty_seconds_ten_failures(self):
        policy = ReconnectPolicy()
        self.assertEqual((policy.base, policy.cap, policy.max_failures), (1.0, 30.0, 10))

    def test_invalid_policies_are_refused(self):
        for arguments in ({"base": 2, "cap": 1}, {"max_failures": 0}, {"jitter": 1.5}):
            with self.subTest(arguments=arguments), self.assertRaises(ValueError):
                ReconnectPolicy(**arguments)


if __name__ == "__main__":
    unittest.main()
