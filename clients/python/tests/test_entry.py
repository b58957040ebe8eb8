import json
import math
import re
import unittest
import uuid

from sluice_client.entry import iso_micros, level_from_number, serialize_entry, timestamp_micros, to_level

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def entry(*args, **kw):
    return json.loads(serialize_entry("my-app", "user-service", *args, **kw))


class EntryTest(unittest.TestCase):
    def test_fields_of_an_entry(self):
        e = entry("INFO", "User logged in", {"user_id": 12345, "login_method": "oauth"})
        self.assertRegex(e["timestamp"], TS)
        self.assertEqual(e["level"], "INFO")
        self.assertEqual(e["message"], "User logged in")
        self.assertEqual(e["app_id"], "my-app")
        self.assertEqual(e["source"], "user-service")
        self.assertEqual(e["context"]["user_id"], 12345)
        self.assertEqual(e["context"]["login_method"], "oauth")
        self.assertEqual(uuid.UUID(e["context"]["request_id"]).version, 4)
        self.assertNotIn("tags", e)
        self.assertNotIn("stack_trace", e)

    def test_request_ids_are_unique_uuid4(self):
        ids = {entry("INFO", "x")["context"]["request_id"] for _ in range(2000)}
        self.assertEqual(len(ids), 2000)
        for i in list(ids)[:50]:
            u = uuid.UUID(i)
            self.assertEqual((u.version, u.variant), (4, uuid.RFC_4122))

    def test_timestamps(self):
        self.assertRegex(timestamp_micros(), TS)
        self.assertEqual(iso_micros(0), "1970-01-01T00:00:00.000000Z")
        self.assertEqual(iso_micros(1700000000.123456), "2023-11-14T22:13:20.123456Z")
        self.assertEqual(iso_micros(1.9999996), "1970-01-01T00:00:02.000000Z")

    def test_tags_from_metadata_and_arguments(self):
        e = entry("WARN", "slow", {"ms": 3, "tags": ["db", 7]}, tags=["perf"])
        self.assertEqual(e["tags"], ["perf", "db", "7"])
        self.assertNotIn("tags", e["context"])
        c = entry("INFO", "payment_completed", {"amount": 1, "tags": ["x"]}, fields={"category": "event", "tags": ["custom"]})
        self.assertEqual((c["category"], c["tags"]), ("event", ["custom", "x"]))

    def test_exception_under_error_or_exc_gives_stack_trace(self):
        try:
            raise ValueError("CONN_TIMEOUT")
        except ValueError as err:
            caught = err
        for key in ("error", "err", "exc", "exception"):
            e = entry("ERROR", "db", {key: caught, "database": "users-db"})
            self.assertIn("Traceback (most recent call last)", e["stack_trace"])
            self.assertIn("ValueError: CONN_TIMEOUT", e["stack_trace"])
            self.assertEqual(e["context"][key], "CONN_TIMEOUT")
        other = entry("ERROR", "db", {"cause": KeyError("k")})
        self.assertEqual(other["context"]["cause"], {"type": "KeyError", "message": "'k'"})
        self.assertNotIn("stack_trace", other)
        never_raised = entry("ERROR", "x", {"error": RuntimeError("boom")})
        self.assertEqual(never_raised["stack_trace"], "RuntimeError: boom")

    def test_bad_metadata_is_a_note_not_an_exception(self):
        cyclic = {}
        cyclic["self"] = cyclic
        e = entry("INFO", "x", {"fine": 1, "nan": math.nan, "obj": object(), "cycle": cyclic, 3: "int key"})
        self.assertEqual(e["context"]["fine"], 1)
        self.assertEqual(e["context"]["3"], "int key")
        note = e["context"]["unserializable_metadata"]
        for key in ("nan", "obj", "cycle"):
            self.assertIn(key + ":", note)
            self.assertNotIn(key, e["context"])

    def test_common_types_are_written(self):
        import datetime, decimal, enum, pathlib

        class Color(enum.Enum):
            RED = "red"

        e = entry("INFO", "x", {"at": datetime.datetime(2024, 1, 2, 3, 4, 5), "d": decimal.Decimal("9.5"), "c": Color.RED,
                                "p": pathlib.PurePosixPath("/tmp/a"), "s": {1}, "b": b"hi", "u": uuid.UUID(int=1)})
        self.assertEqual(e["context"]["at"], "2024-01-02T03:04:05")
        self.assertEqual(e["context"]["d"], 9.5)
        self.assertEqual(e["context"]["c"], "red")
        self.assertEqual(e["context"]["p"], "/tmp/a")
        self.assertEqual(e["context"]["s"], [1])
        self.assertEqual(e["context"]["b"], "hi")
        self.assertNotIn("unserializable_metadata", e["context"])

    def test_metadata_that_is_not_a_mapping_and_odd_messages(self):
        self.assertEqual(entry("INFO", "x", [1, 2])["context"]["metadata"], [1, 2])

        class Bad:
            def __str__(self):
                raise RuntimeError("no")

        self.assertEqual(entry("INFO", Bad())["message"], "<Bad>")
        self.assertEqual(entry("INFO", 42)["message"], "42")
        self.assertEqual(entry("INFO", "ünïcode ✓")["message"], "ünïcode ✓")

    def test_levels(self):
        self.assertEqual([to_level(x) for x in ("debug", "INFO", "warning", "Warn", "err", "critical", "fatal", "nope")],
                         ["DEBUG", "INFO", "WARN", "WARN", "ERROR", "FATAL", "FATAL", None])
        self.assertEqual([level_from_number(n) for n in (0, 5, 10, 14, 15, 20, 24, 25, 30, 35, 40, 45, 50, 60)],
                         ["DEBUG", "DEBUG", "DEBUG", "DEBUG", "INFO", "INFO", "INFO", "WARN", "WARN", "ERROR", "ERROR", "FATAL", "FATAL", "FATAL"])
        self.assertIsNone(to_level(True))
        self.assertIsNone(to_level(math.nan))


if __name__ == "__main__":
    unittest.main()
