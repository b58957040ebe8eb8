package dev.sluice.client.logback;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;
import dev.sluice.client.DistributedLogger;
import dev.sluice.client.Level;
import dev.sluice.client.LoggerListener;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Marker;

/**
 * A Logback appender sending events to Sluice through a {@link DistributedLogger}, configured
 * from {@code logback.xml}:
 *
 * <pre>{@code
 * <appender name="SLUICE" class="dev.sluice.client.logback.SluiceAppender">
 *   <endpoint>http://localhost:9000</endpoint>
 *   <serviceName>my-application</serviceName>
 *   <componentName>user-service</componentName>
 *   <apiKey>${SLUICE_TOKEN}</apiKey>
 * </appender>
 * }</pre>
 *
 * <p>Properties: {@code endpoint}, {@code serviceName}, {@code componentName}, {@code apiKey}
 * (unset: {@code SLUICE_URL}, {@code SLUICE_SERVICE}, {@code SLUICE_TOKEN}), {@code batchSize},
 * {@code flushIntervalMs}, {@code maxRetries}, {@code maxBufferEntries}, {@code maxBufferBytes},
 * {@code requestTimeoutMs}, {@code stopTimeoutMs}, {@code sampleRate}, {@code shutdownHook}.
 *
 * <p>Mapping: TRACE and DEBUG → DEBUG, INFO → INFO, WARN → WARN, ERROR → ERROR; the formatted
 * message; the event's time; {@code context} = the MDC, plus {@code logger} and {@code thread};
 * the throwable (with causes) → {@code stack_trace} and {@code context.error}; marker names →
 * {@code tags}, and a marker named {@code FATAL} makes the entry FATAL. {@link #stop()} stops the logger, which delivers what is buffered for up to
 * its stop deadline (Logback stops appenders on {@code LoggerContext.stop()} and with
 * {@code <shutdownHook/>}; the logger's own JVM shutdown hook is there too).
 */
public class SluiceAppender extends AppenderBase<ILoggingEvent> {
    private String endpoint;
    private String serviceName;
    private String componentName;
    private String apiKey;
    private Integer batchSize;
    private Long flushIntervalMs;
    private Integer maxRetries;
    private Integer maxBufferEntries;
    private Long maxBufferBytes;
    private Long requestTimeoutMs;
    private Long stopTimeoutMs;
    private Double sampleRate;
    private boolean shutdownHook = true;
    private volatile DistributedLogger logger;
    /** Given with {@link #setLogger}: shared, so flushed on stop, not stopped. */
    private boolean shared;

    @Override
    public void start() {
        if (isStarted()) return;
        if (shared && logger != null) {
            super.start();
            return;
        }
        try {
            DistributedLogger.Builder b = DistributedLogger.builder()
                    .endpoint(endpoint)
                    .serviceName(serviceName)
                    .componentName(componentName)
                    .apiKey(apiKey)
                    .shutdownHook(shutdownHook)
                    .listener(new LoggerListener() {
                        @Override
                        public void onBatchFailed(BatchFailed e) {
                            addWarn("Sluice: batch of " + e.count() + " not delivered: " + e.error());
                        }
                    });
            if (batchSize != null) b.batchSize(batchSize);
            if (flushIntervalMs != null) b.flushInterval(Duration.ofMillis(flushIntervalMs));
            if (maxRetries != null) b.maxRetries(maxRetries);
            if (maxBufferEntries != null) b.maxBufferEntries(maxBufferEntries);
            if (maxBufferBytes != null) b.maxBufferBytes(maxBufferBytes);
            if (requestTimeoutMs != null) b.requestTimeout(Duration.ofMillis(requestTimeoutMs));
            if (stopTimeoutMs != null) b.stopTimeout(Duration.ofMillis(stopTimeoutMs));
            if (sampleRate != null) b.sampleRate(sampleRate);
            logger = b.build();
        } catch (RuntimeException e) {
            addError("Sluice appender not started: " + e.getMessage(), e);
            return;
        }
        super.start();
    }

    /** Stops the logger: delivers what is buffered for up to its stop deadline. */
    @Override
    public void stop() {
        if (!isStarted()) return;
        super.stop();
        DistributedLogger l = logger;
        if (l == null) return;
        if (shared) l.flush(Duration.ofSeconds(10));
        else l.stop();
    }

    /**
     * Sends through an existing logger instead of making one from the properties (set before
     * {@code start()}); {@code stop()} then flushes it and leaves stopping it to its owner.
     */
    public void setLogger(DistributedLogger logger) {
        this.logger = logger;
        this.shared = logger != null;
    }

    /** The logger underneath ({@code stats()}, listeners); null before {@link #start()}. */
    public DistributedLogger getLogger() {
        return logger;
    }

    /** An event's level, FATAL when it carries a marker named {@code FATAL} (SLF4J has no fatal level). */
    static Level levelOf(ILoggingEvent event) {
        Marker m = event.getMarker();
        if (m != null && (m.getName().equals("FATAL") || m.contains("FATAL"))) return Level.FATAL;
        return toSluiceLevel(event.getLevel());
    }

    /** Logback level → Sluice level. */
    public static Level toSluiceLevel(ch.qos.logback.classic.Level level) {
        if (level == null) return Level.INFO;
        switch (level.toInt()) {
            case ch.qos.logback.classic.Level.ERROR_INT:
                return Level.ERROR;
            case ch.qos.logback.classic.Level.WARN_INT:
                return Level.WARN;
            case ch.qos.logback.classic.Level.INFO_INT:
                return Level.INFO;
            default:
                return level.toInt() > ch.qos.logback.classic.Level.ERROR_INT ? Level.ERROR : Level.DEBUG;
        }
    }

    @Override
    protected void append(ILoggingEvent event) {
        DistributedLogger l = logger;
        if (l == null || isOwnTraffic(event)) return;
        Map<String, Object> context = new LinkedHashMap<>();
        Map<String, String> mdc = event.getMDCPropertyMap();
        if (mdc != null) context.putAll(mdc);
        if (event.getLoggerName() != null) context.putIfAbsent("logger", event.getLoggerName());
        if (event.getThreadName() != null) context.putIfAbsent("thread", event.getThreadName());
        List<String> tags = markerNames(event.getMarker());
        if (!tags.isEmpty()) context.put("tags", tags);
        String trace = null;
        IThrowableProxy tp = event.getThrowableProxy();
        if (tp != null) {
            trace = ThrowableProxyUtil.asString(tp).stripTrailing();
            context.putIfAbsent("error", tp.getMessage() != null ? tp.getMessage() : tp.getClassName());
        }
        l.log(Instant.ofEpochMilli(event.getTimeStamp()), levelOf(event), event.getFormattedMessage(), context, trace);
    }

    /** The JDK's HTTP client and this library, or anything logged on the library's threads: never sent (no loop). */
    private static boolean isOwnTraffic(ILoggingEvent event) {
        String name = event.getLoggerName();
        if (name != null && (name.startsWith("jdk.internal.httpclient") || name.startsWith("jdk.httpclient")
                || name.startsWith("dev.sluice.client"))) return true;
        return DistributedLogger.isInternalThread();
    }

    private static List<String> markerNames(Marker marker) {
        List<String> out = new ArrayList<>();
        collect(marker, out, 0);
        return out;
    }

    private static void collect(Marker m, List<String> out, int depth) {
        if (m == null || depth > 8) return;
        if (!out.contains(m.getName())) out.add(m.getName());
        for (Iterator<Marker> it = m.iterator(); it.hasNext(); ) collect(it.next(), out, depth + 1);
    }

    /** The gateway's base URL or its {@code /api/logs} URL. */
    public void setEndpoint(String endpoint) {
        this.endpoint = blank(endpoint);
    }

    /** Each entry's {@code app_id}. */
    public void setServiceName(String serviceName) {
        this.serviceName = blank(serviceName);
    }

    /** Each entry's {@code source}. */
    public void setComponentName(String componentName) {
        this.componentName = blank(componentName);
    }

    /** The ingest token ({@code ${SLUICE_TOKEN}} in logback.xml keeps it out of the file). */
    public void setApiKey(String apiKey) {
        this.apiKey = blank(apiKey);
    }

    /** Entries per batch (default 100). */
    public void setBatchSize(int batchSize) {
        this.batchSize = batchSize;
    }

    /** Milliseconds after its first entry a batch goes anyway (default 5000). */
    public void setFlushIntervalMs(long flushIntervalMs) {
        this.flushIntervalMs = flushIntervalMs;
    }

    /** Retries before the state is {@code failed} (default 5). */
    public void setMaxRetries(int maxRetries) {
        this.maxRetries = maxRetries;
    }

    /** Buffer bound in entries (default 10,000). */
    public void setMaxBufferEntries(int maxBufferEntries) {
        this.maxBufferEntries = maxBufferEntries;
    }

    /** Buffer bound in bytes (default 8 MiB). */
    public void setMaxBufferBytes(long maxBufferBytes) {
        this.maxBufferBytes = maxBufferBytes;
    }

    /** One request's deadline in milliseconds (default 10000). */
    public void setRequestTimeoutMs(long requestTimeoutMs) {
        this.requestTimeoutMs = requestTimeoutMs;
    }

    /** How long stop keeps delivering, in milliseconds (default 10000). */
    public void setStopTimeoutMs(long stopTimeoutMs) {
        this.stopTimeoutMs = stopTimeoutMs;
    }

    /** Share of DEBUG/INFO/WARN entries kept (default 1). */
    public void setSampleRate(double sampleRate) {
        this.sampleRate = sampleRate;
    }

    /** The logger's own JVM shutdown hook (default true). */
    public void setShutdownHook(boolean shutdownHook) {
        this.shutdownHook = shutdownHook;
    }

    private static String blank(String s) {
        // An unset ${VAR} in logback.xml arrives as "VAR_IS_UNDEFINED".
        return s == null || s.isBlank() || s.endsWith("_IS_UNDEFINED") ? null : s.trim();
    }
}
