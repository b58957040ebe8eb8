"""The HTTP transport against a small in-process gateway (http.server): headers, gzip, retries
with the same batch_id, a lost acknowledgement, timeouts, and the atexit hook."""
import email.utils
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import unittest
from contextlib import redirect_stderr

from sluice_client import USER_AGENT, DistributedLogger, LogConfig, ingest_url

from tests.helpers import FakeGateway

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))


class HttpTest(unittest.TestCase):
    def setUp(self):
        self._stderr = redirect_stderr(io.StringIO())
        self._stderr.__enter__()
        self.gateways = []

    def tearDown(self):
        for gw in self.gateways:
            gw.close()
        self._stderr.__exit__(None, None, None)

    def gateway(self, script=(), port=0):
        gw = FakeGateway(script, port)
        self.gateways.append(gw)
        return gw

    def logger(self, endpoint, **options):
        options.setdefault("handle_exit", False)
        rnd = options.pop("random", lambda: 0.0)
        return DistributedLogger(LogConfig(endpoint=endpoint, service_name="my-app", component_name="http-test", api_key="t.test-token", **options), random=rnd)

    def test_request_headers_and_body(self):
        gw = self.gateway()
        logger = self.logger(gw.url).start()
        logger.info("small", {"i": 1})
        self.assertTrue(logger.stop())
        (req,) = gw.requests
        h = {k.lower(): v for k, v in req["headers"].items()}
        self.assertEqual(req["path"], "/api/logs")
        self.assertEqual(h["authorization"], "Bearer t.test-token")
        self.assertEqual(h["content-type"], "application/json")
        self.assertRegex(h["user-agent"], r"^sluice-python/0\.1\.0 \(Python \d+\.\d+\.\d+\)$")
        self.assertEqual(h["user-agent"], USER_AGENT)
        self.assertNotIn("content-encoding", h, "a body under 1 KiB is not compressed")
        body = req["body"]
        self.assertEqual(set(body), {"batch_id", "logs"})
        self.assertRegex(body["batch_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(body["logs"][0]["message"], "small")
        self.assertEqual(body["logs"][0]["app_id"], "my-app")

    def test_large_bodies_are_gzipped_and_the_api_logs_endpoint_works_too(self):
        gw = self.gateway()
        logger = self.logger(gw.url + "/api/logs/").start()
        for i in range(50):
            logger.info("entry %d with some text to make the body larger than a kibibyte" % i, {"i": i})
        self.assertTrue(logger.stop())
        (req,) = gw.requests
        self.assertEqual(req["path"], "/api/logs")
        self.assertEqual({k.lower(): v for k, v in req["headers"].items()}["content-encoding"], "gzip")
        self.assertEqual(req["raw"][:2], b"\x1f\x8b")
        self.assertLess(len(req["raw"]), len(json.dumps(req["body"])) / 2)
        self.assertEqual([e["context"]["i"] for e in req["body"]["logs"]], list(range(50)))
        self.assertEqual(ingest_url("http://h:1"), "http://h:1/api/logs")
        self.assertEqual(ingest_url("http://h:1/prefix/"), "http://h:1/prefix/api/logs")
        self.assertEqual(ingest_url("http://h:1/api/logs"), "http://h:1/api/logs")

    def test_503_with_retry_after_then_201_same_batch_id_same_bytes(self):
        gw = self.gateway([(503, {"Retry-After": "0"}, b'{"error":"unavailable"}')])
        logger = self.logger(gw.url, random=lambda: 1.0)  # without Retry-After this would wait 1 s
        errors = []
        logger.on("error", errors.append)
        logger.start()
        for i in range(100):
            logger.info("retry %d" % i, {"i": i})
        t0 = time.monotonic()
        self.assertTrue(logger.stop())
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertEqual(len(gw.requests), 2)
        a, b = gw.requests
        self.assertEqual(a["body"]["batch_id"], b["body"]["batch_id"])
        self.assertEqual(a["raw"], b["raw"])
        self.assertEqual((errors[0]["status"], errors[0]["retry_in"]), (503, 0.0))
        self.assertIn("unavailable", errors[0]["error"])
        self.assertEqual(logger.stats()["sent"], 100)
        self.assertEqual(logger.stats()["retries"], 1)

    def test_429_with_an_http_date(self):
        when = email.utils.formatdate(time.time() + 1, usegmt=True)
        gw = self.gateway([(429, {"Retry-After": when}, b"{}")])
        logger = self.logger(gw.url).start()
        waits = []
        logger.on("error", lambda e: waits.append(e["retry_in"]))
        logger.info("x")
        self.assertTrue(logger.stop())
        self.assertEqual(len(gw.requests), 2)
        self.assertTrue(0 <= waits[0] <= 2, waits)

    def test_a_lost_acknowledgement_is_resent_with_the_same_batch_id_and_stored_once(self):
        gw = self.gateway(["drop"])
        logger = self.logger(gw.url)
        sent = []
        logger.on("batch_sent", sent.append)
        logger.start()
        for i in range(10):
            logger.info("lost-ack %d" % i)
        self.assertTrue(logger.stop())
        self.assertEqual(len(gw.requests), 2)
        self.assertEqual(gw.requests[0]["body"]["batch_id"], gw.requests[1]["body"]["batch_id"])
        self.assertEqual(list(gw.stored.values()), [10])
        self.assertEqual(len(sent), 1)
        self.assertEqual((sent[0]["status"], sent[0]["duplicate"], sent[0]["attempts"]), (200, True, 2))
        self.assertEqual(logger.stats()["sent"], 10)

    def test_a_400_is_permanent_and_the_next_batch_goes(self):
        gw = self.gateway([(400, {}, b'{"error":"invalid_entry","message":"entry 0: bad"}')])
        logger = self.logger(gw.url, batch_size=5)
        failed = []
        logger.on("batch_failed", failed.append)
        for i in range(10):
            logger.info("e %d" % i)
        logger.start()
        logger.stop()
        self.assertEqual(len(gw.requests), 2)
        self.assertEqual(failed[0]["status"], 400)
        self.assertTrue(failed[0]["permanent"])
        self.assertEqual(failed[0]["error"], "HTTP 400 invalid_entry: entry 0: bad")
        s = logger.stats()
        self.assertEqual((s["sent"], s["failed"], s["retries"]), (5, 5, 0))

    def test_a_slow_answer_times_out_and_is_retried(self):
        gw = self.gateway([("sleep", 1.0)])
        logger = self.logger(gw.url, request_timeout=0.2)
        errors = []
        logger.on("error", errors.append)
        logger.start()
        logger.info("slow")
        self.assertTrue(logger.stop(5))
        self.assertEqual(errors[0]["error"], "timeout")
        self.assertEqual(len({r["body"]["batch_id"] for r in gw.requests}), 1)
        self.assertEqual(list(gw.stored.values()), [1], "stored once although sent twice")

    def test_gateway_down_then_up(self):
        gw = self.gateway()
        port = gw.server.server_address[1]
        gw.close()
        self.gateways.remove(gw)
        logger = self.logger("http://127.0.0.1:%d" % port, flush_interval=0.05, random=lambda: 0.05)
        logger.start()
        for i in range(30):
            logger.info("down %d" % i, {"i": i})
        time.sleep(0.3)
        self.assertGreater(logger.stats()["retries"], 0)
        self.assertEqual(logger.stats()["buffered"], 30)
        revived = self.gateway(port=port)  # the gateway back on its port
        self.assertTrue(logger.stop(5))
        self.assertEqual([e["context"]["i"] for e in revived.entries()], list(range(30)))

    def test_an_app_that_just_exits_has_its_entries_delivered(self):
        gw = self.gateway()
        script = textwrap.dedent(
            """
            from sluice_client import DistributedLogger
            logger = DistributedLogger(endpoint=%r, service_name="my-app", flush_interval=60).start()
            for i in range(3):
                logger.info("exit %%d" %% i)
            """ % gw.url
        )
        env = dict(os.environ, PYTHONPATH=SRC)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr.decode())
        self.assertEqual([e["message"] for e in gw.entries()], ["exit 0", "exit 1", "exit 2"])


if __name__ == "__main__":
    unittest.main()
