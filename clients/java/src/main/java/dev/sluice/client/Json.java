package dev.sluice.client;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small JSON writer for metadata: the core jar has no dependency, and an entry is written once, at the log
 * call, into a string the buffer keeps (not a live object the app may still change).
 *
 * <p>Maps become objects (keys by {@code String.valueOf}), collections, iterables and arrays become arrays,
 * numbers and booleans stay themselves (non-finite doubles become {@code null}, as in JavaScript), a
 * {@link Throwable} becomes {@code {"type","message"}}, an {@link Optional} its value, and anything else its
 * {@code toString()}. A cycle, or nesting deeper than {@link #MAX_DEPTH}, throws {@link Unserializable}.
 */
final class Json {
    static final int MAX_DEPTH = 64;

    /** The metadata cannot be written; the entry goes with a note instead of it. */
    static final class Unserializable extends Exception {
        Unserializable(String message) {
            super(message, null, false, false);
        }
    }

    private Json() {}

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** {@code s} as a JSON string literal, quotes included. */
    static void string(StringBuilder sb, String s) {
        sb.append('"');
        int n = s.length();
        int start = 0;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\' && c != 0x2028 && c != 0x2029) continue;
            sb.append(s, start, i);
            start = i + 1;
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    sb.append("\\u").append(HEX[(c >> 12) & 15]).append(HEX[(c >> 8) & 15]).append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
            }
        }
        sb.append(s, start, n);
        sb.append('"');
    }

    /** Any value, as described in the class comment. */
    static void value(StringBuilder sb, Object v) throws Unserializable {
        value(sb, v, new ArrayList<>(4));
    }

    static void value(StringBuilder sb, Object v, ArrayList<Object> path) throws Unserializable {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String) {
            string(sb, (String) v);
        } else if (v instanceof Boolean) {
            sb.append(((Boolean) v).booleanValue());
        } else if (v instanceof Number) {
            number(sb, (Number) v);
        } else if (v instanceof Map) {
            enter(path, v);
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                string(sb, String.valueOf(e.getKey()));
                sb.append(':');
                value(sb, e.getValue(), path);
            }
            sb.append('}');
            path.remove(path.size() - 1);
        } else if (v instanceof Iterable) {
            enter(path, v);
            sb.append('[');
            boolean first = true;
            for (Object o : (Iterable<?>) v) {
                if (!first) sb.append(',');
                first = false;
                value(sb, o, path);
            }
            sb.append(']');
            path.remove(path.size() - 1);
        } else if (v.getClass().isArray()) {
            enter(path, v);
            sb.append('[');
            int n = Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) sb.append(',');
                value(sb, Array.get(v, i), path);
            }
            sb.append(']');
            path.remove(path.size() - 1);
        } else if (v instanceof Throwable) {
            Throwable t = (Throwable) v;
            sb.append("{\"type\":");
            string(sb, t.getClass().getName());
            sb.append(",\"message\":");
            if (t.getMessage() == null) sb.append("null");
            else string(sb, t.getMessage());
            sb.append('}');
        } else if (v instanceof Optional) {
            value(sb, ((Optional<?>) v).orElse(null), path);
        } else if (v instanceof Enum) {
            string(sb, ((Enum<?>) v).name());
        } else {
            // CharSequence, Character, UUID, java.time values, records…: their text.
            string(sb, String.valueOf(v));
        }
    }

    private static void enter(ArrayList<Object> path, Object container) throws Unserializable {
        for (Object o : path) {
            if (o == container) throw new Unserializable("cycle in metadata (a " + container.getClass().getSimpleName() + " contains itself)");
        }
        if (path.size() >= MAX_DEPTH) throw new Unserializable("metadata nested deeper than " + MAX_DEPTH + " levels");
        path.add(container);
    }

    private static void number(StringBuilder sb, Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte || n instanceof BigInteger
                || n instanceof AtomicInteger || n instanceof AtomicLong) {
            sb.append(n.toString());
        } else if (n instanceof Double) {
            double d = n.doubleValue();
            if (Double.isFinite(d)) sb.append(d);
            else sb.append("null");
        } else if (n instanceof Float) {
            float f = n.floatValue();
            if (Float.isFinite(f)) sb.append(f);
            else sb.append("null");
        } else if (n instanceof BigDecimal) {
            sb.append(n.toString());
        } else {
            double d = n.doubleValue();
            if (Double.isFinite(d)) sb.append(d);
            else sb.append("null");
        }
    }
}
