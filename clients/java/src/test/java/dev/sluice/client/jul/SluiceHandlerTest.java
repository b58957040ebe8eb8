package dev.sluice.client.jul;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.DistributedLogger;
import dev.sluice.client.testsupport.FakeGateway;
import dev.sluice.client.testsupport.RecordingTransport;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** java.util.logging records → Sluice entries. */
class SluiceHandlerTest {

    private static Map<Object, Map<String, Object>> byMessage(List<Map<String, Object>> entries) {
        Map<Object, Map<String, Object>> m = new HashMap<>();
        for (Map<String, Object> e : entries) m.put(e.get("message"), e);
        return m;
    }

    private static Map<?, ?> ctx(Map<String, Object> e) {
        return (Map<?, ?>) e.get("context");
    }

    @Test
    void levelsFormattedMessagesSourceAndStackTraces() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger dl = DistributedLogger.builder().serviceName("app").componentName("jul").transport(t).shutdownHook(false).build();
        Logger jul = Logger.getLogger("dev.example.jul.levels");
        jul.setUseParentHandlers(false);
        jul.setLevel(Level.ALL);
        SluiceHandler h = new SluiceHandler(dl);
        h.setLevel(Level.ALL);
        jul.addHandler(h);
        try {
            jul.severe("disk failing");
            jul.warning("slow query");
            jul.info("hello");
            jul.config("configured");
            jul.fine("fine detail");
            jul.finest("finest detail");
            jul.log(Level.INFO, "user {0} logged in from {1}", new Object[] {"alice", "10.0.0.1"});
            jul.log(Level.SEVERE, "boom", new IllegalStateException("bad state"));
            LogRecord r = new LogRecord(Level.WARNING, "dated");
            r.setInstant(Instant.parse("2024-02-03T04:05:06.789012Z"));
            r.setLoggerName("dev.example.jul.levels");
            jul.log(r);
            h.flush();
        } finally {
            jul.removeHandler(h);
            h.close(); // shared: flushed, not stopped
        }
        assertEquals("batching", dl.stats().state().toString());
        dl.stop();

        Map<Object, Map<String, Object>> m = byMessage(t.entries());
        assertEquals("ERROR", m.get("disk failing").get("level"));
        assertEquals("WARN", m.get("slow query").get("level"));
        assertEquals("INFO", m.get("hello").get("level"));
        assertEquals("INFO", m.get("configured").get("level"));
        assertEquals("DEBUG", m.get("fine detail").get("level"));
        assertEquals("DEBUG", m.get("finest detail").get("level"));
        Map<String, Object> user = m.get("user alice logged in from 10.0.0.1");
        assertEquals("INFO", user.get("level"));
        assertEquals("dev.example.jul.levels", ctx(user).get("logger"));
        assertEquals(SluiceHandlerTest.class.getName(), ctx(user).get("class"));
        assertEquals("levelsFormattedMessagesSourceAndStackTraces", ctx(user).get("method"));
        assertTrue(ctx(user).get("thread_id") instanceof Long);
        assertEquals("app", user.get("app_id"));
        assertEquals("jul", user.get("source"));
        assertNull(user.get("stack_trace"));
        Map<String, Object> boom = m.get("boom");
        assertEquals("ERROR", boom.get("level"));
        assertTrue(((String) boom.get("stack_trace")).startsWith("java.lang.IllegalStateException: bad state\n\tat dev.sluice.client.jul.SluiceHandlerTest"));
        assertEquals("bad state", ctx(boom).get("error"));
        assertEquals("2024-02-03T04:05:06.789012Z", m.get("dated").get("timestamp"), "the record's own time");
        assertEquals(9, t.entries().size());
    }

    @Test
    void theHandlersLevelAndTheHttpClientsOwnRecordsAreRespected() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger dl = DistributedLogger.builder().transport(t).shutdownHook(false).build();
        SluiceHandler h = new SluiceHandler(dl);
        h.setLevel(Level.INFO);
        h.publish(new LogRecord(Level.FINE, "below the handler's level"));
        LogRecord own = new LogRecord(Level.SEVERE, "the JDK's HTTP client about our request");
        own.setLoggerName("jdk.internal.httpclient.debug");
        h.publish(own);
        h.publish(new LogRecord(Level.INFO, "kept"));
        h.close();
        h.publish(new LogRecord(Level.INFO, "after close"));
        dl.stop();
        assertEquals(List.of("kept"), t.entries().stream().map(e -> e.get("message")).toList());
        assertEquals(dev.sluice.client.Level.ERROR, SluiceHandler.toSluiceLevel(Level.SEVERE));
        assertEquals(dev.sluice.client.Level.ERROR, SluiceHandler.toSluiceLevel(Level.OFF));
        assertEquals(dev.sluice.client.Level.DEBUG, SluiceHandler.toSluiceLevel(Level.ALL));
    }

    @Test
    void configuredFromLoggingProperties() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            String p = "dev.sluice.client.jul.SluiceHandler.";
            String props = p + "endpoint=" + gw.url() + "\n" + p + "serviceName=props-app\n" + p + "componentName=props-comp\n"
                    + p + "apiKey=t.props-token\n" + p + "flushIntervalMs=50\n" + p + "batchSize=not-a-number\n" + p + "level=FINE\n";
            LogManager.getLogManager().readConfiguration(new ByteArrayInputStream(props.getBytes(StandardCharsets.ISO_8859_1)));
            SluiceHandler h;
            try {
                h = new SluiceHandler();
            } finally {
                LogManager.getLogManager().readConfiguration(); // back to the JDK's defaults
            }
            assertEquals(Level.FINE, h.getLevel());
            h.publish(new LogRecord(Level.FINER, "below"));
            h.publish(new LogRecord(Level.FINE, "from properties"));
            h.close(); // its own logger: stopped, so delivered
            assertFalse(h.logger().stats().buffered() > 0);
            FakeGateway.Request r = gw.requests().get(0);
            assertEquals("Bearer t.props-token", r.header("Authorization"));
            Map<String, Object> e = r.logs().get(0);
            assertEquals("from properties", e.get("message"));
            assertEquals("DEBUG", e.get("level"));
            assertEquals("props-app", e.get("app_id"));
            assertEquals("props-comp", e.get("source"));
            assertEquals(1, gw.entries().size());
        }
    }
}
