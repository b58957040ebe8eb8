import email.utils
import time
import unittest

from sluice_client.backoff import BACKOFF_CAP, RETRY_AFTER_MAX, backoff_delay, parse_retry_after


class BackoffTest(unittest.TestCase):
    def test_full_jitter_ceiling_doubles_up_to_the_cap(self):
        ceilings = [backoff_delay(n, None, lambda: 1.0) for n in range(8)]
        self.assertEqual(ceilings, [1, 2, 4, 8, 16, 30, 30, 30])
        self.assertEqual(backoff_delay(3, None, lambda: 0.0), 0)
        self.assertEqual(backoff_delay(3, None, lambda: 0.25), 2.0)
        self.assertEqual(backoff_delay(1000, None, lambda: 1.0), BACKOFF_CAP)
        for n in range(12):
            d = backoff_delay(n)
            self.assertTrue(0 <= d <= min(30, 2 ** n))

    def test_retry_after_wins_and_is_capped(self):
        self.assertEqual(backoff_delay(0, 7.0, lambda: 1.0), 7.0)
        self.assertEqual(backoff_delay(10, 0.0, lambda: 1.0), 0.0)
        self.assertEqual(backoff_delay(0, 100000.0), RETRY_AFTER_MAX)

    def test_parse_retry_after(self):
        self.assertEqual(parse_retry_after("3"), 3.0)
        self.assertEqual(parse_retry_after(" 1.5 "), 1.5)
        self.assertIsNone(parse_retry_after(None))
        self.assertIsNone(parse_retry_after(""))
        self.assertIsNone(parse_retry_after("soon"))
        self.assertIsNone(parse_retry_after("-1"))
        now = 1_700_000_000.0
        date = email.utils.formatdate(now + 12, usegmt=True)
        self.assertAlmostEqual(parse_retry_after(date, now), 12.0, delta=1)
        self.assertEqual(parse_retry_after(email.utils.formatdate(now - 50, usegmt=True), now), 0.0)
        self.assertAlmostEqual(parse_retry_after(email.utils.formatdate(time.time() + 30, usegmt=True)), 30, delta=2)


if __name__ == "__main__":
    unittest.main()
