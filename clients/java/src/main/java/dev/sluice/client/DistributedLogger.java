package dev.sluice.client;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.DoubleSupplier;

/**
 * The Sluice client: log calls format an entry, put it in a bounded buffer and return; a daemon sender
 * thread sends batches to the gateway's {@code POST /api/logs}, retries with backoff and reports what it
 * could not deliver.
 *
 * <pre>{@code
 * try (DistributedLogger logger = new DistributedLogger("http://localhost:9000", "my-application", "user-service")) {
 *     logger.info("User logged in successfully", Map.of("user_id", 12345, "login_method", "oauth"));
 *     logger.error("Database connection failed", Map.of("database", "users-db"), exception);
 *     logger.custom("payment_completed", Map.of("amount", 99.99, "currency", "USD"));
 * }
 * }</pre>
 *
 * <p><b>Starting.</b> The constructors and {@link Builder#build()} return a <em>started</em> logger (the
 * seed's example logs right after constructing); {@link Builder#autoStart(boolean) autoStart(false)} gives a
 * stopped one whose entries wait in the buffer until {@link #start()}. {@code start()} on a running logger
 * does nothing; on a stopped one it starts it again.
 *
 * <p><b>Log calls</b> ({@code debug … fatal}, {@link #custom}, {@link #log}) never block on I/O, never throw,
 * and hold the buffer's lock only to append. Metadata becomes the entry's {@code context} (plus a unique
 * {@code request_id}); a {@code Throwable} argument (or one under the key {@code error} or {@code err}) gives
 * {@code stack_trace}; a collection under {@code tags} becomes the entry's tags. Metadata that cannot be
 * written is replaced by {@code context.unserializable_metadata} and the entry still goes.
 *
 * <p><b>Delivery.</b> A batch closes at {@code batchSize} entries or {@code flushInterval} after its first,
 * whichever comes first. One batch is in flight at a time, which keeps the order; it keeps its
 * {@code batch_id} on every retry (the gateway stores a repeated one once). Connection errors, timeouts,
 * 408, 429 and 5xx are retried after a random wait in [0, min(30 s, 1 s·2ⁿ)], or the gateway's
 * {@code Retry-After} (at most 5 min); other 4xx fail the batch for good and the next one goes. After
 * {@code maxRetries} the state is {@code failed}: entries are still buffered and the gateway is probed at
 * the backoff cap until a delivery returns the logger to {@code batching}. When the buffer is full the
 * oldest waiting entries are dropped (never the batch in flight) and, after the next delivery, one WARN
 * entry says how many and since when.
 *
 * <p><b>Stopping.</b> {@link #stop()} / {@link #close()} deliver for up to {@code stopTimeout} (also from
 * {@code failed}), then count what is left as failed. A JVM shutdown hook does the same for a logger still
 * running when the JVM exits ({@link Builder#shutdownHook(boolean) shutdownHook(false)} turns it off).
 *
 * <p>Configuration: explicit options, then the {@code SLUICE_URL}, {@code SLUICE_TOKEN} and
 * {@code SLUICE_SERVICE} environment variables, then the defaults ({@code http://localhost:9000}).
 * Problems go to the listeners ({@link LoggerListener}) and, at most once a minute, one line to stderr.
 */
public final class DistributedLogger implements AutoCloseable {

    /** The library's version, as in the {@code User-Agent}. */
    public static final String VERSION = "0.1.0";

    /** {@code sluice-java/0.1.0 (Java 17.0.15)}: what every request says it is. */
    public static final String USER_AGENT = "sluice-java/" + VERSION + " (Java " + System.getProperty("java.version") + ")";

    private static final long COMPLAIN_EVERY_NANOS = Duration.ofMinutes(1).toNanos();
    private static final AtomicInteger SEQ = new AtomicInteger();

    private final String endpoint;
    private final String serviceName;
    private final String componentName;
    private final Entries.Identity identity;
    private final int batchSize;
    private final long flushIntervalNanos;
    private final int maxRetries;
    private final int maxBufferEntries;
    private final long maxBufferBytes;
    private final long stopTimeoutNanos;
    private final Level minLevel;
    private final double sampleRate;
    private final DoubleSupplier random;
    private final boolean shutdownHook;
    private final Transport transport;
    private final ExecutorService httpExecutor;
    private final String name;
    private final List<LoggerListener> listeners = new CopyOnWriteArrayList<>();

    // Everything below is guarded by `lock`, which is never held during I/O or while listeners run.
    private final ReentrantLock lock = new ReentrantLock();
    /** The sender waits on it: new entries, a flush, a stop, the end of a retry wait. */
    private final Condition wake = lock.newCondition();
    /** flush() and stop() wait on it: a batch settled, the buffer emptied, the logger failed or stopped. */
    private final Condition progress = lock.newCondition();

    private final ArrayDeque<Item> queue = new ArrayDeque<>();
    private long queuedBytes;
    /** The batch on the wire, or waiting for its retry. */
    private Batch inflight;
    private boolean retryWait;
    private long retryAtNanos;
    /** A partial batch goes at `deadlineNanos` (flushInterval after the sender first saw it waiting). */
    private boolean armed;
    private long deadlineNanos;
    /** flush() calls waiting: partial batches go at once. */
    private int draining;
    /** Bumped when the logger reaches `failed`: a flush waiting gives up then (stop() does not). */
    private long failEpoch;
    private volatile LoggerState state = LoggerState.STOPPED;
    private boolean stopInProgress;
    /** Each sender thread runs for one generation; stop() bumps it, so an old sender exits. */
    private int generation;
    private Thread sender;
    private Thread hook;
    private long lostCount;
    private String lostSince;
    private long sent;
    private long failed;
    private long dropped;
    private long retries;
    private final AtomicLong sampled = new AtomicLong();

    /** Listener calls, run in order by whichever thread gets to dispatch (never under the lock). */
    private final ConcurrentLinkedQueue<Runnable> events = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean dispatching = new AtomicBoolean();
    private volatile Thread dispatcher;
    private final AtomicLong lastComplaint = new AtomicLong(System.nanoTime() - COMPLAIN_EVERY_NANOS - 1);

    /**
     * A started logger. The api key comes from {@code SLUICE_TOKEN}.
     *
     * @param endpoint      the gateway's base URL or its {@code /api/logs} URL; null: {@code SLUICE_URL}, then
     *                      {@code http://localhost:9000}
     * @param serviceName   each entry's {@code app_id} (the Sluice app, the token's); null: {@code SLUICE_SERVICE}
     * @param componentName each entry's {@code source}; may be null
     */
    public DistributedLogger(String endpoint, String serviceName, String componentName) {
        this(builder().endpoint(endpoint).serviceName(serviceName).componentName(componentName));
        start();
    }

    /** A started logger with an explicit api key (an ingest token of the app). */
    public DistributedLogger(String endpoint, String serviceName, String componentName, String apiKey) {
        this(builder().endpoint(endpoint).serviceName(serviceName).componentName(componentName).apiKey(apiKey));
        start();
    }

    private DistributedLogger(Builder b) {
        Map<String, String> env = b.env != null ? b.env : System.getenv();
        this.endpoint = firstOf(b.endpoint, env.get("SLUICE_URL"), "http://localhost:9000");
        this.serviceName = firstOf(b.serviceName, env.get("SLUICE_SERVICE"), null);
        this.componentName = empty(b.componentName) ? null : b.componentName;
        this.identity = new Entries.Identity(serviceName, componentName);
        this.batchSize = b.batchSize > 0 ? b.batchSize : 100;
        this.flushIntervalNanos = positive(b.flushInterval, Duration.ofSeconds(5)).toNanos();
        this.maxRetries = b.maxRetries >= 0 ? b.maxRetries : 5;
        this.maxBufferEntries = b.maxBufferEntries > 0 ? b.maxBufferEntries : 10_000;
        this.maxBufferBytes = b.maxBufferBytes > 0 ? b.maxBufferBytes : 8L * 1024 * 1024;
        this.stopTimeoutNanos = positive(b.stopTimeout, Duration.ofSeconds(10)).toNanos();
        this.minLevel = b.minLevel;
        this.sampleRate = b.sampleRate >= 0 && b.sampleRate <= 1 ? b.sampleRate : 1;
        this.random = b.random != null ? b.random : () -> ThreadLocalRandom.current().nextDouble();
        this.shutdownHook = b.shutdownHook;
        this.name = "sluice-" + (componentName != null ? componentName : serviceName != null ? serviceName : "logger") + "-" + SEQ.incrementAndGet();
        this.listeners.addAll(b.listeners);
        if (b.transport != null) {
            this.transport = b.transport;
            this.httpExecutor = null;
        } else {
            // HttpClient's own work runs on threads marked as the library's, so logging adapters can tell
            // the library's I/O (and what the JDK logs about it) from the app's.
            this.httpExecutor = Executors.newCachedThreadPool(r -> {
                Thread t = new InternalThread(r, name + "-http");
                t.setDaemon(true);
                return t;
            });
            String apiKey = firstOf(b.apiKey, env.get("SLUICE_TOKEN"), null);
            Duration requestTimeout = positive(b.requestTimeout, Duration.ofSeconds(10));
            this.transport = new HttpTransport(endpoint, apiKey, requestTimeout, USER_AGENT, httpExecutor, System::currentTimeMillis);
        }
        // One entry written and thrown away: the classes a log call needs (and the request ids' secure
        // seed) load here, not in the app's first log call, which would otherwise take milliseconds.
        Entries.entry(identity, Instant.now(), Level.INFO, "", Map.of("warm", 1), null, null, null, null);
    }

    /** Options, then {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder();
    }

    private static String firstOf(String explicit, String fromEnv, String dflt) {
        if (!empty(explicit)) return explicit;
        if (!empty(fromEnv)) return fromEnv;
        return dflt;
    }

    private static boolean empty(String s) {
        return s == null || s.isEmpty();
    }

    private static Duration positive(Duration d, Duration dflt) {
        return d != null && !d.isNegative() && !d.isZero() ? d : dflt;
    }

    /** The endpoint in use (the option, {@code SLUICE_URL} or the default). */
    public String endpoint() {
        return endpoint;
    }

    /** Each entry's {@code app_id}. */
    public String serviceName() {
        return serviceName;
    }

    /** Each entry's {@code source}. */
    public String componentName() {
        return componentName;
    }

    /** The state now. */
    public LoggerState state() {
        return state;
    }

    /** The counters and state now: {@code sent, failed, dropped, buffered, retries, sampled, state}. */
    public Stats stats() {
        lock.lock();
        try {
            long buffered = queue.size() + (inflight != null ? inflight.items.size() : 0);
            return new Stats(sent, failed, dropped, buffered, retries, sampled.get(), state);
        } finally {
            lock.unlock();
        }
    }

    /** Adds a listener for state changes and batch events. */
    public void addListener(LoggerListener listener) {
        listeners.add(Objects.requireNonNull(listener));
    }

    public void removeListener(LoggerListener listener) {
        listeners.remove(listener);
    }

    /**
     * True on a thread of the library's own (a sender, the HTTP client's workers): logging adapters skip
     * what is logged there, so the library's I/O never feeds itself.
     */
    public static boolean isInternalThread() {
        return Thread.currentThread() instanceof InternalThread;
    }

    // ---------------------------------------------------------------------------------------------
    // Life cycle
    // ---------------------------------------------------------------------------------------------

    /**
     * {@code stopped → starting → batching}: starts the sender thread (and the shutdown hook). Entries logged
     * before wait in the buffer and go now. Does nothing on a logger already running.
     */
    public DistributedLogger start() {
        lock.lock();
        try {
            if (state != LoggerState.STOPPED || stopInProgress) return this;
            setState(LoggerState.STARTING);
            installHook();
            startSender();
            setState(LoggerState.BATCHING);
            wake.signalAll();
        } finally {
            lock.unlock();
            dispatch();
        }
        return this;
    }

    /**
     * Sends everything buffered now and waits until the buffer is empty, the logger has failed (after
     * {@code maxRetries}) or it stopped. On a stopped logger nothing can be sent: it returns at once.
     */
    public void flush() {
        flush(null);
    }

    /**
     * As {@link #flush()}, waiting at most {@code timeout} (null: no limit).
     *
     * @return true when everything logged before the call was delivered (or given up) and the buffer is empty
     */
    public boolean flush(Duration timeout) {
        lock.lock();
        try {
            if (idle()) return true;
            if (state == LoggerState.STOPPED && !stopInProgress) return false;
            if (Thread.currentThread() == sender) return false; // a listener: the sender cannot wait for itself
            long epoch = failEpoch;
            draining++;
            wake.signalAll();
            long end = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
            try {
                while (!idle() && failEpoch == epoch && !(state == LoggerState.STOPPED && !stopInProgress)) {
                    if (timeout == null) {
                        progress.await();
                    } else {
                        long left = end - System.nanoTime();
                        if (left <= 0) break;
                        progress.awaitNanos(left);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                draining--;
            }
            return idle();
        } finally {
            lock.unlock();
            dispatchAll();
        }
    }

    /**
     * From any state → {@code stopping → stopped}: delivers what is buffered for up to {@code stopTimeout}
     * (retrying as usual, also from {@code failed}), then counts what is left as failed
     * ({@code onBatchFailed}, {@code onDropped} with reason {@code stop}). A second call while one runs waits
     * for it. An interrupt cuts the wait short.
     */
    public void stop() {
        boolean interrupted = false;
        lock.lock();
        try {
            if (stopInProgress) {
                long end = System.nanoTime() + stopTimeoutNanos + Duration.ofSeconds(1).toNanos();
                while (stopInProgress) {
                    long left = end - System.nanoTime();
                    if (left <= 0) break;
                    try {
                        progress.awaitNanos(left);
                    } catch (InterruptedException e) {
                        interrupted = true;
                        break;
                    }
                }
                return;
            }
            if (state == LoggerState.STOPPED && idle()) return;
            stopInProgress = true;
            setState(LoggerState.STOPPING);
            armed = false;
            if (retryWait) retryAtNanos = System.nanoTime(); // stopping is the last chance: no more waiting
            if (sender == null || !sender.isAlive()) startSender(); // never started: deliver anyway
            wake.signalAll();
            boolean onSender = Thread.currentThread() == sender;
            long end = System.nanoTime() + stopTimeoutNanos;
            while (!idle() && !onSender) {
                long left = end - System.nanoTime();
                if (left <= 0) break;
                try {
                    progress.awaitNanos(left);
                } catch (InterruptedException e) {
                    interrupted = true;
                    break;
                }
            }
            if (!idle()) abandonAll(interrupted ? "stop interrupted before delivery" : "stop timed out before delivery");
            retryWait = false;
            generation++;
            sender = null;
            setState(LoggerState.STOPPED);
            stopInProgress = false;
            wake.signalAll();
            progress.signalAll();
        } finally {
            lock.unlock();
            dispatch();
            if (interrupted) Thread.currentThread().interrupt();
        }
        removeHook();
        try {
            transport.close();
        } catch (RuntimeException e) {
            complain("transport did not close cleanly", e);
        }
        dispatchAll();
    }

    /** {@link #stop()}: delivers for up to {@code stopTimeout}. */
    @Override
    public void close() {
        stop();
    }

    private void installHook() {
        if (!shutdownHook || hook != null) return;
        Thread h = new InternalThread(this::stop, name + "-shutdown");
        try {
            Runtime.getRuntime().addShutdownHook(h);
            hook = h;
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: nothing to hook into
        }
    }

    private void removeHook() {
        Thread h;
        lock.lock();
        try {
            h = hook;
            hook = null;
        } finally {
            lock.unlock();
        }
        if (h == null || h == Thread.currentThread()) return;
        try {
            Runtime.getRuntime().removeShutdownHook(h);
        } catch (IllegalStateException e) {
            // shutdown in progress: the hook runs (and finds the logger stopped)
        }
    }

    private void startSender() {
        int g = ++generation;
        Thread t = new InternalThread(() -> run(g), name + "-sender");
        t.setDaemon(true);
        sender = t;
        t.start();
    }

    // ---------------------------------------------------------------------------------------------
    // Log calls: never throw, never wait
    // ---------------------------------------------------------------------------------------------

    public void debug(String message) {
        log(Level.DEBUG, message, null, null);
    }

    public void debug(String message, Map<String, ?> metadata) {
        log(Level.DEBUG, message, metadata, null);
    }

    public void debug(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.DEBUG, message, metadata, thrown);
    }

    public void info(String message) {
        log(Level.INFO, message, null, null);
    }

    public void info(String message, Map<String, ?> metadata) {
        log(Level.INFO, message, metadata, null);
    }

    public void info(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.INFO, message, metadata, thrown);
    }

    /** A WARN entry (the seed's name). */
    public void warning(String message) {
        log(Level.WARN, message, null, null);
    }

    public void warning(String message, Map<String, ?> metadata) {
        log(Level.WARN, message, metadata, null);
    }

    public void warning(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.WARN, message, metadata, thrown);
    }

    public void warn(String message) {
        log(Level.WARN, message, null, null);
    }

    public void warn(String message, Map<String, ?> metadata) {
        log(Level.WARN, message, metadata, null);
    }

    public void warn(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.WARN, message, metadata, thrown);
    }

    public void error(String message) {
        log(Level.ERROR, message, null, null);
    }

    public void error(String message, Map<String, ?> metadata) {
        log(Level.ERROR, message, metadata, null);
    }

    /** An ERROR entry whose {@code stack_trace} is {@code thrown}'s (its message goes to {@code context.error}). */
    public void error(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.ERROR, message, metadata, thrown);
    }

    public void fatal(String message) {
        log(Level.FATAL, message, null, null);
    }

    public void fatal(String message, Map<String, ?> metadata) {
        log(Level.FATAL, message, metadata, null);
    }

    public void fatal(String message, Map<String, ?> metadata, Throwable thrown) {
        log(Level.FATAL, message, metadata, thrown);
    }

    /** A business event: an INFO entry with {@code category: "event"}, tag {@code custom}, the name as message, {@code data} as context. */
    public void custom(String eventName, Map<String, ?> data) {
        try {
            if (!accept(Level.INFO)) return;
            enqueue(Entries.entry(identity, Instant.now(), Level.INFO, eventName, data, null, null, "event", List.of("custom")));
        } catch (RuntimeException | StackOverflowError e) {
            complain("log call failed", e);
        }
    }

    /**
     * One entry at {@code level} (null: INFO). {@code metadata} and {@code thrown} may be null.
     */
    public void log(Level level, String message, Map<String, ?> metadata, Throwable thrown) {
        try {
            Level lv = level != null ? level : Level.INFO;
            if (!accept(lv)) return;
            enqueue(Entries.entry(identity, Instant.now(), lv, message, metadata, thrown, null, null, null));
        } catch (RuntimeException | StackOverflowError e) {
            complain("log call failed", e);
        }
    }

    /**
     * For logging-framework adapters: an event with its own time and an already formatted stack trace
     * (null when none). Filters and sampling apply as for every log call.
     */
    public void log(Instant timestamp, Level level, String message, Map<String, ?> metadata, String stackTrace) {
        try {
            Level lv = level != null ? level : Level.INFO;
            if (!accept(lv)) return;
            enqueue(Entries.entry(identity, timestamp != null ? timestamp : Instant.now(), lv, message, metadata, null, stackTrace, null, null));
        } catch (RuntimeException | StackOverflowError e) {
            complain("log call failed", e);
        }
    }

    /** Whether an entry at {@code level} would be kept by {@code minLevel} (sampling aside). */
    public boolean isEnabled(Level level) {
        return minLevel == null || level.rank() >= minLevel.rank();
    }

    private boolean accept(Level lv) {
        if (minLevel != null && lv.rank() < minLevel.rank()) return false;
        if (sampleRate < 1 && lv.rank() < Level.ERROR.rank() && random.getAsDouble() >= sampleRate) {
            sampled.incrementAndGet();
            return false;
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------
    // The buffer
    // ---------------------------------------------------------------------------------------------

    /** One serialised entry; a loss report is never dropped (dropping it would hide the very gap it reports). */
    private record Item(byte[] json, boolean lossReport) {}

    private static final class Batch {
        final String id = Ids.batchId();
        final List<byte[]> items;
        final long bytes;
        int attempts;
        boolean failureReported;

        Batch(List<byte[]> items, long bytes) {
            this.items = items;
            this.bytes = bytes;
        }
    }

    private void enqueue(byte[] json) {
        lock.lock();
        try {
            addLocked(new Item(json, false));
            int n = queue.size();
            // The sender waits without a deadline when the buffer is empty, and until its deadline for a
            // partial batch: wake it for the first entry and for a full batch.
            if (n == 1 || n >= batchSize) wake.signal();
        } finally {
            lock.unlock();
        }
        dispatch();
    }

    private void addLocked(Item item) {
        if (item.lossReport) queue.addFirst(item);
        else queue.addLast(item);
        queuedBytes += item.json.length;
        if (!item.lossReport) enforceBounds();
    }

    /** Drops the oldest waiting entries (never a loss report) until waiting + in flight fit the bounds. */
    private void enforceBounds() {
        int inflightCount = inflight != null ? inflight.items.size() : 0;
        long inflightBytes = inflight != null ? inflight.bytes : 0;
        if (queue.size() + inflightCount <= maxBufferEntries && queuedBytes + inflightBytes <= maxBufferBytes) return;
        ArrayDeque<Item> kept = null;
        int n = 0;
        while (!queue.isEmpty()
                && (queue.size() + (kept != null ? kept.size() : 0) + inflightCount > maxBufferEntries || queuedBytes + inflightBytes > maxBufferBytes)) {
            Item head = queue.pollFirst();
            if (head.lossReport) {
                if (kept == null) kept = new ArrayDeque<>(1);
                kept.addLast(head); // its bytes stay counted: it stays
                continue;
            }
            queuedBytes -= head.json.length;
            n++;
        }
        if (kept != null) while (!kept.isEmpty()) queue.addFirst(kept.pollLast());
        if (n > 0) {
            if (lostCount == 0) lostSince = Entries.now();
            lostCount += n;
            dropped += n;
            int count = n;
            emit(l -> l.onDropped(new LoggerListener.Dropped(count, "overflow")));
            complain("buffer full, " + n + " oldest entries dropped", null);
        }
    }

    private boolean idle() {
        return queue.isEmpty() && inflight == null;
    }

    private Batch takeBatch() {
        int n = Math.min(batchSize, queue.size());
        List<byte[]> items = new ArrayList<>(n);
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            Item it = queue.pollFirst();
            items.add(it.json);
            bytes += it.json.length;
        }
        queuedBytes -= bytes;
        return new Batch(items, bytes);
    }

    private void abandonAll(String reason) {
        List<Batch> batches = new ArrayList<>();
        if (inflight != null) batches.add(inflight);
        inflight = null;
        while (!queue.isEmpty()) batches.add(takeBatch());
        int count = 0;
        for (Batch b : batches) {
            count += b.items.size();
            failed += b.items.size();
            emit(l -> l.onBatchFailed(new LoggerListener.BatchFailed(b.id, b.items.size(), 0, reason, true)));
        }
        if (count > 0) {
            int c = count;
            emit(l -> l.onDropped(new LoggerListener.Dropped(c, "stop")));
            complain(count + " entries not delivered: " + reason, null);
        }
    }

    /** After a delivery, one WARN entry, first in line, says how many entries the full buffer cost and since when. */
    private void reportLoss() {
        if (lostCount == 0) return;
        long count = lostCount;
        String since = lostSince;
        lostCount = 0;
        lostSince = null;
        Map<String, Object> ctx = new LinkedHashMap<>();
        ctx.put("dropped", count);
        ctx.put("since", since);
        byte[] json = Entries.entry(identity, Instant.now(), Level.WARN,
                "sluice client: buffer overflow, " + count + " entries dropped since " + since, ctx, null, null,
                "sluice.client", List.of("sluice-client", "dropped"));
        addLocked(new Item(json, true));
    }

    // ---------------------------------------------------------------------------------------------
    // The sender: batching ⇄ sending, error → retrying, failed
    // ---------------------------------------------------------------------------------------------

    private void run(int g) {
        for (;;) {
            Batch b;
            lock.lock();
            try {
                b = next(g);
            } catch (InterruptedException e) {
                continue; // nothing interrupts the sender on purpose; look at the state again
            } catch (RuntimeException e) {
                complain("sender failed", e);
                continue;
            } finally {
                lock.unlock();
                dispatch();
            }
            if (b == null) return;
            Transport.Result r;
            try {
                r = transport.send(b.id, b.items);
                if (r == null) r = Transport.Result.retry(0, -1, "transport returned no result");
            } catch (InterruptedException e) {
                r = Transport.Result.retry(0, -1, "interrupted");
            } catch (Exception | StackOverflowError e) {
                r = Transport.Result.retry(0, -1, String.valueOf(e));
            }
            lock.lock();
            try {
                settle(b, r);
            } catch (RuntimeException e) {
                complain("sender failed", e);
            } finally {
                lock.unlock();
                dispatch();
            }
        }
    }

    /** Waits (under the lock) for the next batch to send; null when this sender's generation is over. */
    private Batch next(int g) throws InterruptedException {
        for (;;) {
            if (generation != g) return null;
            LoggerState s = state;
            if (s == LoggerState.STOPPED || s == LoggerState.STARTING) {
                wake.await();
                continue;
            }
            long now = System.nanoTime();
            if (inflight == null) {
                int n = queue.size();
                if (n == 0) {
                    armed = false;
                    progress.signalAll();
                    wake.await();
                    continue;
                }
                boolean partialOk = draining > 0 || s == LoggerState.STOPPING || (armed && now - deadlineNanos >= 0);
                if (n < batchSize && !partialOk) {
                    if (!armed) {
                        armed = true;
                        deadlineNanos = now + flushIntervalNanos;
                    }
                    wake.awaitNanos(deadlineNanos - now);
                    continue;
                }
                armed = false;
                inflight = takeBatch();
            } else if (retryWait) {
                long wait = retryAtNanos - now;
                if (wait > 0) {
                    wake.awaitNanos(wait);
                    continue;
                }
                retryWait = false;
            }
            Batch b = inflight;
            if (b.attempts > 0) retries++;
            b.attempts++;
            // A probe of a failed logger leaves it `failed` until something is delivered.
            if (state != LoggerState.STOPPING && state != LoggerState.FAILED) setState(LoggerState.SENDING);
            return b;
        }
    }

    /** What an attempt came to (under the lock). */
    private void settle(Batch b, Transport.Result r) {
        if (inflight != b) return; // stop() gave up on it while it was on the wire: counted as failed already
        int count = b.items.size();
        if (r.ok()) {
            inflight = null;
            sent += count;
            emit(l -> l.onBatchSent(new LoggerListener.BatchSent(b.id, count, r.status(), r.duplicate(), b.attempts)));
            reportLoss();
            afterBatch();
            return;
        }
        if (!r.retryable()) {
            inflight = null;
            failed += count;
            emit(l -> l.onBatchFailed(new LoggerListener.BatchFailed(b.id, count, r.status(), r.error(), true)));
            complain("batch of " + count + " refused: " + r.error(), null);
            afterBatch();
            return;
        }
        // Retryable: the same batch (same batch_id) again after a backoff.
        boolean stopping = state == LoggerState.STOPPING;
        boolean wasFailed = state == LoggerState.FAILED;
        if (!stopping && !wasFailed) setState(LoggerState.ERROR);
        complain("send failed (" + r.error() + "), retrying", null);
        int retryNumber = b.attempts - 1;
        boolean giveUp = retryNumber >= maxRetries;
        if (giveUp && !stopping && !b.failureReported) {
            b.failureReported = true;
            emit(l -> l.onBatchFailed(new LoggerListener.BatchFailed(b.id, count, r.status(),
                    r.error() + " (after " + maxRetries + " retries; buffering)", false)));
        }
        // Failed: probe at the backoff cap.
        long delay = Backoff.delayMillis(giveUp ? 30 : Math.min(retryNumber, 30), r.retryAfterMillis(), random);
        if (!stopping) setState(giveUp ? LoggerState.FAILED : LoggerState.RETRYING);
        if (giveUp && !stopping) {
            failEpoch++; // flush() gives up with the logger (and after each failed probe); stop() keeps trying until its deadline
            progress.signalAll();
        }
        retryWait = true;
        retryAtNanos = System.nanoTime() + Duration.ofMillis(delay).toNanos();
    }

    private void afterBatch() {
        if (state != LoggerState.STOPPING) setState(LoggerState.BATCHING);
        progress.signalAll();
    }

    // ---------------------------------------------------------------------------------------------
    // Events and complaints
    // ---------------------------------------------------------------------------------------------

    private void setState(LoggerState to) {
        LoggerState from = state;
        if (from == to) return;
        state = to;
        emit(l -> l.onStateChange(from, to));
    }

    private interface Event {
        void deliver(LoggerListener l);
    }

    /** Queues a listener call; it runs at the next dispatch, outside the lock. */
    private void emit(Event e) {
        if (listeners.isEmpty()) return;
        events.add(() -> {
            for (LoggerListener l : listeners) {
                try {
                    e.deliver(l);
                } catch (RuntimeException | StackOverflowError ex) {
                    stderr("listener failed", ex);
                }
            }
        });
    }

    /** Runs queued listener calls in order; a thread that finds another dispatching leaves them to it (never blocks). */
    private void dispatch() {
        while (!events.isEmpty()) {
            if (lock.isHeldByCurrentThread()) return;
            if (!dispatching.compareAndSet(false, true)) return;
            dispatcher = Thread.currentThread();
            try {
                Runnable r;
                while ((r = events.poll()) != null) r.run();
            } finally {
                dispatcher = null;
                dispatching.set(false);
            }
        }
    }

    /**
     * flush() and stop() return once the listeners heard everything that happened before (another thread
     * may be dispatching): at most a second, and not at all from inside a listener.
     */
    private void dispatchAll() {
        long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        for (;;) {
            dispatch();
            if (dispatcher == Thread.currentThread() || lock.isHeldByCurrentThread()) return;
            if (!dispatching.get() && events.isEmpty()) return;
            if (System.nanoTime() - end > 0) return;
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /** To the listeners' {@code onError}, and one line to stderr at most once a minute. */
    private void complain(String what, Throwable cause) {
        emit(l -> l.onError(what, cause));
        stderr(what, cause);
    }

    private void stderr(String what, Throwable cause) {
        long now = System.nanoTime();
        long last = lastComplaint.get();
        if (now - last < COMPLAIN_EVERY_NANOS || !lastComplaint.compareAndSet(last, now)) return;
        try {
            System.err.println("[sluice-client] " + what + (cause != null ? ": " + cause : ""));
        } catch (RuntimeException e) {
            // never let reporting throw
        }
    }

    /** The library's threads: the sender, the HTTP client's workers, the shutdown hook. */
    private static final class InternalThread extends Thread {
        InternalThread(Runnable r, String name) {
            super(r, name);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Options
    // ---------------------------------------------------------------------------------------------

    /** The logger's options; every one has a default. */
    public static final class Builder {
        private String endpoint;
        private String serviceName;
        private String componentName;
        private String apiKey;
        private int batchSize = 100;
        private Duration flushInterval = Duration.ofSeconds(5);
        private int maxRetries = 5;
        private int maxBufferEntries = 10_000;
        private long maxBufferBytes = 8L * 1024 * 1024;
        private Duration requestTimeout = Duration.ofSeconds(10);
        private Duration stopTimeout = Duration.ofSeconds(10);
        private Level minLevel;
        private double sampleRate = 1;
        private boolean shutdownHook = true;
        private boolean autoStart = true;
        private Transport transport;
        private DoubleSupplier random;
        private Map<String, String> env;
        private final List<LoggerListener> listeners = new ArrayList<>();

        private Builder() {}

        /** The gateway's base URL or its {@code /api/logs} URL. Default {@code SLUICE_URL}, then {@code http://localhost:9000}. */
        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** Each entry's {@code app_id}: the Sluice app (the token's). Default {@code SLUICE_SERVICE}. */
        public Builder serviceName(String serviceName) {
            this.serviceName = serviceName;
            return this;
        }

        /** Each entry's {@code source}. */
        public Builder componentName(String componentName) {
            this.componentName = componentName;
            return this;
        }

        /** An ingest token of the app, sent as {@code Authorization: Bearer}. Default {@code SLUICE_TOKEN}. */
        public Builder apiKey(String apiKey) {
            this.apiKey = apiKey;
            return this;
        }

        /** A batch closes at this many entries … (default 100) */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** … or this long after its first entry, whichever first (default 5 s). */
        public Builder flushInterval(Duration flushInterval) {
            this.flushInterval = flushInterval;
            return this;
        }

        /** Retries of one batch before the state is {@code failed} (it keeps probing). Default 5. */
        public Builder maxRetries(int maxRetries) {
            this.maxRetries = maxRetries;
            return this;
        }

        /** The buffer's bound in entries, waiting and in flight (default 10,000). */
        public Builder maxBufferEntries(int maxBufferEntries) {
            this.maxBufferEntries = maxBufferEntries;
            return this;
        }

        /** The buffer's bound in serialised bytes (default 8 MiB). */
        public Builder maxBufferBytes(long maxBufferBytes) {
            this.maxBufferBytes = maxBufferBytes;
            return this;
        }

        /** One request's deadline, then it is retried (default 10 s). */
        public Builder requestTimeout(Duration requestTimeout) {
            this.requestTimeout = requestTimeout;
            return this;
        }

        /** How long {@code stop()} keeps trying to deliver (default 10 s). */
        public Builder stopTimeout(Duration stopTimeout) {
            this.stopTimeout = stopTimeout;
            return this;
        }

        /** Entries below this level are not sent (default: all are). */
        public Builder minLevel(Level minLevel) {
            this.minLevel = minLevel;
            return this;
        }

        /** Keep this share of DEBUG/INFO/WARN entries, 0–1 (ERROR and FATAL are always kept). Default 1. */
        public Builder sampleRate(double sampleRate) {
            this.sampleRate = sampleRate;
            return this;
        }

        /** {@code stop()} when the JVM exits, if still running (default true). */
        public Builder shutdownHook(boolean shutdownHook) {
            this.shutdownHook = shutdownHook;
            return this;
        }

        /** {@link #build()} starts the logger (default true); false: entries wait until {@code start()}. */
        public Builder autoStart(boolean autoStart) {
            this.autoStart = autoStart;
            return this;
        }

        /** Adds a listener from the start (so it sees {@code stopped → starting}). */
        public Builder listener(LoggerListener listener) {
            this.listeners.add(Objects.requireNonNull(listener));
            return this;
        }

        /** Another way to the gateway than HTTP (tests, a custom channel); the api key is then unused. */
        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        /** The random source of jitter and sampling, values in [0, 1) (tests make backoff predictable with it). */
        public Builder random(DoubleSupplier random) {
            this.random = random;
            return this;
        }

        /** For tests: the environment instead of {@code System.getenv()}. */
        Builder env(Map<String, String> env) {
            this.env = env;
            return this;
        }

        /**
         * The logger, started unless {@code autoStart(false)}.
         *
         * @throws IllegalArgumentException for an endpoint that is not an http(s) URL (a typo fails here, not
         *                                  by losing every entry)
         */
        public DistributedLogger build() {
            DistributedLogger logger = new DistributedLogger(this);
            if (autoStart) logger.start();
            return logger;
        }
    }
}
