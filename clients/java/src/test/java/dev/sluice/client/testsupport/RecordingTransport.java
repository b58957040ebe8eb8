package dev.sluice.client.testsupport;

import dev.sluice.client.Transport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A transport that records every batch and answers from a script (then 201 once the script is done). A
 * step can hold the sender until the test releases it, to look at the logger while a batch is in flight.
 */
public final class RecordingTransport implements Transport {

    /** One send: the batch as the logger gave it, entries parsed. */
    public record Call(String batchId, List<Map<String, Object>> entries, long atNanos) {}

    /** One scripted answer; with {@code release} the send waits for it after counting down {@code entered}. */
    public record Step(Result result, CountDownLatch entered, CountDownLatch release) {}

    private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private final Deque<Step> script = new ArrayDeque<>();
    private final AtomicInteger concurrent = new AtomicInteger();
    private volatile int maxConcurrent;

    public synchronized RecordingTransport then(Result r) {
        script.addLast(new Step(r, null, null));
        return this;
    }

    public synchronized RecordingTransport then(Result r, int times) {
        for (int k = 0; k < times; k++) then(r);
        return this;
    }

    /** The next send waits for {@code release}; {@code entered} counts down when it is on the "wire". */
    public synchronized RecordingTransport thenHold(CountDownLatch entered, CountDownLatch release, Result r) {
        script.addLast(new Step(r, entered, release));
        return this;
    }

    private synchronized Step next() {
        return script.pollFirst();
    }

    @Override
    public Result send(String batchId, List<byte[]> entries) throws Exception {
        int now = concurrent.incrementAndGet();
        if (now > maxConcurrent) maxConcurrent = now;
        try {
            List<Map<String, Object>> parsed = new ArrayList<>();
            for (byte[] e : entries) parsed.add(MiniJson.object(new String(e, StandardCharsets.UTF_8)));
            calls.add(new Call(batchId, parsed, System.nanoTime()));
            Step step = next();
            if (step == null) return Result.delivered(201, false);
            if (step.entered() != null) step.entered().countDown();
            if (step.release() != null && !step.release().await(20, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
            return step.result();
        } finally {
            concurrent.decrementAndGet();
        }
    }

    public List<Call> calls() {
        synchronized (calls) {
            return new ArrayList<>(calls);
        }
    }

    /** Every entry of every call, in the order sent (retries included). */
    public List<Map<String, Object>> entries() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Call c : calls()) out.addAll(c.entries());
        return out;
    }

    public int maxConcurrent() {
        return maxConcurrent;
    }

    /** Waits until at least {@code n} sends happened. */
    public void awaitCalls(int n, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (calls.size() < n) {
            if (System.nanoTime() > end) throw new AssertionError("expected " + n + " sends, saw " + calls.size());
            Thread.sleep(5);
        }
    }
}
