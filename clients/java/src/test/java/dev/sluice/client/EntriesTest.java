package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.testsupport.MiniJson;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** What one log call becomes on the wire. */
class EntriesTest {
    private static final Entries.Identity WHO = new Entries.Identity("my-application", "user-service");

    private static Map<String, Object> entry(Level level, String message, Map<String, ?> metadata, Throwable thrown) {
        byte[] json = Entries.entry(WHO, Instant.now(), level, message, metadata, thrown, null, null, null);
        return MiniJson.object(new String(json, StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> ctx(Map<String, Object> e) {
        return (Map<String, Object>) e.get("context");
    }

    @Test
    void timestampsHaveMicrosecondsInUtc() {
        assertEquals("2024-03-05T07:08:09.123456Z", Entries.timestamp(Instant.parse("2024-03-05T07:08:09.123456789Z")));
        assertEquals("1970-01-01T00:00:00.000000Z", Entries.timestamp(Instant.EPOCH));
        assertEquals("2023-12-31T23:59:59.999999Z", Entries.timestamp(Instant.parse("2023-12-31T23:59:59.999999Z")));
        // The cached date moves on with the day.
        assertEquals("2024-01-01T00:00:00.000001Z", Entries.timestamp(Instant.parse("2024-01-01T00:00:00.000001Z")));
        assertTrue(Entries.now().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"));
    }

    @Test
    void fieldsAndContextWithAFreshRequestId() {
        Map<String, Object> e = entry(Level.INFO, "User logged in successfully", Map.of("user_id", 12345, "login_method", "oauth"), null);
        assertEquals("INFO", e.get("level"));
        assertEquals("User logged in successfully", e.get("message"));
        assertEquals("my-application", e.get("app_id"));
        assertEquals("user-service", e.get("source"));
        assertTrue(((String) e.get("timestamp")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"));
        Map<String, Object> c = ctx(e);
        assertEquals(12345L, c.get("user_id"));
        assertEquals("oauth", c.get("login_method"));
        UUID id = UUID.fromString((String) c.get("request_id"));
        assertEquals(4, id.version());
        assertEquals(2, id.variant());
        assertNotEquals(c.get("request_id"), ctx(entry(Level.INFO, "x", null, null)).get("request_id"));
        assertNull(e.get("stack_trace"));
        assertNull(e.get("tags"));
    }

    @Test
    void aThrowableGivesTheStackTraceAndItsMessage() {
        Exception cause = new IllegalStateException("pool exhausted");
        Map<String, Object> e = entry(Level.ERROR, "Database connection failed", Map.of("database", "users-db"),
                new RuntimeException("CONN_TIMEOUT", cause));
        String trace = (String) e.get("stack_trace");
        assertTrue(trace.startsWith("java.lang.RuntimeException: CONN_TIMEOUT\n\tat dev.sluice.client.EntriesTest."), trace);
        assertTrue(trace.contains("Caused by: java.lang.IllegalStateException: pool exhausted"), trace);
        assertFalse(trace.endsWith("\n"));
        assertEquals("CONN_TIMEOUT", ctx(e).get("error"));
        assertEquals("users-db", ctx(e).get("database"));

        // Under `error`/`err` in the metadata, as in the Node library.
        Map<String, Object> m = entry(Level.ERROR, "failed", Map.of("err", new java.io.IOException("disk full")), null);
        assertTrue(((String) m.get("stack_trace")).startsWith("java.io.IOException: disk full"));
        assertEquals("disk full", ctx(m).get("err"));
        // Under any other key it keeps its type and message.
        Map<String, Object> o = entry(Level.WARN, "odd", Map.of("why", new IllegalArgumentException("bad")), null);
        assertEquals(Map.of("type", "java.lang.IllegalArgumentException", "message", "bad"), ctx(o).get("why"));
        assertNull(o.get("stack_trace"));
    }

    @Test
    void tagsAndValuesOfEveryKind() {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("tags", List.of("database", "critical"));
        meta.put("nested", Map.of("a", List.of(1, 2.5, true)));
        meta.put("array", new int[] {1, 2});
        meta.put("none", null);
        meta.put("nan", Double.NaN);
        meta.put("big", new java.math.BigDecimal("12.50"));
        meta.put("when", Instant.parse("2024-01-01T00:00:00Z"));
        meta.put("opt", Optional.of("x"));
        meta.put("level", Level.WARN);
        meta.put("text", "quote \" backslash \\ newline \n tab \t nul \u0000 é \u2028 😀");
        meta.put("request_id", "mine"); // the logger's own, unique per entry, wins
        Map<String, Object> e = entry(Level.DEBUG, "values", meta, null);
        assertEquals(List.of("database", "critical"), e.get("tags"));
        Map<String, Object> c = ctx(e);
        assertFalse(c.containsKey("tags"));
        assertEquals(Map.of("a", List.of(1L, 2.5, true)), c.get("nested"));
        assertEquals(List.of(1L, 2L), c.get("array"));
        assertTrue(c.containsKey("none"));
        assertNull(c.get("none"));
        assertNull(c.get("nan"));
        assertEquals(12.5, c.get("big"));
        assertEquals("2024-01-01T00:00:00Z", c.get("when"));
        assertEquals("x", c.get("opt"));
        assertEquals("WARN", c.get("level"));
        assertEquals(meta.get("text"), c.get("text"));
        assertNotEquals("mine", c.get("request_id"));
    }

    @Test
    void metadataThatCannotBeWrittenLeavesANoteAndTheEntryGoes() {
        Map<String, Object> cyclic = new HashMap<>();
        cyclic.put("self", cyclic);
        Map<String, Object> e = entry(Level.INFO, "cycle", Map.of("m", cyclic), null);
        assertEquals("cycle", e.get("message"));
        Map<String, Object> c = ctx(e);
        assertTrue(((String) c.get("unserializable_metadata")).contains("cycle"), c.toString());
        assertTrue(c.containsKey("request_id"));

        Object broken = new Object() {
            @Override
            public String toString() {
                throw new IllegalStateException("no text for you");
            }
        };
        Map<String, Object> b = entry(Level.ERROR, "broken", Map.of("x", broken), new RuntimeException("still traced"));
        assertTrue(((String) ctx(b).get("unserializable_metadata")).contains("no text for you"));
        assertTrue(((String) b.get("stack_trace")).startsWith("java.lang.RuntimeException: still traced"));

        List<Object> deep = new ArrayList<>();
        List<Object> at = deep;
        for (int k = 0; k < 100; k++) {
            List<Object> next = new ArrayList<>();
            at.add(next);
            at = next;
        }
        assertTrue(((String) ctx(entry(Level.INFO, "deep", Map.of("d", deep), null)).get("unserializable_metadata")).contains("deeper"));
    }

    @Test
    void customEventsAndAdapterEntries() {
        byte[] json = Entries.entry(WHO, Instant.now(), Level.INFO, "payment_completed", Map.of("amount", 99.99, "tags", List.of("billing")),
                null, null, "event", List.of("custom"));
        Map<String, Object> e = MiniJson.object(new String(json, StandardCharsets.UTF_8));
        assertEquals("event", e.get("category"));
        assertEquals(List.of("custom", "billing"), e.get("tags"));
        assertEquals(99.99, ctx(e).get("amount"));

        Instant at = Instant.parse("2024-05-06T01:02:03.456Z");
        Map<String, Object> a = MiniJson.object(new String(Entries.entry(new Entries.Identity(null, null), at, Level.WARN, null, null, null,
                "Trace\n\tat x", null, null), StandardCharsets.UTF_8));
        assertEquals("2024-05-06T01:02:03.456000Z", a.get("timestamp"));
        assertEquals("Trace\n\tat x", a.get("stack_trace"));
        assertEquals("null", a.get("message"));
        assertFalse(a.containsKey("app_id"));
        assertFalse(a.containsKey("source"));
    }

    @Test
    void levelNamesAsTheLoggingWorldSpellsThem() {
        assertEquals(Level.FATAL, Level.parse("critical"));
        assertEquals(Level.FATAL, Level.parse("CRITICAL"));
        assertEquals(Level.WARN, Level.parse("warning"));
        assertEquals(Level.WARN, Level.parse("Warn"));
        assertEquals(Level.DEBUG, Level.parse("trace"));
        assertEquals(Level.ERROR, Level.parse("err"));
        assertEquals(Level.INFO, Level.parse("notice"));
        assertNull(Level.parse("loud"));
        assertEquals("batching", LoggerState.BATCHING.toString());
        assertEquals("{\"sent\":1,\"failed\":2,\"dropped\":3,\"buffered\":4,\"retries\":5,\"sampled\":6,\"state\":\"failed\"}",
                new Stats(1, 2, 3, 4, 5, 6, LoggerState.FAILED).toJson());
        assertEquals("failed", new Stats(0, 0, 0, 0, 0, 0, LoggerState.FAILED).toMap().get("state"));
    }
}
