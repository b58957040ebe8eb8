package dev.sluice.client;

import java.util.Locale;

/** The five Sluice levels, as they go on the wire ({@code WARN}, not {@code WARNING}). */
public enum Level {
    DEBUG(10),
    INFO(20),
    WARN(30),
    ERROR(40),
    FATAL(50);

    private final int rank;

    Level(int rank) {
        this.rank = rank;
    }

    /** Higher is more severe: used by {@code minLevel} and by sampling (ERROR and FATAL are always kept). */
    public int rank() {
        return rank;
    }

    /**
     * A level name as the logging world spells it, case-insensitive: {@code trace}/{@code debug} → DEBUG,
     * {@code info}/{@code notice} → INFO, {@code warn}/{@code warning} → WARN, {@code error}/{@code err} → ERROR,
     * {@code fatal}/{@code critical}/{@code crit}/{@code alert}/{@code emerg}/{@code panic} → FATAL (Python's
     * {@code critical} is FATAL). Returns null for a name no logger uses.
     */
    public static Level parse(String name) {
        if (name == null) return null;
        switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "trace":
            case "debug":
            case "verbose":
            case "fine":
            case "finer":
            case "finest":
                return DEBUG;
            case "info":
            case "information":
            case "notice":
            case "config":
                return INFO;
            case "warn":
            case "warning":
                return WARN;
            case "error":
            case "err":
            case "severe":
                return ERROR;
            case "fatal":
            case "critical":
            case "crit":
            case "alert":
            case "emerg":
            case "emergency":
            case "panic":
                return FATAL;
            default:
                return null;
        }
    }
}
