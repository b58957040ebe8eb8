"""The batcher, the state machine, the backoff, the bounded buffer and stop(), on a fake clock and transport."""
import io
import threading
import time
import unittest
from contextlib import redirect_stderr

from sluice_client import DistributedLogger, LogConfig

from tests.helpers import FakeClock, FakeTransport, fail, ok, wait_until


def make(clock=None, script=(), default=None, **options):
    clock = clock or FakeClock(auto=True)
    rnd = options.pop("random", None) or (lambda: 0.5)
    transport = FakeTransport(clock, script, default)
    cfg = LogConfig(endpoint="http://unused.invalid", service_name="app", component_name="unit", handle_exit=False, **options)
    logger = DistributedLogger(cfg, transport=transport, clock=clock, random=rnd)
    states = []
    logger.on("state", lambda e: states.append(e["to"]))
    return logger, transport, clock, states


def seqs(entries):
    return [e["context"]["seq"] for e in entries if "seq" in e["context"]]


class QuietStderr(unittest.TestCase):
    """The logger's once-a-minute stderr line is expected in these tests: kept out of the output."""

    def setUp(self):
        self._stderr = redirect_stderr(io.StringIO())
        self._stderr.__enter__()

    def tearDown(self):
        self._stderr.__exit__(None, None, None)


class BatcherTest(QuietStderr):
    def test_full_batches_go_at_once_a_partial_one_after_the_flush_interval(self):
        logger, transport, clock, _ = make(clock=FakeClock(auto=False), batch_size=100, flush_interval=5)
        for i in range(250):
            logger.info("e %d" % i, {"seq": i})  # before start(): waits in the buffer
        self.assertEqual(logger.stats()["buffered"], 250)
        logger.start()
        wait_until(lambda: len(transport.calls) == 2, what="two full batches")
        time.sleep(0.05)
        self.assertEqual(len(transport.calls), 2, "the partial batch waits for its interval")
        clock.advance(4.9)
        time.sleep(0.05)
        self.assertEqual(len(transport.calls), 2)
        clock.advance(0.2)
        wait_until(lambda: len(transport.calls) == 3, what="the partial batch")
        self.assertEqual([len(c.entries) for c in transport.calls], [100, 100, 50])
        self.assertEqual(seqs(transport.entries()), list(range(250)))
        self.assertEqual(len({c.batch_id for c in transport.calls}), 3)
        wait_until(lambda: logger.stats()["sent"] == 250)
        self.assertTrue(logger.stop())
        self.assertEqual(logger.stats(), {"sent": 250, "failed": 0, "dropped": 0, "buffered": 0, "retries": 0, "sampled": 0, "state": "stopped"})

    def test_flush_sends_a_partial_batch_now(self):
        logger, transport, _, _ = make(clock=FakeClock(auto=False))
        logger.start()
        for i in range(3):
            logger.info("e", {"seq": i})
        self.assertTrue(logger.flush(5))
        self.assertEqual([len(c.entries) for c in transport.calls], [3])
        self.assertTrue(logger.flush(), "an empty buffer flushes at once")
        logger.stop()

    def test_a_log_call_does_not_wait_for_the_batch_on_the_wire(self):
        gate = threading.Event()
        logger, transport, _, _ = make(script=[lambda: (gate.wait(10), ok())[1]], batch_size=10)
        logger.start()
        for i in range(10):
            logger.info("e", {"seq": i})
        wait_until(lambda: len(transport.calls) == 1)
        t0 = time.perf_counter()
        for i in range(10, 1010):
            logger.info("e", {"seq": i})
        self.assertLess(time.perf_counter() - t0, 1.0, "1000 log calls while a request hangs")
        self.assertEqual(logger.stats()["state"], "sending")
        gate.set()
        self.assertTrue(logger.stop())
        self.assertEqual(seqs(transport.entries()), list(range(1010)))

    def test_threads_logging_at_once_lose_nothing(self):
        logger, transport, _, _ = make(batch_size=50)
        logger.start()

        def work(t):
            for i in range(500):
                logger.info("t", {"seq": t * 1000 + i})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(logger.stop())
        got = seqs(transport.entries())
        self.assertEqual(sorted(got), sorted(t * 1000 + i for t in range(4) for i in range(500)))
        for t in range(4):  # each thread's entries in the order it logged them
            mine = [s for s in got if s // 1000 == t]
            self.assertEqual(mine, sorted(mine))

    def test_levels_custom_sampling_and_min_level(self):
        logger, transport, _, _ = make(min_level="info")
        logger.debug("hidden")
        logger.info("i")
        logger.warning("w")
        logger.warn("w2")
        logger.error("e")
        logger.critical("c")
        logger.fatal("f")
        logger.log(35, "thirty-five")
        logger.custom("payment_completed", {"amount": 99.99, "currency": "USD"})
        logger.start()
        logger.stop()
        got = [(e["level"], e["message"]) for e in transport.entries()]
        self.assertEqual(got, [("INFO", "i"), ("WARN", "w"), ("WARN", "w2"), ("ERROR", "e"), ("FATAL", "c"), ("FATAL", "f"),
                               ("ERROR", "thirty-five"), ("INFO", "payment_completed")])
        custom = transport.entries()[-1]
        self.assertEqual((custom["category"], custom["tags"], custom["context"]["amount"]), ("event", ["custom"], 99.99))

        sampled, t2, _, _ = make(sample_rate=0.5, random=iter([0.9, 0.1, 0.9, 0.9]).__next__)
        sampled.info("dropped by sampling")  # 0.9 >= 0.5
        sampled.info("kept")  # 0.1
        sampled.warning("dropped too")  # 0.9
        sampled.error("errors are always kept")  # never drawn
        sampled.start()
        sampled.stop()
        self.assertEqual([e["message"] for e in t2.entries()], ["kept", "errors are always kept"])
        self.assertEqual(sampled.stats()["sampled"], 2)

    def test_exc_info_inside_except(self):
        logger, transport, _, _ = make()
        try:
            {}["k"]
        except KeyError:
            logger.error("lookup failed", {"key": "k"}, exc_info=True)
            logger.exception("via exception()")
        logger.error("no exception being handled", exc_info=True)
        logger.start()
        logger.stop()
        a, b, c = transport.entries()
        self.assertIn("KeyError: 'k'", a["stack_trace"])
        self.assertIn("Traceback", b["stack_trace"])
        self.assertNotIn("stack_trace", c)

    def test_log_calls_never_raise(self):
        logger, transport, _, _ = make()

        class Hostile:
            def __str__(self):
                raise RuntimeError("str")

            def __repr__(self):
                raise RuntimeError("repr")

        cyclic = []
        cyclic.append(cyclic)
        logger.info(Hostile(), {"h": Hostile(), "c": cyclic})
        logger.info("not a dict", "just a string")
        logger.log(object(), "unknown level")
        logger.info("fine")
        logger.start()
        logger.stop()
        entries = transport.entries()
        self.assertEqual(len(entries), 4)
        self.assertIn("unserializable_metadata", entries[0]["context"])
        self.assertEqual(entries[1]["context"]["metadata"], "just a string")
        self.assertEqual(entries[2]["level"], "INFO")


class StateAndRetryTest(QuietStderr):
    def test_states_through_retries_same_batch_id_and_full_jitter(self):
        logger, transport, _, states = make(script=[fail(503), fail(None, error="ConnectionRefusedError"), fail(503)], random=lambda: 0.5)
        errors = []
        logger.on("error", errors.append)
        for i in range(3):
            logger.info("e", {"seq": i})
        logger.start()
        self.assertTrue(logger.flush(5))
        self.assertEqual(len(transport.calls), 4)
        self.assertEqual(len({c.batch_id for c in transport.calls}), 1, "a retry keeps its batch_id")
        waits = [round(b.at - a.at, 6) for a, b in zip(transport.calls, transport.calls[1:])]
        self.assertEqual(waits, [0.5, 1.0, 2.0], "random 0.5 of 1, 2, 4 s")
        self.assertEqual([e["retry_in"] for e in errors], [0.5, 1.0, 2.0])
        logger.stop()
        self.assertEqual(states, ["starting", "batching", "sending", "error", "retrying", "sending", "error", "retrying",
                                  "sending", "error", "retrying", "sending", "batching", "stopping", "stopped"])
        self.assertEqual(logger.stats(), {"sent": 3, "failed": 0, "dropped": 0, "buffered": 0, "retries": 3, "sampled": 0, "state": "stopped"})

    def test_retry_after_wins_over_the_backoff_and_is_capped(self):
        logger, transport, _, _ = make(script=[fail(429, retry_after=7), fail(503, retry_after=3600), fail(408)], random=lambda: 1.0)
        logger.info("e")
        logger.start()
        self.assertTrue(logger.flush(5))
        waits = [round(b.at - a.at, 6) for a, b in zip(transport.calls, transport.calls[1:])]
        self.assertEqual(waits, [7.0, 300.0, 4.0])
        logger.stop()

    def test_a_permanent_4xx_is_counted_reported_and_the_next_batch_goes(self):
        logger, transport, _, _ = make(script=[fail(400, retryable=False, error="HTTP 400 invalid_entry")], batch_size=2)
        failed = []
        logger.on("batch_failed", failed.append)
        for i in range(4):
            logger.info("e", {"seq": i})
        logger.start()
        logger.stop()
        self.assertEqual(len(transport.calls), 2)
        self.assertNotEqual(transport.calls[0].batch_id, transport.calls[1].batch_id)
        self.assertEqual(seqs(transport.calls[1].entries), [2, 3])
        self.assertEqual(failed, [{"batch_id": transport.calls[0].batch_id, "count": 2, "status": 400, "error": "HTTP 400 invalid_entry", "permanent": True}])
        self.assertEqual(logger.stats()["failed"], 2)
        self.assertEqual(logger.stats()["sent"], 2)
        self.assertEqual(logger.stats()["retries"], 0)

    def test_after_max_retries_failed_keeps_buffering_and_probing_then_recovers(self):
        clock = FakeClock(auto=False)
        logger, transport, _, states = make(clock=clock, default=fail(503), max_retries=2, batch_size=1, random=lambda: 1.0)
        failed = []
        logger.on("batch_failed", failed.append)
        logger.start()
        logger.info("e", {"seq": 0})
        wait_until(lambda: len(transport.calls) == 1)
        clock.advance(1)  # retry 0 waited ≤ 1 s
        wait_until(lambda: len(transport.calls) == 2)
        clock.advance(2)  # retry 1 waited ≤ 2 s
        wait_until(lambda: logger.state == "failed", what="failed after 2 retries")
        self.assertEqual(len(transport.calls), 3)
        self.assertEqual([f["permanent"] for f in failed], [False])
        self.assertFalse(logger.flush(0.05), "flush gives up with a failed logger")
        for i in range(1, 4):
            logger.info("while failed", {"seq": i})
        self.assertEqual(logger.stats()["buffered"], 4)
        clock.advance(4)  # probes at the backoff: still failing
        wait_until(lambda: len(transport.calls) == 4)
        wait_until(lambda: logger.state == "failed")
        self.assertEqual(len(failed), 1, "failed is reported once, not per probe")
        transport.default = ok()
        clock.advance(8)
        wait_until(lambda: logger.stats()["sent"] == 4, what="recovery")
        self.assertEqual(logger.state, "batching")
        self.assertEqual(seqs(transport.entries())[-4:], [0, 1, 2, 3])
        self.assertEqual(len({c.batch_id for c in transport.calls[:5]}), 1)
        self.assertIn("failed", states)
        self.assertEqual(states[-1], "batching")
        logger.stop()


class BufferTest(QuietStderr):
    def test_overflow_drops_the_oldest_and_one_warn_entry_reports_the_count(self):
        logger, transport, _, _ = make(max_buffer_entries=50, batch_size=10)
        dropped = []
        logger.on("dropped", dropped.append)
        for i in range(120):
            logger.info("overflow %d" % i, {"seq": i})
        self.assertEqual((logger.stats()["dropped"], logger.stats()["buffered"]), (70, 50))
        self.assertEqual(sum(d["count"] for d in dropped), 70)
        logger.start()
        self.assertTrue(logger.stop())
        self.assertEqual(logger.stats()["sent"], 51)
        entries = transport.entries()
        self.assertEqual(seqs(entries), list(range(70, 120)))
        warn = transport.calls[1].entries[0]  # first in line after the first delivery
        self.assertEqual(warn["level"], "WARN")
        self.assertEqual(warn["category"], "sluice.client")
        self.assertEqual(warn["tags"], ["sluice-client", "dropped"])
        self.assertEqual(warn["context"]["dropped"], 70)
        self.assertRegex(warn["message"], r"^sluice client: buffer overflow, 70 entries dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(warn["message"].rsplit(" ", 1)[1], warn["context"]["since"])
        self.assertEqual(len([e for e in entries if e.get("category") == "sluice.client"]), 1)

    def test_the_batch_in_flight_is_never_cut_and_the_loss_report_never_dropped(self):
        gate = threading.Event()
        clock = FakeClock(auto=False)
        logger, transport, _, _ = make(clock=clock, script=[lambda: (gate.wait(10), ok())[1]], max_buffer_entries=15, batch_size=10)
        logger.start()
        for i in range(10):
            logger.info("e", {"seq": i})
        wait_until(lambda: len(transport.calls) == 1)
        for i in range(10, 22):
            logger.info("e", {"seq": i})  # 10 in flight + 5 waiting: 7 dropped
        self.assertEqual(logger.stats()["dropped"], 7)
        self.assertEqual(logger.stats()["buffered"], 15)
        gate.set()
        wait_until(lambda: logger.stats()["sent"] == 10)
        # The report and 5 entries wait for the interval (the clock stands still): overflow now
        # drops waiting entries, never the report.
        wait_until(lambda: logger.stats()["buffered"] == 6)
        transport.default = fail(503)  # hold what is sent next in flight
        for i in range(22, 40):
            logger.info("e", {"seq": i})
        transport.default = ok()
        clock.auto = True
        self.assertTrue(logger.stop(5))
        # A batch answered 503 was sent again: each entry once, by its request_id.
        unique = list({e["context"]["request_id"]: e for e in transport.entries()}.values())
        reports = [e for e in unique if e.get("category") == "sluice.client"]
        self.assertGreaterEqual(len(reports), 1)
        self.assertEqual(reports[0]["context"]["dropped"], 7)
        s = logger.stats()
        self.assertEqual(sum(r["context"]["dropped"] for r in reports), s["dropped"], "every drop is reported")
        self.assertEqual(s["sent"], 40 - s["dropped"] + len(reports))
        self.assertEqual(seqs(transport.entries()[:10]), list(range(10)), "the batch in flight went whole")

    def test_the_byte_bound(self):
        logger, _, _, _ = make(max_buffer_bytes=2000)
        for i in range(100):
            logger.info("x" * 100, {"seq": i})
        s = logger.stats()
        self.assertGreater(s["dropped"], 0)
        self.assertEqual(s["dropped"] + s["buffered"], 100)
        self.assertLessEqual(s["buffered"] * 150, 2000 + 150 * 2)


class StopTest(QuietStderr):
    def test_stop_gives_up_at_its_deadline_and_counts_the_rest_as_failed(self):
        logger, transport, _, states = make(clock=FakeClock(auto=False), default=fail(None, error="ConnectionRefusedError"), batch_size=10)
        dropped = []
        logger.on("dropped", dropped.append)
        logger.start()
        for i in range(25):
            logger.info("e", {"seq": i})
        wait_until(lambda: len(transport.calls) == 1)
        t0 = time.monotonic()
        self.assertFalse(logger.stop(0.3))
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(len(transport.calls), 2, "stop cut the retry wait short: one more attempt")
        s = logger.stats()
        self.assertEqual((s["failed"], s["sent"], s["buffered"], s["state"]), (25, 0, 0, "stopped"))
        self.assertEqual(dropped, [{"count": 25, "reason": "stop"}])
        self.assertEqual(states[-2:], ["stopping", "stopped"])
        self.assertEqual(transport.closed, 1)

    def test_stop_does_not_wait_past_its_deadline_for_a_hanging_request(self):
        gate = threading.Event()
        logger, _, _, _ = make(script=[lambda: (gate.wait(10), ok())[1]])
        logger.start()
        logger.info("e")
        logger.flush(0.05)
        t0 = time.monotonic()
        self.assertFalse(logger.stop(0.2))
        self.assertLess(time.monotonic() - t0, 1.5)
        gate.set()
        time.sleep(0.05)
        self.assertEqual(logger.stats()["sent"], 0, "the late answer of an abandoned batch counts nothing")
        self.assertEqual(logger.stats()["failed"], 1)

    def test_stop_from_failed_still_delivers(self):
        logger, transport, _, states = make(clock=FakeClock(auto=False), default=fail(503), max_retries=0)
        logger.start()
        logger.info("e")
        logger.flush(0.5)
        wait_until(lambda: logger.state == "failed")
        transport.default = ok()
        self.assertTrue(logger.stop(2))
        self.assertEqual(logger.stats()["sent"], 1)
        self.assertEqual(states[-3:], ["failed", "stopping", "stopped"])

    def test_stop_without_start_delivers_and_restart_works(self):
        logger, transport, _, _ = make()
        logger.info("before start")
        self.assertTrue(logger.stop())
        self.assertEqual(len(transport.entries()), 1)
        self.assertTrue(logger.stop(), "a second stop is a no-op")
        logger.info("after stop")  # waits for the next start
        self.assertEqual(logger.stats()["buffered"], 1)
        logger.start()
        self.assertTrue(logger.stop())
        self.assertEqual([e["message"] for e in transport.entries()], ["before start", "after stop"])

    def test_listener_errors_are_reported_not_raised(self):
        logger, transport, _, _ = make()
        logger.on("batch_sent", lambda e: 1 / 0)
        with self.assertRaises(ValueError):
            logger.on("nope", print)
        logger.start()
        logger.info("e")
        self.assertTrue(logger.stop())
        self.assertEqual(logger.stats()["sent"], 1)


if __name__ == "__main__":
    unittest.main()
