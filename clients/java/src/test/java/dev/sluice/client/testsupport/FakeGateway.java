package dev.sluice.client.testsupport;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.GZIPInputStream;

/**
 * A stand-in for the gateway's {@code POST /api/logs} on {@code com.sun.net.httpserver}: records every
 * request (headers, the body un-gzipped and parsed) and answers from a script, then 201.
 */
public final class FakeGateway implements AutoCloseable {

    /** One request as received. */
    public record Request(String method, String path, Map<String, String> headers, int rawLength, Map<String, Object> body, long atNanos) {
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public String batchId() {
            return (String) body.get("batch_id");
        }

        @SuppressWarnings("unchecked")
        public List<Map<String, Object>> logs() {
            return (List<Map<String, Object>>) body.get("logs");
        }
    }

    /** One scripted answer: a status, a body, headers ("Name", "value", …), and a delay before answering. */
    public record Reply(int status, String body, long delayMillis, String... headers) {}

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-gateway");
        t.setDaemon(true);
        return t;
    });
    private final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private final Deque<Reply> script = new ArrayDeque<>();

    public FakeGateway() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
    }

    /** {@code http://127.0.0.1:<port>} */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public synchronized FakeGateway reply(int status, String body, String... headers) {
        script.addLast(new Reply(status, body, 0, headers));
        return this;
    }

    public synchronized FakeGateway replySlow(long delayMillis, int status, String body) {
        script.addLast(new Reply(status, body, delayMillis));
        return this;
    }

    private synchronized Reply next() {
        return script.pollFirst();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Map<String, String> headers = new LinkedHashMap<>();
            ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
            byte[] raw = ex.getRequestBody().readAllBytes();
            byte[] plain = raw;
            if ("gzip".equalsIgnoreCase(headers.get("content-encoding"))) {
                try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                    plain = in.readAllBytes();
                }
            }
            Map<String, Object> body = plain.length == 0 ? Map.of() : MiniJson.object(new String(plain, StandardCharsets.UTF_8));
            requests.add(new Request(ex.getRequestMethod(), ex.getRequestURI().getPath(), headers, raw.length, body, System.nanoTime()));
            Reply r = next();
            if (r == null) {
                Object logs = body.get("logs");
                r = new Reply(201, "{\"saved\":" + (logs instanceof List ? ((List<?>) logs).size() : 0) + ",\"errors\":null}", 0);
            }
            if (r.delayMillis() > 0) {
                try {
                    Thread.sleep(r.delayMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
            for (int k = 0; k + 1 < r.headers().length; k += 2) ex.getResponseHeaders().add(r.headers()[k], r.headers()[k + 1]);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            byte[] out = r.body().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(r.status(), out.length == 0 ? -1 : out.length);
            if (out.length > 0) ex.getResponseBody().write(out);
        } catch (IOException | RuntimeException e) {
            // the client went away (a timeout test): nothing to answer
        }
    }

    public List<Request> requests() {
        synchronized (requests) {
            return new ArrayList<>(requests);
        }
    }

    /** Every entry of every request, in arrival order (retries included). */
    public List<Map<String, Object>> entries() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Request r : requests()) out.addAll(r.logs());
        return out;
    }

    public void awaitRequests(int n, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (requests.size() < n) {
            if (System.nanoTime() > end) throw new AssertionError("expected " + n + " requests, saw " + requests.size());
            Thread.sleep(5);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
