package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.Transport.Result;
import dev.sluice.client.testsupport.RecordingTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A full buffer drops the oldest waiting entries, never the batch in flight, and says so once delivered. */
class OverflowTest {

    private static List<Object> messages(List<Map<String, Object>> entries) {
        List<Object> out = new ArrayList<>();
        for (Map<String, Object> e : entries) out.add(e.get("message"));
        return out;
    }

    @Test
    void dropsTheOldestWaitingAndReportsTheExactCountFirstInLine() throws Exception {
        CountDownLatch onTheWire = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        RecordingTransport t = new RecordingTransport().thenHold(onTheWire, release, Result.delivered(201, false));
        StateMachineTest.Recorder r = new StateMachineTest.Recorder();
        DistributedLogger logger = BatcherTest.base(t).listener(r).batchSize(2).maxBufferEntries(5).flushInterval(Duration.ofMillis(20)).build();
        logger.info("e0");
        logger.info("e1");
        assertTrue(onTheWire.await(5, TimeUnit.SECONDS)); // [e0, e1] in flight
        for (int i = 2; i < 12; i++) logger.info("e" + i);
        // 2 in flight + 3 waiting = the bound of 5: e2 … e8 went, the oldest first.
        Stats mid = logger.stats();
        assertEquals(7, mid.dropped());
        assertEquals(5, mid.buffered());
        assertEquals(7, r.dropped.stream().mapToInt(LoggerListener.Dropped::count).sum());
        assertTrue(r.dropped.stream().allMatch(d -> d.reason().equals("overflow")));
        release.countDown();
        logger.stop();

        List<Map<String, Object>> all = t.entries();
        assertEquals(List.of("e0", "e1"), messages(t.calls().get(0).entries()), "the batch in flight is never cut");
        Map<String, Object> warn = t.calls().get(1).entries().get(0);
        assertEquals("WARN", warn.get("level"));
        assertEquals("sluice.client", warn.get("category"));
        assertEquals(List.of("sluice-client", "dropped"), warn.get("tags"));
        Map<?, ?> ctx = (Map<?, ?>) warn.get("context");
        assertEquals(7L, ctx.get("dropped"));
        String since = (String) ctx.get("since");
        assertTrue(since.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"), since);
        assertEquals("sluice client: buffer overflow, 7 entries dropped since " + since, warn.get("message"));
        List<Object> rest = messages(all.subList(3, all.size()));
        assertEquals(List.of("e9", "e10", "e11"), rest);
        assertEquals(new Stats(6, 0, 7, 0, 0, 0, LoggerState.STOPPED), logger.stats());
    }

    @Test
    void theLossReportIsNeverDroppedItself() throws Exception {
        CountDownLatch onTheWire = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        RecordingTransport t = new RecordingTransport().thenHold(onTheWire, release, Result.delivered(201, false));
        DistributedLogger[] self = new DistributedLogger[1];
        boolean[] once = {false};
        // The listener runs on the sender after the delivery, with the report first in line and before the
        // next batch is taken: a flood then overflows the buffer around the report.
        DistributedLogger logger = BatcherTest.base(t).batchSize(3).maxBufferEntries(3).flushInterval(Duration.ofMillis(20))
                .listener(new LoggerListener() {
                    @Override
                    public void onBatchSent(BatchSent e) {
                        if (once[0]) return;
                        once[0] = true;
                        for (int i = 0; i < 50; i++) self[0].info("flood " + i);
                    }
                }).build();
        self[0] = logger;
        for (int i = 0; i < 3; i++) logger.info("first " + i);
        assertTrue(onTheWire.await(5, TimeUnit.SECONDS));
        for (int i = 0; i < 10; i++) logger.info("overflow " + i); // 10 dropped: 3 in flight fill the bound
        release.countDown();
        logger.stop();
        List<Map<String, Object>> second = t.calls().get(1).entries();
        assertEquals("sluice client: buffer overflow, 10 entries dropped since " + ((Map<?, ?>) second.get(0).get("context")).get("since"),
                second.get(0).get("message"), "the report survived the flood");
        assertEquals(List.of("flood 48", "flood 49"), messages(second.subList(1, 3)));
        // The flood's own loss goes in a second report after the next delivery.
        Map<String, Object> again = t.calls().get(2).entries().get(0);
        assertEquals(48L, ((Map<?, ?>) again.get("context")).get("dropped"));
        assertEquals(10 + 48, logger.stats().dropped());
    }

    @Test
    void theByteBoundDropsToo() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger logger = BatcherTest.base(t).autoStart(false).maxBufferBytes(2_000).build();
        for (int i = 0; i < 50; i++) logger.info("x".repeat(100));
        Stats s = logger.stats();
        assertTrue(s.buffered() >= 5 && s.buffered() < 12, s.toString());
        assertEquals(50, s.buffered() + s.dropped());
        logger.stop();
        assertEquals(s.buffered() + 1, logger.stats().sent()); // the survivors and the report
    }
}
