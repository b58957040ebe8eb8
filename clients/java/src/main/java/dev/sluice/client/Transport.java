package dev.sluice.client;

import java.util.List;

/**
 * How batches reach the gateway. The logger calls {@link #send} from its sender thread with one batch at a
 * time (the next only after the previous returned), so a transport keeps the order without any logic of its
 * own. The default is HTTP: {@code POST <endpoint>/api/logs}. Tests and unusual set-ups can give their own to
 * {@link DistributedLogger.Builder#transport}.
 */
public interface Transport {

    /**
     * Sends one batch. {@code entries} are serialised JSON objects (UTF-8). A retry of the same batch comes
     * with the same {@code batchId} and the same entries. An exception counts as a retryable failure.
     */
    Result send(String batchId, List<byte[]> entries) throws Exception;

    /** Called when the logger stopped; a logger started again may send more. */
    default void close() {}

    /**
     * What one attempt came to.
     *
     * @param retryAfterMillis the gateway's {@code Retry-After} in milliseconds, -1 when it sent none
     * @param status           the HTTP status, 0 when there was none
     */
    record Result(boolean ok, boolean retryable, int status, boolean duplicate, long retryAfterMillis, String error) {

        /** Stored (201) or stored before (200 with {@code duplicate: true}). */
        public static Result delivered(int status, boolean duplicate) {
            return new Result(true, false, status, duplicate, -1, null);
        }

        /** Worth another try: connection error, timeout, 408, 429, 5xx. */
        public static Result retry(int status, long retryAfterMillis, String error) {
            return new Result(false, true, status, false, retryAfterMillis, error);
        }

        /** Refused for good: the batch is counted as failed and the next one goes. */
        public static Result permanent(int status, String error) {
            return new Result(false, false, status, false, -1, error);
        }
    }
}
