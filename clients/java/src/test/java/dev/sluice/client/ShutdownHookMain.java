package dev.sluice.client;

import java.time.Duration;
import java.util.Map;

/** Run in a child JVM by {@link ShutdownHookTest}: logs and returns from main without stopping the logger. */
public final class ShutdownHookMain {
    private ShutdownHookMain() {}

    public static void main(String[] args) {
        DistributedLogger logger = DistributedLogger.builder().endpoint(args[0]).serviceName("hook-app")
                .flushInterval(Duration.ofSeconds(30)).build();
        for (int i = 0; i < 3; i++) logger.info("before exit " + i, Map.of("i", i));
        // no stop(), no close(): the shutdown hook delivers
    }
}
