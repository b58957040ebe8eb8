package dev.sluice.client.logback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import dev.sluice.client.DistributedLogger;
import dev.sluice.client.testsupport.FakeGateway;
import dev.sluice.client.testsupport.RecordingTransport;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;
import org.slf4j.MarkerFactory;

/** Logback events → Sluice entries, and the appender configured from logback.xml. */
class SluiceAppenderTest {

    private static Map<?, ?> ctx(Map<String, Object> e) {
        return (Map<?, ?>) e.get("context");
    }

    @Test
    void levelsMdcMarkersAndThrowables() {
        RecordingTransport t = new RecordingTransport();
        DistributedLogger dl = DistributedLogger.builder().serviceName("app").componentName("logback").transport(t).shutdownHook(false).build();
        LoggerContext lc = new LoggerContext();
        SluiceAppender app = new SluiceAppender();
        app.setContext(lc);
        app.setLogger(dl);
        app.start();
        ch.qos.logback.classic.Logger lg = lc.getLogger("dev.example.checkout");
        lg.setAdditive(false);
        lg.setLevel(ch.qos.logback.classic.Level.TRACE);
        lg.addAppender(app);
        MDC.put("request_path", "/checkout");
        MDC.put("user_id", "12345");
        try {
            lg.trace("trace detail");
            lg.debug("debug detail");
            lg.info("order {} placed for {}", "ORD-789", 49.99);
            lg.warn("slow payment provider");
            lg.error("Payment failed", new IllegalStateException("card declined", new RuntimeException("issuer offline")));
            lg.error(MarkerFactory.getMarker("FATAL"), "out of memory");
            lg.info(MarkerFactory.getMarker("audit"), "audited");
        } finally {
            MDC.clear();
        }
        lg.info("no MDC");
        app.stop(); // shared logger: flushed
        assertEquals(7 + 1, dl.stats().sent());
        dl.stop();

        Map<Object, Map<String, Object>> m = new HashMap<>();
        for (Map<String, Object> e : t.entries()) m.put(e.get("message"), e);
        assertEquals("DEBUG", m.get("trace detail").get("level"));
        assertEquals("DEBUG", m.get("debug detail").get("level"));
        Map<String, Object> order = m.get("order ORD-789 placed for 49.99");
        assertEquals("INFO", order.get("level"));
        assertEquals("/checkout", ctx(order).get("request_path"));
        assertEquals("12345", ctx(order).get("user_id"));
        assertEquals("dev.example.checkout", ctx(order).get("logger"));
        assertEquals(Thread.currentThread().getName(), ctx(order).get("thread"));
        assertEquals("app", order.get("app_id"));
        assertEquals("logback", order.get("source"));
        assertEquals("WARN", m.get("slow payment provider").get("level"));
        Map<String, Object> failed = m.get("Payment failed");
        assertEquals("ERROR", failed.get("level"));
        String trace = (String) failed.get("stack_trace");
        assertTrue(trace.startsWith("java.lang.IllegalStateException: card declined"), trace);
        assertTrue(trace.contains("Caused by: java.lang.RuntimeException: issuer offline"), trace);
        assertEquals("card declined", ctx(failed).get("error"));
        assertEquals("FATAL", m.get("out of memory").get("level"));
        assertEquals(List.of("audit"), m.get("audited").get("tags"));
        assertNull(ctx(m.get("no MDC")).get("request_path"));
    }

    @Test
    void configuredFromLogbackXmlAndStoppedWithItsContext() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            String xml = "<configuration>\n"
                    + "  <appender name=\"SLUICE\" class=\"dev.sluice.client.logback.SluiceAppender\">\n"
                    + "    <endpoint>${gw}</endpoint>\n"
                    + "    <serviceName>xml-app</serviceName>\n"
                    + "    <componentName>xml-comp</componentName>\n"
                    + "    <apiKey>t.xml-token</apiKey>\n"
                    + "    <batchSize>10</batchSize>\n"
                    + "    <flushIntervalMs>60000</flushIntervalMs>\n"
                    + "    <shutdownHook>false</shutdownHook>\n"
                    + "  </appender>\n"
                    + "  <root level=\"INFO\"><appender-ref ref=\"SLUICE\"/></root>\n"
                    + "</configuration>\n";
            LoggerContext lc = new LoggerContext();
            lc.putProperty("gw", gw.url());
            JoranConfigurator jc = new JoranConfigurator();
            jc.setContext(lc);
            jc.doConfigure(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
            org.slf4j.Logger lg = lc.getLogger("dev.example.xml");
            lg.debug("below root's level");
            lg.info("configured from xml");
            lg.warn("and a warning");
            SluiceAppender app = (SluiceAppender) lc.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("SLUICE");
            assertEquals(2, app.getLogger().stats().buffered(), "held: the batch is not full and the interval is a minute");
            lc.stop(); // stops the appender, which delivers
            assertEquals("stopped", app.getLogger().stats().state().toString());
            FakeGateway.Request r = gw.requests().get(0);
            assertEquals("Bearer t.xml-token", r.header("Authorization"));
            assertEquals(List.of("configured from xml", "and a warning"), r.logs().stream().map(e -> e.get("message")).toList());
            assertEquals("xml-app", r.logs().get(0).get("app_id"));
            assertEquals("xml-comp", r.logs().get(0).get("source"));
        }
    }
}
