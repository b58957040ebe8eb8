package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.Test;

/** Full-jitter backoff and Retry-After, with the random source and the clock given. */
class BackoffTest {

    @Test
    void fullJitterDoublesUpToTheCap() {
        assertEquals(0, Backoff.delayMillis(0, -1, () -> 0.0));
        assertEquals(500, Backoff.delayMillis(0, -1, () -> 0.5));
        assertEquals(999, Backoff.delayMillis(0, -1, () -> 0.9999));
        assertEquals(1_000, Backoff.delayMillis(1, -1, () -> 0.5));
        assertEquals(4_000, Backoff.delayMillis(3, -1, () -> 0.5));
        assertEquals(8_000, Backoff.delayMillis(4, -1, () -> 0.5));
        // 2^5 s = 32 s is past the cap of 30 s.
        assertEquals(15_000, Backoff.delayMillis(5, -1, () -> 0.5));
        assertEquals(29_999, Backoff.delayMillis(30, -1, () -> 0.99999));
        assertEquals(15_000, Backoff.delayMillis(1_000, -1, () -> 0.5));
        // An odd random source never gives a negative or an over-long wait.
        assertEquals(0, Backoff.delayMillis(2, -1, () -> Double.NaN));
        assertEquals(4_000, Backoff.delayMillis(2, -1, () -> 7.0));
    }

    @Test
    void retryAfterWinsAndIsCappedAtFiveMinutes() {
        assertEquals(2_000, Backoff.delayMillis(0, 2_000, () -> 0.0));
        assertEquals(0, Backoff.delayMillis(4, 0, () -> 0.9));
        assertEquals(300_000, Backoff.delayMillis(0, 3_600_000, () -> 0.0));
    }

    @Test
    void retryAfterAsSecondsOrAnHttpDate() {
        long now = ZonedDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC).toInstant().toEpochMilli();
        assertEquals(3_000, Backoff.parseRetryAfter("3", now));
        assertEquals(1_500, Backoff.parseRetryAfter(" 1.5 ", now));
        String in7s = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.of(2024, 1, 2, 3, 4, 12, 0, ZoneOffset.UTC));
        assertEquals(7_000, Backoff.parseRetryAfter(in7s, now));
        assertEquals(7_000, Backoff.parseRetryAfter("Tue, 02 Jan 2024 03:04:12 GMT", now));
        assertEquals(0, Backoff.parseRetryAfter("Tue, 02 Jan 2024 03:00:00 GMT", now)); // in the past: at once
        assertEquals(-1, Backoff.parseRetryAfter(null, now));
        assertEquals(-1, Backoff.parseRetryAfter("", now));
        assertEquals(-1, Backoff.parseRetryAfter("soon", now));
        assertEquals(-1, Backoff.parseRetryAfter("-5", now));
    }
}
