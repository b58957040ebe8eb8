package dev.sluice.conformance;

import dev.sluice.client.DistributedLogger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Java library's conformance program (clients/conformance/PROGRAM.md): logs what the
 * scenario in {@code CONFORMANCE} asks through the public API, stops, prints the loggers' stats
 * as one JSON line on stdout. Anything else goes to stderr.
 */
public final class Program {
    private Program() {}

    public static void main(String[] args) throws Exception {
        Map<String, Double> run = settings(System.getenv().getOrDefault("CONFORMANCE", "{}"));
        int loggerCount = (int) get(run, "loggers");
        int entries = (int) get(run, "entries");
        long gapMs = (long) get(run, "log_gap_ms");

        List<DistributedLogger> loggers = new ArrayList<>();
        for (int l = 0; l < loggerCount; l++) {
            loggers.add(DistributedLogger.builder()
                    .endpoint(System.getenv("SLUICE_URL"))
                    .serviceName(System.getenv("SLUICE_SERVICE"))
                    .componentName("logger-" + l)
                    .apiKey(System.getenv("SLUICE_TOKEN"))
                    .batchSize((int) get(run, "batch_size"))
                    .flushInterval(Duration.ofMillis((long) get(run, "flush_interval_ms")))
                    .maxBufferEntries((int) get(run, "max_buffer_entries"))
                    .maxRetries((int) get(run, "max_retries"))
                    .stopTimeout(Duration.ofMillis((long) get(run, "stop_timeout_ms")))
                    .requestTimeout(Duration.ofMillis((long) get(run, "request_timeout_ms")))
                    .shutdownHook(false) // the program stops the loggers itself
                    .autoStart(false)
                    .build()
                    .start());
        }

        double[] calls = new double[entries * loggerCount];
        int n = 0;
        long began = System.nanoTime();
        for (int i = 0; i < entries; i++) {
            for (int l = 0; l < loggerCount; l++) {
                Map<String, Object> meta = Map.of("logger", l, "seq", i);
                long t0 = System.nanoTime();
                loggers.get(l).info("conformance " + l + " " + i, meta);
                calls[n++] = (System.nanoTime() - t0) / 1000.0;
            }
            if (gapMs > 0) Thread.sleep(gapMs);
        }
        // Every logger stops at once, as the Node program's Promise.all: one deadline, not one each.
        List<Thread> stops = new ArrayList<>();
        for (DistributedLogger lg : loggers) {
            Thread t = new Thread(lg::stop, "stop-" + lg.componentName());
            t.start();
            stops.add(t);
        }
        for (Thread t : stops) t.join();
        double elapsedMs = (System.nanoTime() - began) / 1e6;

        Arrays.sort(calls, 0, n);
        StringBuilder out = new StringBuilder("{\"language\":\"java\",\"library\":\"sluice-java/")
                .append(DistributedLogger.VERSION).append("\",\"loggers\":[");
        for (int l = 0; l < loggers.size(); l++) {
            if (l > 0) out.append(',');
            out.append(loggers.get(l).stats().toJson());
        }
        out.append("],\"call_us\":{\"p50\":").append(at(calls, n, 0.5))
                .append(",\"p99\":").append(at(calls, n, 0.99))
                .append(",\"max\":").append(n > 0 ? calls[n - 1] : 0.0)
                .append("},\"elapsed_ms\":").append(elapsedMs).append('}');
        System.out.println(out);
        System.out.flush();
    }

    private static double at(double[] sorted, int n, double q) {
        return n == 0 ? 0.0 : sorted[Math.min(n - 1, (int) Math.floor(q * n))];
    }

    private static double get(Map<String, Double> run, String key) {
        Double v = run.get(key);
        if (v == null) throw new IllegalArgumentException("CONFORMANCE lacks " + key);
        return v;
    }

    private static final Pattern PAIR = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(-?[0-9][0-9.eE+-]*)");

    /** CONFORMANCE is one flat object of numbers: read with a pattern, no JSON library needed. */
    static Map<String, Double> settings(String json) {
        Map<String, Double> m = new HashMap<>();
        Matcher x = PAIR.matcher(json);
        while (x.find()) m.put(x.group(1), Double.parseDouble(x.group(2)));
        return m;
    }
}
