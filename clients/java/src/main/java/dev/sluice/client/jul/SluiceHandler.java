package dev.sluice.client.jul;

import dev.sluice.client.DistributedLogger;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.ErrorManager;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;

/**
 * A {@code java.util.logging} handler sending every record it is given to Sluice through a
 * {@link DistributedLogger}.
 *
 * <ul>
 *   <li>Levels: SEVERE → ERROR, WARNING → WARN, INFO and CONFIG → INFO, FINE, FINER, FINEST →
 *       DEBUG (by value: a custom level goes to the nearest below it; OFF/above SEVERE → ERROR).
 *   <li>{@code message}: the record's message formatted with its parameters and resource bundle
 *       ({@link Formatter#formatMessage}); {@code timestamp}: the record's instant.
 *   <li>{@code context}: {@code logger} (the logger's name), {@code class} and {@code method}
 *       (the source, when JUL inferred or was given it), {@code thread_id}; the record's thrown
 *       gives {@code stack_trace} and {@code context.error}.
 * </ul>
 *
 * <p>Configured in code ({@code new SluiceHandler(logger)} shares a logger;
 * {@link #SluiceHandler(String, String, String)} makes its own) or, with the no-argument
 * constructor, from {@code logging.properties}: {@code dev.sluice.client.jul.SluiceHandler.}
 * {@code endpoint}, {@code serviceName}, {@code componentName}, {@code apiKey},
 * {@code batchSize}, {@code flushIntervalMs}, {@code maxRetries}, {@code maxBufferEntries},
 * {@code maxBufferBytes}, {@code requestTimeoutMs}, {@code stopTimeoutMs}, {@code level}; unset ones fall back to {@code SLUICE_URL},
 * {@code SLUICE_SERVICE}, {@code SLUICE_TOKEN} and the logger's defaults.
 *
 * <p>{@link #close()} stops a logger the handler made (delivering for up to its stop deadline)
 * and flushes a shared one. Records from the JDK's HTTP client and from this library are
 * ignored, so that sending can never log about itself in a loop.
 */
public class SluiceHandler extends Handler {
    private static final Formatter MESSAGES = new Formatter() {
        @Override
        public String format(LogRecord record) {
            return formatMessage(record);
        }
    };

    private final DistributedLogger logger;
    private final boolean owned;
    private volatile boolean closed;

    /** A handler configured from {@code logging.properties} (see the class comment). */
    public SluiceHandler() {
        LogManager m = LogManager.getLogManager();
        String p = SluiceHandler.class.getName() + ".";
        DistributedLogger.Builder b = DistributedLogger.builder()
                .endpoint(m.getProperty(p + "endpoint"))
                .serviceName(m.getProperty(p + "serviceName"))
                .componentName(m.getProperty(p + "componentName"))
                .apiKey(m.getProperty(p + "apiKey"));
        String v;
        if ((v = number(m, p + "batchSize")) != null) b.batchSize(Integer.parseInt(v));
        if ((v = number(m, p + "flushIntervalMs")) != null) b.flushInterval(Duration.ofMillis(Long.parseLong(v)));
        if ((v = number(m, p + "maxRetries")) != null) b.maxRetries(Integer.parseInt(v));
        if ((v = number(m, p + "maxBufferEntries")) != null) b.maxBufferEntries(Integer.parseInt(v));
        if ((v = number(m, p + "maxBufferBytes")) != null) b.maxBufferBytes(Long.parseLong(v));
        if ((v = number(m, p + "requestTimeoutMs")) != null) b.requestTimeout(Duration.ofMillis(Long.parseLong(v)));
        if ((v = number(m, p + "stopTimeoutMs")) != null) b.stopTimeout(Duration.ofMillis(Long.parseLong(v)));
        if ((v = m.getProperty(p + "level")) != null) {
            try {
                setLevel(java.util.logging.Level.parse(v.trim()));
            } catch (IllegalArgumentException e) {
                reportError("bad level " + v, e, ErrorManager.GENERIC_FAILURE);
            }
        }
        this.logger = b.build();
        this.owned = true;
    }

    /** A whole number from logging.properties; a bad one is reported (ErrorManager) and left at its default. */
    private String number(LogManager m, String key) {
        String v = m.getProperty(key);
        if (v == null) return null;
        v = v.trim();
        if (v.matches("\\d{1,18}")) return v;
        reportError("bad " + key + ": " + v, null, ErrorManager.GENERIC_FAILURE);
        return null;
    }

    /** A handler with its own started logger (api key from {@code SLUICE_TOKEN}). */
    public SluiceHandler(String endpoint, String serviceName, String componentName) {
        this(new DistributedLogger(endpoint, serviceName, componentName), true);
    }

    /** A handler writing to {@code logger}, which the caller keeps and stops. */
    public SluiceHandler(DistributedLogger logger) {
        this(logger, false);
    }

    private SluiceHandler(DistributedLogger logger, boolean owned) {
        if (logger == null) throw new NullPointerException("logger");
        this.logger = logger;
        this.owned = owned;
    }

    /** The logger underneath: {@code stats()} and listeners report delivery. */
    public DistributedLogger logger() {
        return logger;
    }

    /** JUL level → Sluice level, by value (SEVERE 1000, WARNING 900, INFO 800, CONFIG 700, FINE 500). */
    public static dev.sluice.client.Level toSluiceLevel(java.util.logging.Level level) {
        int v = level == null ? java.util.logging.Level.INFO.intValue() : level.intValue();
        if (v >= java.util.logging.Level.SEVERE.intValue()) return dev.sluice.client.Level.ERROR;
        if (v >= java.util.logging.Level.WARNING.intValue()) return dev.sluice.client.Level.WARN;
        if (v >= java.util.logging.Level.CONFIG.intValue()) return dev.sluice.client.Level.INFO;
        return dev.sluice.client.Level.DEBUG;
    }

    @Override
    public void publish(LogRecord record) {
        if (closed || record == null || !isLoggable(record) || isOwnTraffic(record)) return;
        try {
            Map<String, Object> context = new LinkedHashMap<>();
            if (record.getLoggerName() != null) context.put("logger", record.getLoggerName());
            if (record.getSourceClassName() != null) context.put("class", record.getSourceClassName());
            if (record.getSourceMethodName() != null) context.put("method", record.getSourceMethodName());
            context.put("thread_id", record.getLongThreadID());
            String message;
            Formatter f = getFormatter();
            try {
                message = f != null ? f.formatMessage(record) : MESSAGES.formatMessage(record);
            } catch (RuntimeException e) {
                message = String.valueOf(record.getMessage());
            }
            String trace = null;
            if (record.getThrown() != null) {
                Throwable t = record.getThrown();
                context.put("error", t.getMessage() != null ? t.getMessage() : t.getClass().getName());
                java.io.StringWriter w = new java.io.StringWriter();
                try (java.io.PrintWriter pw = new java.io.PrintWriter(w)) {
                    t.printStackTrace(pw);
                }
                trace = w.toString().stripTrailing();
            }
            logger.log(record.getInstant(), toSluiceLevel(record.getLevel()), message, context, trace);
        } catch (RuntimeException e) {
            reportError("could not queue a record", e, ErrorManager.WRITE_FAILURE);
        }
    }

    /** The JDK's HTTP client and this library, or anything logged on the library's threads: never sent (no loop). */
    private static boolean isOwnTraffic(LogRecord record) {
        String name = record.getLoggerName();
        if (name != null && (name.startsWith("jdk.internal.httpclient") || name.startsWith("jdk.httpclient")
                || name.startsWith("dev.sluice.client"))) return true;
        return DistributedLogger.isInternalThread();
    }

    /** Waits (up to 10 s) until what was published is delivered. */
    @Override
    public void flush() {
        logger.flush(Duration.ofSeconds(10));
    }

    /** Stops the handler's own logger (delivering for up to its stop deadline) or flushes a shared one. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owned) logger.stop();
        else flush();
    }
}
