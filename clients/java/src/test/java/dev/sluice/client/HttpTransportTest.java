package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.testsupport.FakeGateway;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP transport against a fake gateway on com.sun.net.httpserver, through the default HttpClient. */
class HttpTransportTest {
    private FakeGateway gw;

    @BeforeEach
    void up() throws Exception {
        gw = new FakeGateway();
    }

    @AfterEach
    void down() {
        gw.close();
    }

    private DistributedLogger.Builder logger(String endpoint) {
        return DistributedLogger.builder().endpoint(endpoint).serviceName("my-application").componentName("user-service")
                .apiKey("t.secret-ingest-token").shutdownHook(false).random(() -> 0.0).flushInterval(Duration.ofMillis(20));
    }

    @Test
    void headersPathAndBody() throws Exception {
        try (DistributedLogger l = logger(gw.url()).build()) {
            l.info("hello", Map.of("k", "v"));
        }
        FakeGateway.Request r = gw.requests().get(0);
        assertEquals("POST", r.method());
        assertEquals("/api/logs", r.path());
        assertEquals("Bearer t.secret-ingest-token", r.header("Authorization"));
        assertEquals("application/json", r.header("Content-Type"));
        assertEquals("return=minimal", r.header("Prefer"));
        String ua = r.header("User-Agent");
        assertEquals(DistributedLogger.USER_AGENT, ua);
        assertTrue(ua.matches("sluice-java/0\\.1\\.0 \\(Java \\d+[0-9.]*\\)"), ua);
        assertEquals("sluice-java/0.1.0 (Java " + System.getProperty("java.version") + ")", ua);
        assertNull(r.header("Content-Encoding"), "a small body goes plain");
        assertTrue(r.batchId().matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
        assertEquals(List.of("hello"), r.logs().stream().map(e -> e.get("message")).toList());
    }

    @Test
    void endpointMayAlreadyEndInApiLogs() throws Exception {
        try (DistributedLogger l = logger(gw.url() + "/api/logs/").build()) {
            l.info("hello");
        }
        assertEquals("/api/logs", gw.requests().get(0).path());
        assertEquals("http://h:1/x/api/logs", HttpTransport.ingestUri("http://h:1/x").toString());
        assertThrows(IllegalArgumentException.class, () -> logger("localhost:9000").build());
    }

    @Test
    void bodiesOverOneKibGoGzipped() throws Exception {
        try (DistributedLogger l = logger(gw.url()).build()) {
            for (int i = 0; i < 20; i++) l.info("a longer message to pass one KiB " + i, Map.of("i", i));
        }
        FakeGateway.Request r = gw.requests().get(0);
        assertEquals("gzip", r.header("Content-Encoding"));
        assertEquals(20, r.logs().size());
        assertTrue(r.rawLength() < 1024, "compressed: " + r.rawLength());
    }

    @Test
    void a503WithRetryAfterIsRetriedAfterItWithTheSameBatchId() throws Exception {
        gw.reply(503, "{\"error\":\"unavailable\",\"message\":\"store down\"}", "Retry-After", "1");
        StateMachineTest.Recorder rec = new StateMachineTest.Recorder();
        try (DistributedLogger l = logger(gw.url()).listener(rec).build()) {
            for (int i = 0; i < 3; i++) l.info("e" + i);
            assertTrue(l.flush(Duration.ofSeconds(5)));
        }
        List<FakeGateway.Request> rs = gw.requests();
        assertEquals(2, rs.size());
        assertEquals(rs.get(0).batchId(), rs.get(1).batchId());
        assertEquals(rs.get(0).logs(), rs.get(1).logs());
        double waited = (rs.get(1).atNanos() - rs.get(0).atNanos()) / 1e6;
        assertTrue(waited >= 950 && waited < 3_000, "waited " + waited + " ms for Retry-After: 1");
        assertTrue(rec.errors.get(0).contains("HTTP 503 unavailable: store down"), rec.errors.toString());
        assertEquals(2, rec.sent.get(0).attempts());
    }

    @Test
    void a429IsRetriedAndA400IsNot() throws Exception {
        gw.reply(429, "{\"error\":\"rate_limited\"}", "Retry-After", "0");
        gw.reply(400, "{\"error\":\"invalid_entry\",\"message\":\"entry 0: level\"}");
        StateMachineTest.Recorder rec = new StateMachineTest.Recorder();
        try (DistributedLogger l = logger(gw.url()).batchSize(1).listener(rec).build()) {
            l.info("first");
            assertTrue(l.flush(Duration.ofSeconds(5)));
            l.info("second");
            l.info("third");
            assertTrue(l.flush(Duration.ofSeconds(5)));
            assertEquals(new Stats(2, 1, 0, 0, 1, 0, LoggerState.BATCHING), l.stats());
        }
        assertEquals(4, gw.requests().size()); // first ×2, second (400), third
        assertEquals(400, rec.failed.get(0).status());
        assertEquals("HTTP 400 invalid_entry: entry 0: level", rec.failed.get(0).error());
        assertTrue(rec.failed.get(0).permanent());
        assertEquals("third", gw.requests().get(3).logs().get(0).get("message"));
    }

    @Test
    void aDuplicateAnswerCountsAsDelivered() throws Exception {
        gw.reply(200, "{\"saved\":0,\"duplicate\":true,\"errors\":null}");
        StateMachineTest.Recorder rec = new StateMachineTest.Recorder();
        try (DistributedLogger l = logger(gw.url()).listener(rec).build()) {
            l.info("again");
        }
        assertTrue(rec.sent.get(0).duplicate());
        assertEquals(200, rec.sent.get(0).status());
    }

    @Test
    void aSlowGatewayTimesOutAndTheRetryGoesThrough() throws Exception {
        gw.replySlow(1_500, 201, "{}");
        try (DistributedLogger l = logger(gw.url()).requestTimeout(Duration.ofMillis(300)).build()) {
            l.info("slow");
            assertTrue(l.flush(Duration.ofSeconds(5)));
            assertEquals(1, l.stats().retries());
            assertEquals(1, l.stats().sent());
        }
        List<FakeGateway.Request> rs = gw.requests();
        assertEquals(2, rs.size());
        assertEquals(rs.get(0).batchId(), rs.get(1).batchId(), "the gateway may have stored the first: same batch_id");
    }

    @Test
    void aGatewayThatIsDownIsRetriedUntilItIsUp() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        StateMachineTest.Recorder rec = new StateMachineTest.Recorder();
        DistributedLogger l = logger("http://127.0.0.1:" + port).listener(rec).maxRetries(1).stopTimeout(Duration.ofMillis(500)).build();
        l.info("nobody listens");
        assertFalse(l.flush(Duration.ofSeconds(5)));
        assertEquals(LoggerState.FAILED, l.state());
        assertTrue(rec.errors.get(0).contains("connection refused") || rec.errors.get(0).contains("Connect"), rec.errors.toString());
        l.stop();
        assertEquals(1, l.stats().failed());
    }

    @Test
    void optionsComeFromTheEnvironmentWhenNotGiven() throws Exception {
        Map<String, String> env = Map.of("SLUICE_URL", gw.url(), "SLUICE_TOKEN", "t.from-env", "SLUICE_SERVICE", "env-app");
        try (DistributedLogger l = DistributedLogger.builder().env(env).shutdownHook(false).flushInterval(Duration.ofMillis(20)).build()) {
            assertEquals(gw.url(), l.endpoint());
            assertEquals("env-app", l.serviceName());
            l.info("from env");
        }
        FakeGateway.Request r = gw.requests().get(0);
        assertEquals("Bearer t.from-env", r.header("Authorization"));
        assertEquals("env-app", r.logs().get(0).get("app_id"));
        // Explicit options win over the environment; without either, the default.
        DistributedLogger d = DistributedLogger.builder().env(Map.of()).autoStart(false).build();
        assertEquals("http://localhost:9000", d.endpoint());
        DistributedLogger e = DistributedLogger.builder().env(env).endpoint("http://example.test:1").autoStart(false).build();
        assertEquals("http://example.test:1", e.endpoint());
    }
}
