package dev.sluice.client;

/**
 * What a logger reports about delivery. Every method has an empty default: implement what you need and add
 * it with {@link DistributedLogger#addListener} or {@link DistributedLogger.Builder#listener}.
 *
 * <p>Events are delivered one at a time, in the order they happened, on whichever thread is dispatching
 * (mostly the logger's sender thread; a log call that overflowed the buffer may run the {@code onDropped} it
 * caused). Keep listeners quick; an exception thrown by one is caught and reported. A listener must not call
 * {@code flush()} or {@code stop()} of the logger it listens to (the sender would wait for itself).
 */
public interface LoggerListener {

    /** The state changed (see {@link LoggerState}). */
    default void onStateChange(LoggerState from, LoggerState to) {}

    /** A batch was stored by the gateway (201), or had been already (200, {@code duplicate}). */
    default void onBatchSent(BatchSent event) {}

    /**
     * A batch was refused for good ({@code permanent}: a 4xx other than 408/429, or left when {@code stop()}
     * ran out of time), or reached {@code maxRetries} ({@code permanent == false}: it is still kept and
     * retried while the logger is {@code failed}).
     */
    default void onBatchFailed(BatchFailed event) {}

    /** Entries were lost: {@code overflow} (the buffer was full, the oldest went) or {@code stop}. */
    default void onDropped(Dropped event) {}

    /** Something went wrong that the app may want to see: a failed send attempt, a log call that broke. */
    default void onError(String message, Throwable cause) {}

    /** @param attempts how many times the batch was sent, this one included */
    record BatchSent(String batchId, int count, int status, boolean duplicate, int attempts) {}

    /** @param status the HTTP status, 0 when there was none (connection error, timeout, stop) */
    record BatchFailed(String batchId, int count, int status, String error, boolean permanent) {}

    /** @param reason {@code "overflow"} or {@code "stop"} */
    record Dropped(int count, String reason) {}
}
