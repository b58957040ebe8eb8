package dev.sluice.client;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of a logger's counters, with the Node library's names.
 *
 * @param sent     entries the gateway acknowledged (201, or 200 {@code duplicate})
 * @param failed   entries given up on: refused for good (a 4xx other than 408/429) or left when
 *                 {@code stop()} ran out of time
 * @param dropped  entries dropped from a full buffer (the oldest waiting ones)
 * @param buffered entries waiting or in flight now
 * @param retries  batches sent again after a failed attempt
 * @param sampled  entries left out by {@code sampleRate}
 * @param state    the logger's state now
 */
public record Stats(long sent, long failed, long dropped, long buffered, long retries, long sampled, LoggerState state) {

    /** The same as an ordered map, state as its lower-case name: {@code stats().toMap().get("state")}. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sent", sent);
        m.put("failed", failed);
        m.put("dropped", dropped);
        m.put("buffered", buffered);
        m.put("retries", retries);
        m.put("sampled", sampled);
        m.put("state", state.toString());
        return m;
    }

    /** One JSON object, as the conformance program prints it. */
    public String toJson() {
        return "{\"sent\":" + sent + ",\"failed\":" + failed + ",\"dropped\":" + dropped + ",\"buffered\":" + buffered
                + ",\"retries\":" + retries + ",\"sampled\":" + sampled + ",\"state\":\"" + state + "\"}";
    }
}
