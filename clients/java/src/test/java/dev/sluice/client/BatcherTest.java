package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.testsupport.RecordingTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Batches close at batchSize or flushInterval, go one at a time, in order. */
class BatcherTest {

    static DistributedLogger.Builder base(RecordingTransport t) {
        return DistributedLogger.builder().serviceName("app").componentName("test").transport(t).shutdownHook(false).random(() -> 0.0);
    }

    private static List<Long> seqs(RecordingTransport.Call c) {
        List<Long> out = new ArrayList<>();
        for (Map<String, Object> e : c.entries()) out.add((Long) ((Map<?, ?>) e.get("context")).get("i"));
        return out;
    }

    @Test
    void fullBatchesGoAtOnceAndTheRestAfterTheFlushInterval() throws Exception {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = base(t).batchSize(3).flushInterval(Duration.ofMillis(400)).build();
        long t0 = System.nanoTime();
        for (int i = 0; i < 7; i++) logger.info("entry " + i, Map.of("i", i));
        t.awaitCalls(2, Duration.ofSeconds(2));
        List<RecordingTransport.Call> calls = t.calls();
        assertEquals(List.of(0L, 1L, 2L), seqs(calls.get(0)));
        assertEquals(List.of(3L, 4L, 5L), seqs(calls.get(1)));
        assertTrue((calls.get(1).atNanos() - t0) / 1e6 < 300, "full batches do not wait for the interval");
        t.awaitCalls(3, Duration.ofSeconds(3));
        RecordingTransport.Call last = t.calls().get(2);
        assertEquals(List.of(6L), seqs(last));
        double waited = (last.atNanos() - t0) / 1e6;
        assertTrue(waited >= 350 && waited < 2_000, "the partial batch went after the flush interval, " + waited + " ms");
        logger.stop();
        assertEquals(new Stats(7, 0, 0, 0, 0, 0, LoggerState.STOPPED), logger.stats());
        assertEquals(1, t.maxConcurrent(), "one batch in flight at a time");
    }

    @Test
    void flushSendsAPartialBatchNowAndWaitsForIt() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = base(t).batchSize(100).flushInterval(Duration.ofSeconds(30)).build();
        for (int i = 0; i < 5; i++) logger.info("entry " + i, Map.of("i", i));
        long t0 = System.nanoTime();
        assertTrue(logger.flush(Duration.ofSeconds(5)));
        assertTrue((System.nanoTime() - t0) / 1e6 < 2_000);
        assertEquals(1, t.calls().size());
        assertEquals(5, logger.stats().sent());
        assertEquals(0, logger.stats().buffered());
        logger.stop();
    }

    @Test
    void manyThreadsLoggingKeepEachThreadsOrderAndLoseNothing() throws Exception {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = base(t).batchSize(50).flushInterval(Duration.ofMillis(50)).build();
        int threads = 4;
        int per = 2_000;
        List<Thread> ts = new ArrayList<>();
        for (int k = 0; k < threads; k++) {
            int id = k;
            Thread th = new Thread(() -> {
                for (int i = 0; i < per; i++) logger.info("t", Map.of("thread", id, "i", i));
            });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) th.join();
        logger.stop();
        assertEquals(threads * per, logger.stats().sent());
        long[] next = new long[threads];
        for (Map<String, Object> e : t.entries()) {
            Map<?, ?> c = (Map<?, ?>) e.get("context");
            int id = ((Long) c.get("thread")).intValue();
            assertEquals(next[id]++, (long) (Long) c.get("i"));
        }
        for (int k = 0; k < threads; k++) assertEquals(per, next[k]);
        assertEquals(1, t.maxConcurrent());
    }

    @Test
    void entriesLoggedBeforeStartWaitAndMinLevelAndSamplingFilter() {
        RecordingTransport t = new RecordingTransport();
        double[] draws = {0.9, 0.1};
        int[] n = {0};
        DistributedLogger logger = base(t).autoStart(false).minLevel(Level.INFO).sampleRate(0.5)
                .random(() -> draws[n[0]++ % 2]).build();
        assertEquals(LoggerState.STOPPED, logger.state());
        logger.debug("below minLevel");
        logger.info("sampled out"); // draws 0.9 ≥ 0.5
        logger.info("kept"); // draws 0.1
        logger.error("errors are always kept");
        logger.fatal("so is fatal");
        assertEquals(3, logger.stats().buffered());
        assertEquals(1, logger.stats().sampled());
        assertTrue(logger.isEnabled(Level.WARN));
        logger.start();
        assertTrue(logger.flush(Duration.ofSeconds(5)));
        logger.stop();
        List<Object> messages = new ArrayList<>();
        for (Map<String, Object> e : t.entries()) messages.add(e.get("message"));
        assertEquals(List.of("kept", "errors are always kept", "so is fatal"), messages);
    }

    @Test
    void stopOnANeverStartedLoggerStillDelivers() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = base(t).autoStart(false).build();
        logger.warn("buffered before any start");
        logger.stop();
        assertEquals(1, logger.stats().sent());
        assertEquals(LoggerState.STOPPED, logger.state());
        // start() after stop() runs again
        logger.start();
        logger.info("again");
        assertTrue(logger.flush(Duration.ofSeconds(5)));
        logger.close();
        assertEquals(2, logger.stats().sent());
    }
}
