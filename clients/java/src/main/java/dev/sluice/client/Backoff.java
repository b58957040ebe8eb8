package dev.sluice.client;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.function.DoubleSupplier;

/** Retry delays: exponential backoff with full jitter, and {@code Retry-After}. The same rules as the Node library. */
final class Backoff {
    static final long BASE_MS = 1_000;
    static final long CAP_MS = 30_000;
    /** A {@code Retry-After} longer than this is cut to it: a misconfigured proxy must not park the buffer for hours. */
    static final long RETRY_AFTER_MAX_MS = 300_000;

    private Backoff() {}

    /**
     * The wait before retry number {@code attempt} (0 for the first retry): a random time in
     * [0, min(cap, base·2^attempt)] ("full jitter": 1, 2, 4, 8 … s, 30 s at most), or the gateway's
     * {@code Retry-After} when it sent one ({@code retryAfterMs >= 0}), at most 5 minutes.
     */
    static long delayMillis(int attempt, long retryAfterMs, DoubleSupplier random) {
        if (retryAfterMs >= 0) return Math.min(retryAfterMs, RETRY_AFTER_MAX_MS);
        long ceiling = Math.min(CAP_MS, BASE_MS << Math.min(Math.max(attempt, 0), 30));
        double r = random.getAsDouble();
        if (!(r >= 0)) r = 0; // NaN or negative from an odd source: no wait rather than a negative one
        if (r > 1) r = 1;
        return (long) Math.floor(r * ceiling);
    }

    /**
     * {@code Retry-After} as seconds or an HTTP date → milliseconds from {@code nowMillis}; -1 when absent or
     * unreadable (then the backoff applies).
     */
    static long parseRetryAfter(String value, long nowMillis) {
        if (value == null) return -1;
        String v = value.trim();
        if (v.isEmpty()) return -1;
        if (v.matches("\\d+(\\.\\d+)?")) {
            double seconds = Double.parseDouble(v);
            return Math.round(Math.min(seconds, 1e9) * 1000);
        }
        try {
            long at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
            return Math.max(0, at - nowMillis);
        } catch (DateTimeParseException e) {
            return -1;
        }
    }
}
