"""SluiceHandler: logging records → entries (levels, extra, exc_info, logger name), never raising."""
import io
import logging
import unittest
from contextlib import redirect_stderr

from sluice_client import DistributedLogger, LogConfig, SluiceHandler

from tests.helpers import FakeClock, FakeTransport


class HandlerTest(unittest.TestCase):
    def setUp(self):
        self.transport = FakeTransport(FakeClock())
        self.sluice = DistributedLogger(
            LogConfig(endpoint="http://unused.invalid", service_name="app", component_name="handler", handle_exit=False),
            transport=self.transport,
            clock=FakeClock(),
        )
        self.handler = SluiceHandler(self.sluice)
        self.log = logging.getLogger("tests.handler.%s" % self._testMethodName)
        self.log.setLevel(1)
        self.log.propagate = False
        self.log.addHandler(self.handler)

    def tearDown(self):
        self.log.removeHandler(self.handler)
        self.handler.close()
        self.sluice.stop()

    def entries(self):
        self.sluice.start()
        self.sluice.stop()
        return self.transport.entries()

    def test_levels_to_the_nearest_with_ties_to_the_more_severe(self):
        for n in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 5, 15, 24, 25, 35, 45, 99):
            self.log.log(n, "level %d", n)
        got = [e["level"] for e in self.entries()]
        self.assertEqual(got, ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL", "FATAL"])

    def test_message_extra_logger_name_tags_and_timestamp(self):
        self.log.info("Payment %s for %d", "accepted", 3, extra={"order_id": "ORD-789", "amount": 49.99, "tags": ["payment"]})
        (e,) = self.entries()
        self.assertEqual(e["message"], "Payment accepted for 3")
        self.assertEqual(e["context"]["order_id"], "ORD-789")
        self.assertEqual(e["context"]["amount"], 49.99)
        self.assertEqual(e["context"]["logger"], self.log.name)
        self.assertEqual(e["tags"], ["payment"])
        self.assertEqual(e["source"], "handler")
        for std in ("msg", "args", "levelno", "pathname", "lineno", "exc_info", "created", "thread", "process"):
            self.assertNotIn(std, e["context"])
        self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_exc_info_and_stack_info_give_the_stack_trace(self):
        try:
            1 / 0
        except ZeroDivisionError:
            self.log.exception("Payment failed", extra={"order_id": "ORD-790"})
        self.log.error("with stack", stack_info=True)
        err = ValueError("given, not raised")
        self.log.error("exc_info as an exception", exc_info=err)
        a, b, c = self.entries()
        self.assertEqual(a["level"], "ERROR")
        self.assertIn("Traceback (most recent call last)", a["stack_trace"])
        self.assertIn("ZeroDivisionError: division by zero", a["stack_trace"])
        self.assertEqual(a["context"]["order_id"], "ORD-790")
        self.assertIn("Stack (most recent call last)", b["stack_trace"])
        self.assertIn("ValueError: given, not raised", c["stack_trace"])

    def test_a_broken_record_never_raises_and_is_reported_once_a_minute(self):
        old = logging.raiseExceptions
        logging.raiseExceptions = True
        err = io.StringIO()
        try:
            with redirect_stderr(err):
                self.log.info("%d", "not a number")
                self.log.info("%d", "again")
        finally:
            logging.raiseExceptions = old
        self.assertEqual(err.getvalue().count("--- Logging error ---"), 1)
        self.log.info("after", extra={"obj": object()})
        (e,) = self.entries()
        self.assertEqual(e["message"], "after")
        self.assertIn("unserializable_metadata", e["context"])

    def test_a_handler_with_a_config_owns_its_logger(self):
        with redirect_stderr(io.StringIO()):
            own = SluiceHandler(LogConfig(endpoint="http://127.0.0.1:9", service_name="app", handle_exit=False, stop_timeout=0.2))
            self.assertEqual(own.logger.state, "batching")
            own.emit(logging.makeLogRecord({"msg": "x", "levelno": logging.INFO, "name": "n"}))
            own.close()
        self.assertEqual(own.logger.state, "stopped")
        self.assertEqual(own.logger.stats()["failed"], 1)
        shared = SluiceHandler(self.sluice)
        shared.close()
        self.assertNotEqual(self.sluice.state, "stopping")


if __name__ == "__main__":
    unittest.main()
