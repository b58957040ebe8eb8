package dev.sluice.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * The HTTP transport: one JSON batch to {@code POST /api/logs}, gzip above 1 KiB, through
 * {@link java.net.http.HttpClient} (its default version: on {@code http://} it offers {@code Upgrade: h2c},
 * which the gateway declines by answering as HTTP/1.1; on {@code https://} ALPN decides). One connection is
 * kept alive between batches, since only one batch is in flight at a time.
 */
final class HttpTransport implements Transport {
    static final int GZIP_ABOVE_BYTES = 1024;

    private final URI uri;
    private final String authorization;
    private final String userAgent;
    private final Duration timeout;
    private final HttpClient client;
    private final LongSupplier clockMillis;

    /** The batch being sent, kept for its retries (the same bytes again). Only the sender thread touches it. */
    private String currentId;
    private int currentCount;
    private byte[] currentBody;
    private boolean currentGzip;

    HttpTransport(String endpoint, String apiKey, Duration timeout, String userAgent, Executor executor, LongSupplier clockMillis) {
        this.uri = ingestUri(endpoint);
        this.authorization = apiKey == null || apiKey.isEmpty() ? null : "Bearer " + apiKey;
        this.userAgent = userAgent;
        this.timeout = timeout;
        this.clockMillis = clockMillis;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER);
        if (executor != null) b.executor(executor);
        this.client = b.build();
    }

    /** {@code http://host:9000}, {@code http://host:9000/} and {@code http://host:9000/api/logs} all give the ingest URL. */
    static URI ingestUri(String endpoint) {
        String e = endpoint.trim();
        while (e.endsWith("/")) e = e.substring(0, e.length() - 1);
        if (!e.endsWith("/api/logs")) e = e + "/api/logs";
        URI u = URI.create(e);
        if (u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http") || u.getScheme().equalsIgnoreCase("https")) || u.getHost() == null) {
            throw new IllegalArgumentException("endpoint must be an http:// or https:// URL, got " + endpoint);
        }
        return u;
    }

    /** Statuses worth trying again: timeouts, rate limits and server errors. Other 4xx are permanent. */
    static boolean retryableStatus(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    URI uri() {
        return uri;
    }

    @Override
    public Result send(String batchId, List<byte[]> entries) throws InterruptedException {
        if (!batchId.equals(currentId) || entries.size() != currentCount) encode(batchId, entries);
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("User-Agent", userAgent)
                // The gateway then answers the count instead of echoing every stored entry: only the status is read.
                .header("Prefer", "return=minimal")
                .POST(HttpRequest.BodyPublishers.ofByteArray(currentBody));
        if (authorization != null) rb.header("Authorization", authorization);
        if (currentGzip) rb.header("Content-Encoding", "gzip");
        HttpResponse<String> res;
        try {
            res = client.send(rb.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (HttpTimeoutException e) {
            return Result.retry(0, -1, "timeout");
        } catch (ConnectException e) {
            return Result.retry(0, -1, "connection refused" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
        } catch (IOException e) {
            return Result.retry(0, -1, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        int status = res.statusCode();
        String body = res.body() == null ? "" : res.body();
        if (status >= 200 && status < 300) {
            // 201 is a first store; a repeated batch_id is answered 200 with "duplicate": true.
            return Result.delivered(status, status != 201 && DUPLICATE.matcher(body).find());
        }
        String error = "HTTP " + status;
        String code = field(ERROR, body);
        String message = field(MESSAGE, body);
        if (code != null) error += " " + code;
        if (message != null) error += ": " + message;
        if (!retryableStatus(status)) return Result.permanent(status, error);
        long retryAfter = Backoff.parseRetryAfter(res.headers().firstValue("Retry-After").orElse(null), clockMillis.getAsLong());
        return Result.retry(status, retryAfter, error);
    }

    private static final Pattern DUPLICATE = Pattern.compile("\"duplicate\"\\s*:\\s*true");
    private static final Pattern ERROR = Pattern.compile("\"error\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.){0,200})\"");
    private static final Pattern MESSAGE = Pattern.compile("\"message\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.){0,300})\"");

    private static String field(Pattern p, String body) {
        Matcher m = p.matcher(body);
        return m.find() ? m.group(1) : null;
    }

    /** {@code {"batch_id","logs":[…]}} as bytes, gzip (fast level) when over 1 KiB. */
    private void encode(String batchId, List<byte[]> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + entries.size() * 256);
        out.writeBytes(("{\"batch_id\":\"" + batchId + "\",\"logs\":[").getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) out.write(',');
            out.writeBytes(entries.get(i));
        }
        out.writeBytes("]}".getBytes(StandardCharsets.UTF_8));
        byte[] plain = out.toByteArray();
        byte[] body = plain;
        boolean gzip = false;
        if (plain.length > GZIP_ABOVE_BYTES) {
            try {
                body = gzip(plain);
                gzip = true;
            } catch (IOException e) {
                // cannot happen in memory; plain JSON is still a valid body
            }
        }
        currentId = batchId;
        currentCount = entries.size();
        currentBody = body;
        currentGzip = gzip;
    }

    /**
     * Level 1: on batches of log entries it is several times faster than the default level for a body a few
     * percent larger (entries repeat their keys, which the fast level finds too).
     */
    static byte[] gzip(byte[] plain) throws IOException {
        ByteArrayOutputStream z = new ByteArrayOutputStream(plain.length / 6 + 64);
        try (GZIPOutputStream g = new GZIPOutputStream(z, 8192) {
            {
                def.setLevel(Deflater.BEST_SPEED);
            }
        }) {
            g.write(plain);
        }
        return z.toByteArray();
    }
}
