package dev.sluice.client;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * What one log call becomes on the wire: an entry of {@code POST /api/logs} as UTF-8 JSON, written once at the
 * log call.
 */
final class Entries {
    private Entries() {}

    /** Who is logging: what every entry of one logger carries. */
    record Identity(String appId, String source) {}

    // ---------------------------------------------------------------------------------------------
    // Timestamps: YYYY-MM-DDTHH:MM:SS.ffffffZ
    // ---------------------------------------------------------------------------------------------

    /** The date part of the last day formatted ("2025-01-31T"), so most timestamps format without java.time. */
    private static volatile Object[] dayCache = {Long.MIN_VALUE, ""};

    /** Now, with the microseconds Java's clock gives on Linux. */
    static String now() {
        return timestamp(Instant.now());
    }

    /** {@code YYYY-MM-DDTHH:MM:SS.ffffffZ} (UTC, six fraction digits, as the gateway requires). */
    static String timestamp(Instant t) {
        long sec = t.getEpochSecond();
        long day = Math.floorDiv(sec, 86_400L);
        int secOfDay = (int) Math.floorMod(sec, 86_400L);
        Object[] cached = dayCache;
        String date;
        if ((Long) cached[0] == day) {
            date = (String) cached[1];
        } else {
            date = LocalDate.ofEpochDay(day) + "T";
            dayCache = new Object[] {day, date};
        }
        int micros = t.getNano() / 1000;
        char[] out = new char[16];
        two(out, 0, secOfDay / 3600);
        out[2] = ':';
        two(out, 3, (secOfDay / 60) % 60);
        out[5] = ':';
        two(out, 6, secOfDay % 60);
        out[8] = '.';
        for (int i = 14; i >= 9; i--) {
            out[i] = (char) ('0' + micros % 10);
            micros /= 10;
        }
        out[15] = 'Z';
        return date.concat(new String(out));
    }

    private static void two(char[] out, int at, int v) {
        out[at] = (char) ('0' + v / 10);
        out[at + 1] = (char) ('0' + v % 10);
    }

    // ---------------------------------------------------------------------------------------------
    // Entries
    // ---------------------------------------------------------------------------------------------

    /** The stack trace as {@code printStackTrace} writes it (causes and suppressed included), without the last newline. */
    static String stackTrace(Throwable t) {
        StringWriter w = new StringWriter(1024);
        try (PrintWriter p = new PrintWriter(w)) {
            t.printStackTrace(p);
        }
        String s = w.toString();
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) end--;
        return s.substring(0, end);
    }

    private static final ThreadLocal<StringBuilder[]> BUILDERS = ThreadLocal.withInitial(
            () -> new StringBuilder[] {new StringBuilder(512), new StringBuilder(256)});

    /**
     * One entry as UTF-8 JSON. {@code metadata} becomes {@code context} (after a fresh {@code request_id}); a
     * {@link Throwable} under {@code error} or {@code err} gives {@code stack_trace} and leaves its message in the
     * context; {@code tags} (a collection or array) becomes the entry's tags, after {@code extraTags}.
     * {@code thrown} gives {@code stack_trace} (and {@code context.error}, its message, unless the metadata has an
     * {@code error}); {@code stackTrace}, already formatted (a logging framework's), wins over both. Metadata that
     * cannot be written (a cycle, a failing {@code toString}, a map changed while read) is replaced by
     * {@code context.unserializable_metadata}: the entry still goes.
     */
    static byte[] entry(Identity who, Instant time, Level level, String message, Map<String, ?> metadata, Throwable thrown,
            String stackTrace, String category, List<String> extraTags) {
        StringBuilder[] bs = BUILDERS.get();
        StringBuilder ctx = bs[1];
        ctx.setLength(0);
        String requestId = Ids.requestId();
        List<String> tags = extraTags;
        String trace = null;
        try {
            ctx.append("{\"request_id\":\"").append(requestId).append('"');
            boolean hasError = false;
            if (metadata != null) {
                for (Map.Entry<String, ?> e : metadata.entrySet()) {
                    String k = String.valueOf(e.getKey());
                    Object v = e.getValue();
                    if (k.equals("request_id")) continue; // ours: unique per entry
                    if (k.equals("tags") && (v instanceof Collection || v instanceof Object[])) {
                        List<String> t = new ArrayList<>(tags == null ? List.of() : tags);
                        Iterable<?> it = v instanceof Collection ? (Collection<?>) v : List.of((Object[]) v);
                        for (Object o : it) t.add(String.valueOf(o));
                        tags = t;
                        continue;
                    }
                    if (k.equals("error")) hasError = true;
                    ctx.append(',');
                    Json.string(ctx, k);
                    ctx.append(':');
                    if (v instanceof Throwable && (k.equals("error") || k.equals("err"))) {
                        Throwable t = (Throwable) v;
                        if (trace == null) trace = stackTrace(t);
                        Json.string(ctx, messageOf(t));
                    } else {
                        Json.value(ctx, v);
                    }
                }
            }
            if (thrown != null) {
                trace = stackTrace(thrown);
                if (!hasError) {
                    ctx.append(",\"error\":");
                    Json.string(ctx, messageOf(thrown));
                }
            }
            ctx.append('}');
        } catch (Json.Unserializable | RuntimeException | StackOverflowError e) {
            ctx.setLength(0);
            ctx.append("{\"request_id\":\"").append(requestId).append("\",\"unserializable_metadata\":");
            Json.string(ctx, e instanceof Json.Unserializable ? e.getMessage() : String.valueOf(e));
            ctx.append('}');
            tags = extraTags;
            trace = thrown != null ? safeStackTrace(thrown) : null;
        }
        if (stackTrace != null) trace = stackTrace;

        StringBuilder sb = bs[0];
        sb.setLength(0);
        sb.append("{\"timestamp\":\"").append(timestamp(time)).append("\",\"level\":\"").append(level.name()).append("\",\"message\":");
        Json.string(sb, message == null ? "null" : message);
        if (who.appId() != null) {
            sb.append(",\"app_id\":");
            Json.string(sb, who.appId());
        }
        if (who.source() != null) {
            sb.append(",\"source\":");
            Json.string(sb, who.source());
        }
        if (category != null) {
            sb.append(",\"category\":");
            Json.string(sb, category);
        }
        if (tags != null) {
            sb.append(",\"tags\":[");
            for (int i = 0; i < tags.size(); i++) {
                if (i > 0) sb.append(',');
                Json.string(sb, String.valueOf(tags.get(i)));
            }
            sb.append(']');
        }
        if (trace != null) {
            sb.append(",\"stack_trace\":");
            Json.string(sb, trace);
        }
        sb.append(",\"context\":").append(ctx).append('}');
        byte[] out = sb.toString().getBytes(StandardCharsets.UTF_8);
        // Builders that grew on one huge entry are not kept for the thread's lifetime.
        if (sb.capacity() > 64 * 1024 || ctx.capacity() > 64 * 1024) BUILDERS.remove();
        return out;
    }

    private static String messageOf(Throwable t) {
        String m = t.getMessage();
        return m != null ? m : t.getClass().getName();
    }

    private static String safeStackTrace(Throwable t) {
        try {
            return stackTrace(t);
        } catch (RuntimeException e) {
            return t.getClass().getName();
        }
    }
}
