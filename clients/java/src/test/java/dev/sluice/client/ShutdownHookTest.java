package dev.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.client.testsupport.FakeGateway;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A JVM that ends with entries buffered delivers them from the logger's shutdown hook. */
class ShutdownHookTest {

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    @Test
    void theHookFlushesWhenMainReturns() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cp = location(DistributedLogger.class) + File.pathSeparator + location(ShutdownHookMain.class);
            Process p = new ProcessBuilder(java, "-cp", cp, ShutdownHookMain.class.getName(), gw.url()).inheritIO().start();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the child JVM exited");
            assertEquals(0, p.exitValue());
            List<Object> messages = gw.entries().stream().map(e -> e.get("message")).toList();
            assertEquals(List.of("before exit 0", "before exit 1", "before exit 2"), messages);
        }
    }
}
