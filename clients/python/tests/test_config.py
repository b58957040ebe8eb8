import json
import os
import tempfile
import unittest
from unittest import mock

from sluice_client import LogConfig


class ConfigTest(unittest.TestCase):
    def test_defaults(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            c = LogConfig()
        self.assertEqual(c.endpoint, "http://localhost:9000")
        self.assertEqual((c.batch_size, c.flush_interval, c.max_retries), (100, 5.0, 5))
        self.assertEqual((c.max_buffer_entries, c.max_buffer_bytes), (10_000, 8 * 1024 * 1024))
        self.assertEqual((c.request_timeout, c.stop_timeout, c.sample_rate, c.handle_exit), (10.0, 10.0, 1.0, True))
        self.assertIsNone(c.api_key)
        self.assertIsNone(c.service_name)

    def test_explicit_then_environment_then_file_then_defaults(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sluice.json")
            with open(path, "w") as f:
                json.dump({"endpoint": "http://file:1", "service_name": "from-file", "component_name": "from-file",
                           "batch_size": 7, "flush_interval": 0.5}, f)
            env = {"SLUICE_URL": "http://env:2", "SLUICE_TOKEN": "t.env", "SLUICE_CONFIG_FILE": path}
            with mock.patch.dict(os.environ, env, clear=True):
                c = LogConfig(service_name="explicit")
                self.assertEqual(c.service_name, "explicit")
                self.assertEqual(c.endpoint, "http://env:2")
                self.assertEqual(c.api_key, "t.env")
                self.assertEqual((c.component_name, c.batch_size, c.flush_interval), ("from-file", 7, 0.5))
                self.assertEqual(c.max_retries, 5)
            with mock.patch.dict(os.environ, {}, clear=True):
                c = LogConfig.from_file(path, batch_size=9)
                self.assertEqual((c.endpoint, c.service_name, c.batch_size), ("http://file:1", "from-file", 9))

    def test_bad_files_and_values(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.json")
            with open(path, "w") as f:
                json.dump({"batchsize": 3}, f)
            with self.assertRaisesRegex(ValueError, "batchsize"):
                LogConfig.from_file(path)
            with self.assertRaises(OSError):
                LogConfig.from_file(os.path.join(d, "missing.json"))
        with mock.patch.dict(os.environ, {}, clear=True):
            c = LogConfig(batch_size=0, flush_interval=-1, sample_rate=2, max_retries=-1, request_timeout=float("nan"))
        self.assertEqual((c.batch_size, c.flush_interval, c.sample_rate, c.max_retries, c.request_timeout), (100, 5.0, 1.0, 5, 10.0))
        self.assertEqual(LogConfig(max_retries=0).max_retries, 0)

    def test_the_token_is_not_in_repr(self):
        c = LogConfig(api_key="t.secret-token")
        self.assertNotIn("secret", repr(c))


if __name__ == "__main__":
    unittest.main()
