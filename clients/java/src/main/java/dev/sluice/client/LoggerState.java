package dev.sluice.client;

import java.util.Locale;

/**
 * The states of a {@link DistributedLogger} (the seed's): {@code stopped → starting → batching ⇄ sending};
 * a failed send → {@code error → retrying → sending …}, or {@code failed} after {@code maxRetries} (still
 * buffering, still accepting log calls, still probing the gateway at the backoff cap, back to
 * {@code batching} on the first delivery); {@code stop()} from any state → {@code stopping → stopped}.
 *
 * <p>{@link #toString()} is the lower-case name the Node library and {@code stats()} use.
 */
public enum LoggerState {
    STOPPED,
    STARTING,
    BATCHING,
    SENDING,
    ERROR,
    RETRYING,
    FAILED,
    STOPPING;

    private final String wire = name().toLowerCase(Locale.ROOT);

    /** {@code "batching"}, {@code "failed"} …: the name in {@link Stats#toJson()} and the other libraries. */
    @Override
    public String toString() {
        return wire;
    }
}
