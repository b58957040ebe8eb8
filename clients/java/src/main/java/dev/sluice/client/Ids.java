package dev.sluice.client;

import java.security.SecureRandom;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** UUID v4s for {@code batch_id} and {@code request_id}. */
final class Ids {
    private Ids() {}

    private static final SecureRandom SECURE = new SecureRandom();
    /**
     * Random per process: XORed into the thread-local sequence so two processes seeded alike
     * (ThreadLocalRandom seeds from the clock) still draw different request ids.
     */
    private static final long SALT_HI = SECURE.nextLong();
    private static final long SALT_LO = SECURE.nextLong();

    /**
     * A batch id from SecureRandom: the gateway stores a batch_id once, so a collision would lose
     * a batch. One per batch, on the sender thread, so its cost does not matter.
     */
    static String batchId() {
        return UUID.randomUUID().toString();
    }

    /**
     * A request id, cheap enough for every log call: {@link UUID#randomUUID()} takes a lock and
     * reads /dev/urandom now and then, which a log call must not do.
     */
    static String requestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long hi = (r.nextLong() ^ SALT_HI) & ~0xF000L | 0x4000L;
        long lo = (r.nextLong() ^ SALT_LO) & ~(0xC000000000000000L) | 0x8000000000000000L;
        return new UUID(hi, lo).toString();
    }
}
