package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.Transport.Result;
import dev.sluice.client.testsupport.RecordingTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The seed's states, observed through a listener and stats(). */
class StateMachineTest {

    /** Records every state change and batch event. */
    static final class Recorder implements LoggerListener {
        final List<String> states = Collections.synchronizedList(new ArrayList<>());
        final List<BatchSent> sent = Collections.synchronizedList(new ArrayList<>());
        final List<BatchFailed> failed = Collections.synchronizedList(new ArrayList<>());
        final List<Dropped> dropped = Collections.synchronizedList(new ArrayList<>());
        final List<String> errors = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void onStateChange(LoggerState from, LoggerState to) {
            if (states.isEmpty()) states.add(from.toString());
            states.add(to.toString());
        }

        @Override
        public void onBatchSent(BatchSent e) {
            sent.add(e);
        }

        @Override
        public void onBatchFailed(BatchFailed e) {
            failed.add(e);
        }

        @Override
        public void onDropped(Dropped e) {
            dropped.add(e);
        }

        @Override
        public void onError(String message, Throwable cause) {
            errors.add(message);
        }

        List<String> states() {
            synchronized (states) {
                return new ArrayList<>(states);
            }
        }
    }

    private static DistributedLogger.Builder base(RecordingTransport t, Recorder r) {
        return BatcherTest.base(t).listener(r).flushInterval(Duration.ofMillis(20));
    }

    @Test
    void aDeliveryAndARetryWalkTheSeedsStates() throws Exception {
        RecordingTransport t = new RecordingTransport().then(Result.retry(503, -1, "HTTP 503"));
        Recorder r = new Recorder();
        DistributedLogger logger = base(t, r).build();
        logger.info("one");
        assertTrue(logger.flush(Duration.ofSeconds(5)));
        logger.stop();
        assertEquals(List.of("stopped", "starting", "batching", "sending", "error", "retrying", "sending", "batching", "stopping", "stopped"), r.states());
        assertEquals(1, r.sent.size());
        assertEquals(2, r.sent.get(0).attempts());
        assertEquals(201, r.sent.get(0).status());
        List<RecordingTransport.Call> calls = t.calls();
        assertEquals(calls.get(0).batchId(), calls.get(1).batchId(), "a retry keeps its batch_id");
        assertEquals(calls.get(0).entries(), calls.get(1).entries());
        assertEquals(new Stats(1, 0, 0, 0, 1, 0, LoggerState.STOPPED), logger.stats());
        assertTrue(r.errors.get(0).contains("HTTP 503"));
    }

    @Test
    void afterMaxRetriesItIsFailedKeepsBufferingAndADeliveryBringsItBack() throws Exception {
        CountDownLatch probing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        RecordingTransport t = new RecordingTransport()
                .then(Result.retry(0, -1, "connection refused"), 3) // the attempt and 2 retries
                .thenHold(probing, release, Result.retry(0, 0, "connection refused")) // a probe while failed
                ; // then 201
        Recorder r = new Recorder();
        DistributedLogger logger = base(t, r).maxRetries(2).build();
        logger.info("first");
        assertFalse(logger.flush(Duration.ofSeconds(5)), "flush gives up when the logger fails");
        assertEquals(LoggerState.FAILED, logger.state());
        assertEquals(1, r.failed.size());
        assertFalse(r.failed.get(0).permanent(), "kept and retried while failed");
        probing.await();
        assertEquals(LoggerState.FAILED, logger.state(), "a probe leaves the state at failed");
        logger.info("second"); // still accepted
        assertEquals(2, logger.stats().buffered());
        release.countDown();
        // A flush that starts before the held probe has failed gives up with it (the logger is
        // failed): flush again until the next probe, the scripted 201, has delivered.
        boolean delivered = false;
        for (int i = 0; i < 20 && !delivered; i++) delivered = logger.flush(Duration.ofSeconds(5));
        assertTrue(delivered);
        assertEquals(LoggerState.BATCHING, logger.state());
        logger.stop();
        List<String> s = r.states();
        assertEquals(List.of("stopped", "starting", "batching", "sending", "error", "retrying", "sending", "error", "retrying", "sending", "error", "failed",
                "batching", "sending", "batching", "stopping", "stopped"), s);
        assertEquals(new Stats(2, 0, 0, 0, 4, 0, LoggerState.STOPPED), logger.stats());
        assertEquals(1, r.failed.size(), "one report per batch, not one per probe");
        assertEquals(1, t.calls().stream().map(RecordingTransport.Call::batchId).distinct().count() - 1);
    }

    @Test
    void aPermanentRefusalFailsThatBatchAndTheNextGoesOn() throws Exception {
        RecordingTransport t = new RecordingTransport().then(Result.permanent(400, "HTTP 400 invalid_entry"));
        Recorder r = new Recorder();
        DistributedLogger logger = base(t, r).batchSize(2).build();
        logger.info("a");
        logger.info("b");
        logger.info("c");
        logger.info("d");
        logger.stop();
        assertEquals(new Stats(2, 2, 0, 0, 0, 0, LoggerState.STOPPED), logger.stats());
        assertEquals(1, r.failed.size());
        assertTrue(r.failed.get(0).permanent());
        assertEquals(400, r.failed.get(0).status());
        assertEquals(2, t.calls().size(), "never retried");
        assertFalse(r.states().contains("retrying"));
    }

    @Test
    void stopFromFailedDeliversWithoutWaitingForTheProbe() throws Exception {
        RecordingTransport t = new RecordingTransport().then(Result.retry(503, -1, "HTTP 503")); // then 201
        Recorder r = new Recorder();
        DistributedLogger logger = base(t, r).maxRetries(0).random(() -> 0.999).build();
        logger.info("x");
        assertFalse(logger.flush(Duration.ofSeconds(5)));
        // Failed, the next probe ~30 s away (0.999 of the cap): stop() cuts that wait short.
        assertEquals(LoggerState.FAILED, logger.state());
        long t0 = System.nanoTime();
        logger.stop();
        assertTrue((System.nanoTime() - t0) / 1e6 < 3_000, "stop did not wait for the probe");
        assertEquals(new Stats(1, 0, 0, 0, 1, 0, LoggerState.STOPPED), logger.stats());
        assertEquals(List.of("stopped", "starting", "batching", "sending", "error", "failed", "stopping", "stopped"), r.states());
    }

    @Test
    void stopGivesUpAtItsDeadlineAndCountsWhatIsLeft() {
        RecordingTransport t = new RecordingTransport().then(Result.retry(503, 60_000, "HTTP 503"), 10);
        Recorder r = new Recorder();
        DistributedLogger logger = base(t, r).batchSize(2).stopTimeout(Duration.ofMillis(300)).build();
        for (int i = 0; i < 5; i++) logger.info("e" + i, Map.of("i", i));
        long t0 = System.nanoTime();
        logger.stop();
        double took = (System.nanoTime() - t0) / 1e6;
        assertTrue(took >= 250 && took < 2_000, "stop took " + took + " ms");
        assertEquals(new Stats(0, 5, 0, 0, logger.stats().retries(), 0, LoggerState.STOPPED), logger.stats());
        assertEquals(5, r.failed.stream().mapToInt(LoggerListener.BatchFailed::count).sum());
        assertTrue(r.failed.stream().allMatch(LoggerListener.BatchFailed::permanent));
        assertEquals(List.of(new LoggerListener.Dropped(5, "stop")), r.dropped);
        logger.info("after stop: buffered until a start");
        assertEquals(1, logger.stats().buffered());
    }

    @Test
    void aListenerThatThrowsBreaksNothingAndLogCallsNeverThrow() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = BatcherTest.base(t).listener(new LoggerListener() {
            @Override
            public void onStateChange(LoggerState from, LoggerState to) {
                throw new IllegalStateException("listener bug");
            }
        }).build();
        logger.log(null, null, null, null);
        logger.info("fine", null, null);
        logger.stop();
        assertEquals(2, logger.stats().sent());
    }
}
