package io.tokenmeter.server.alert;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Posts budget alerts to their webhooks, signed, retried with exponential backoff until delivered or
 * {@link Settings#giveUpAfter} after the crossing, and keeps what was sent for {@link #deliveries}.
 *
 * <p>Threads: one daemon thread, {@code alert-sender}, owns every delivery's state. It is the executor of the
 * sender's {@link HttpClient} too, so requests go out and their answers come back on it without blocking it: a
 * receiver that hangs holds one of its alert's connections, never the thread, and a receiver that is down has its
 * alerts waiting in the thread's schedule of retries while other alerts go out. The JDK's HttpClient adds its own
 * selector thread for the sockets. {@link #send} only counts the alert in (bounded by {@link Settings#queueCapacity})
 * and hands it to the thread; {@link #deliveries} reads a snapshot the thread publishes per tenant; the counters are
 * atomics. At most {@value #MAX_IN_FLIGHT} attempts are open at once, {@value #MAX_IN_FLIGHT_PER_DESTINATION} per
 * {@code scheme://host:port}, so one hanging receiver cannot take every connection.
 *
 * <p>Delivery is at least once: an alert a receiver answered 2xx is never sent again by this sender, but an answer
 * lost on the way back, or a restart that detects the crossing again, sends the same {@link Alert#id} again, and
 * receivers dedupe by it. A send of an id the sender still holds or delivered is coalesced with it. Alerts waiting
 * for a retry are in memory only: {@link #close} ends them.
 */
public final class AlertSender implements AutoCloseable
{
    /** Deliveries kept per tenant for {@link #deliveries}, oldest forgotten first. */
    public static final int HISTORY_PER_TENANT = 1000;
    /** Most attempts open at once. */
    public static final int MAX_IN_FLIGHT = 64;
    /** Most attempts open at once to one {@code scheme://host:port}. */
    public static final int MAX_IN_FLIGHT_PER_DESTINATION = 4;

    private static final Logger LOG = LoggerFactory.getLogger(AlertSender.class);
    private static final long DROP_LOG_INTERVAL_MS = 60_000;
    private static final int MAX_DROP_LOGS = 10_000;
    private static final long CLOSE_WAIT_MS = 5_000;
    private static final String USER_AGENT = "tokenmeter-alerts/1";
    private static final HttpResponse.BodyHandler<Void> STATUS_ONLY = info -> new StatusOnly();

    /**
     * How alerts are sent.
     *
     * @param queueCapacity    most alerts held at once: waiting for their first attempt, open, or waiting for a retry;
     *                         {@link #send} refuses more.
     * @param firstRetry       wait after the first failed attempt; each later wait doubles it.
     * @param maxRetryInterval the longest wait between attempts (the {@code alert-retry-max-interval} setting).
     * @param giveUpAfter      after this long since the crossing no attempt is made any more.
     * @param requestTimeout   longest wait to connect, and then for the answer's status line and headers.
     */
    public record Settings(int queueCapacity, Duration firstRetry, Duration maxRetryInterval, Duration giveUpAfter,
                           Duration requestTimeout)
    {
        public Settings
        {
            if (queueCapacity < 1 || queueCapacity > 1 << 20)
            {
                throw new IllegalArgumentException("queueCapacity must be between 1 and " + (1 << 20) + ", not "
                    + queueCapacity);
            }
            requirePositive("firstRetry", firstRetry);
            requirePositive("maxRetryInterval", maxRetryInterval);
            requirePositive("requestTimeout", requestTimeout);
            if (maxRetryInterval.compareTo(firstRetry) < 0)
            {
                throw new IllegalArgumentException("maxRetryInterval (" + maxRetryInterval + ") must be at least "
                    + "firstRetry (" + firstRetry + ")");
            }
            if (giveUpAfter == null || giveUpAfter.isNegative())
            {
                throw new IllegalArgumentException("giveUpAfter must be zero or more, not " + giveUpAfter);
            }
        }

        /** Queue 10,000, first retry 1 s, retries at most 60 s apart, give up after 24 h, request timeout 10 s. */
        public static Settings defaults()
        {
            return new Settings(10_000, Duration.ofSeconds(1), Duration.ofSeconds(60), Duration.ofHours(24),
                Duration.ofSeconds(10));
        }

        /** @return these settings with another longest wait between attempts. */
        public Settings withMaxRetryInterval(final Duration interval)
        {
            return new Settings(queueCapacity, firstRetry, interval, giveUpAfter, requestTimeout);
        }

        private static void requirePositive(final String name, final Duration value)
        {
            if (value == null || value.isZero() || value.isNegative())
            {
                throw new IllegalArgumentException(name + " must be positive, not " + value);
            }
        }
    }

    /**
     * An alert and where its delivery stands.
     *
     * @param attempts      attempts started (an open one included); 0 for an alert without a webhook.
     * @param delivered     true once the receiver answered 2xx.
     * @param lastError     why the last attempt failed ({@code HTTP 503}, {@code ConnectException}, ...), or why the
     *                      alert is not posted at all; null when none failed.
     * @param deliveredAtMs when it was delivered, epoch milliseconds; null until then.
     * @param gaveUp        true when no attempt will be made any more without being delivered (retries ran out, or
     *                      the webhook URL can never be posted to).
     */
    public record Delivery(Alert alert, int attempts, boolean delivered, String lastError, Long deliveredAtMs,
                           boolean gaveUp)
    {
        /** @return true while more attempts are to come. */
        public boolean pending()
        {
            return !delivered && !gaveUp && alert.webhookUrl() != null;
        }
    }

    private final byte[] key;
    private final Settings settings;
    private final ScheduledThreadPoolExecutor thread;
    private final HttpClient client;
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failedAttempts = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ConcurrentHashMap<String, TenantHistory> histories = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, DropLog> dropLogs = new ConcurrentHashMap<>();

    /** Alerts being delivered, by id; alert-sender thread only. */
    private final Map<String, Pending> pendingById = new HashMap<>();
    /** Alerts due for an attempt but over an in-flight limit, oldest first; alert-sender thread only. */
    private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    /** Open attempts per destination; alert-sender thread only. */
    private final Map<String, Integer> inFlightByDestination = new HashMap<>();
    private int inFlight;
    private int notStartedAtClose;

    /**
     * @param secret   the HMAC-SHA256 key ({@code alert-webhook-secret}), used as its UTF-8 bytes; null or empty posts
     *                 unsigned (no {@code Tokenmeter-Signature} header), which is said once here, as a WARN.
     * @param settings how to send; {@link Settings#defaults()} in production but for the longest retry wait.
     */
    public AlertSender(final String secret, final Settings settings)
    {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.key = secret == null || secret.isEmpty() ? null : secret.getBytes(StandardCharsets.UTF_8);
        if (key == null)
        {
            LOG.warn("alert-webhook-secret is not set: budget alert webhooks are posted without a Tokenmeter-Signature "
                + "header, so receivers cannot tell them from forged ones; set TOKENMETER_ALERT_WEBHOOK_SECRET "
                + "(e.g. to the output of openssl rand -hex 32)");
        }
        thread = new ScheduledThreadPoolExecutor(1, r ->
        {
            final Thread t = new Thread(r, "alert-sender");
            t.setDaemon(true);
            return t;
        });
        thread.setRemoveOnCancelPolicy(true);
        thread.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        client = HttpClient.newBuilder()
            .executor(thread)
            .connectTimeout(settings.requestTimeout())
            .followRedirects(HttpClient.Redirect.NEVER)
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    }

    /**
     * Queues {@code alert} for delivery on the alert-sender thread; never blocks.
     *
     * @return false when the sender already holds {@link Settings#queueCapacity} alerts or is closed: the alert is
     *     dropped, counted in {@link #dropped} and logged (once a minute per tenant, with the count since).
     */
    public boolean send(final Alert alert)
    {
        Objects.requireNonNull(alert, "alert");
        if (closed.get())
        {
            onDropped(alert, "the alert sender is closed");
            return false;
        }
        int before;
        do
        {
            before = held.get();
            if (before >= settings.queueCapacity())
            {
                onDropped(alert, "the alert sender holds " + before + " alerts, its queue capacity");
                return false;
            }
        }
        while (!held.compareAndSet(before, before + 1));
        try
        {
            thread.execute(() -> accept(alert));
        }
        catch (final RejectedExecutionException ex)
        {
            held.decrementAndGet();
            onDropped(alert, "the alert sender is closed");
            return false;
        }
        return true;
    }

    /**
     * @return what was sent for {@code tenant}, in the order the crossings were sent (newest last), each as it stands
     *     now; at most the last {@value #HISTORY_PER_TENANT}. Kept in memory only: empty after a restart.
     */
    public List<Delivery> deliveries(final String tenant)
    {
        final TenantHistory history = histories.get(tenant);
        return history == null ? List.of() : history.view;
    }

    /** @return alerts delivered (answered 2xx) since start. */
    public long delivered()
    {
        return delivered.get();
    }

    /** @return attempts that failed (not 2xx, or no answer) since start. */
    public long failedAttempts()
    {
        return failedAttempts.get();
    }

    /** @return alerts refused by {@link #send} since start. */
    public long dropped()
    {
        return dropped.get();
    }

    /** @return alerts held now: waiting for their first attempt, open, or waiting for a retry. */
    public int queued()
    {
        return held.get();
    }

    /**
     * Stops the alert-sender thread: open attempts are cancelled and alerts waiting for a retry are dropped (logged
     * with their number). Waits at most 5 s. Later sends return false.
     */
    @Override
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        try
        {
            thread.execute(this::abandon);
        }
        catch (final RejectedExecutionException ex)
        {
            LOG.debug("alert sender already stopped", ex);
        }
        thread.shutdown();
        try
        {
            if (!thread.awaitTermination(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS))
            {
                LOG.warn("the alert-sender thread did not stop within {} ms; interrupting it", CLOSE_WAIT_MS);
                thread.shutdownNow();
            }
        }
        catch (final InterruptedException ex)
        {
            thread.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private void accept(final Alert alert)
    {
        if (closed.get())
        {
            notStartedAtClose++;
            held.decrementAndGet();
            return;
        }
        final TenantHistory history = histories.computeIfAbsent(alert.tenant(), t -> new TenantHistory());
        final Delivery known = history.get(alert.id());
        if (pendingById.containsKey(alert.id()) || (known != null && !known.gaveUp()))
        {
            LOG.debug("budget alert {} was sent before: coalesced with it", alert.id());
            held.decrementAndGet();
            return;
        }
        if (alert.webhookUrl() == null)
        {
            history.add(new Delivery(alert, 0, false, null, null, false));
            held.decrementAndGet();
            LOG.info("budget alert {}: tenant {} crossed {}% of its {} budget ({} of {} {}); no webhook, listed only",
                alert.id(), alert.tenant(), alert.thresholdPercent(), alert.period(), alert.spent(), alert.limit(),
                alert.currency());
            return;
        }
        final String problem = WebhookUrl.problem(alert.webhookUrl());
        if (problem != null)
        {
            giveUpAtOnce(alert, history, "the webhook URL " + problem);
            return;
        }
        final byte[] body = AlertBody.of(alert);
        final URI uri = URI.create(alert.webhookUrl());
        final HttpRequest request;
        try
        {
            final HttpRequest.Builder builder = HttpRequest.newBuilder(uri)
                .timeout(settings.requestTimeout())
                .header("Content-Type", "application/json")
                .header("User-Agent", USER_AGENT)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
            if (key != null)
            {
                builder.header(AlertBody.SIGNATURE_HEADER, AlertBody.signature(body, key));
            }
            request = builder.build();
        }
        catch (final IllegalArgumentException ex)
        {
            giveUpAtOnce(alert, history, "the webhook URL cannot be posted to: " + ex.getMessage());
            return;
        }
        final long deadlineMs = saturatedAdd(alert.crossedAtMs(), settings.giveUpAfter().toMillis());
        final Pending p = new Pending(alert, history, request, WebhookUrl.destination(uri), deadlineMs);
        pendingById.put(alert.id(), p);
        history.add(p.delivery());
        dispatch(p);
    }

    private void giveUpAtOnce(final Alert alert, final TenantHistory history, final String why)
    {
        history.add(new Delivery(alert, 0, false, why, null, true));
        held.decrementAndGet();
        LOG.warn("budget alert {}: tenant {} crossed {}% of its {} budget ({} of {} {}), not posted: {}", alert.id(),
            alert.tenant(), alert.thresholdPercent(), alert.period(), alert.spent(), alert.limit(), alert.currency(), why);
    }

    /** Starts an attempt of {@code p} now, or queues it behind the in-flight limits. */
    private void dispatch(final Pending p)
    {
        if (closed.get())
        {
            return;
        }
        if (canStart(p))
        {
            start(p);
        }
        else
        {
            waiting.addLast(p);
        }
    }

    private boolean canStart(final Pending p)
    {
        return inFlight < MAX_IN_FLIGHT
            && inFlightByDestination.getOrDefault(p.destination, 0) < MAX_IN_FLIGHT_PER_DESTINATION;
    }

    private void start(final Pending p)
    {
        p.attempts++;
        inFlight++;
        inFlightByDestination.merge(p.destination, 1, Integer::sum);
        p.history.update(p.delivery());
        final CompletableFuture<HttpResponse<Void>> answer;
        try
        {
            answer = client.sendAsync(p.request, STATUS_ONLY);
        }
        catch (final RuntimeException ex)
        {
            // Answered as a failed attempt on a later turn of the thread, so that startWaiting is never re-entered.
            thread.execute(() -> onAnswer(p, null, ex, null));
            return;
        }
        p.open = answer;
        // The request timeout bounds the wait for the headers; this bounds the whole attempt, whatever the JDK does.
        final long guardMs = 2 * settings.requestTimeout().toMillis() + 1_000;
        final ScheduledFuture<?> guard = thread.schedule(() -> answer.cancel(true), guardMs, TimeUnit.MILLISECONDS);
        answer.whenCompleteAsync((response, error) -> onAnswer(p, response, error, guard), thread);
    }

    private void onAnswer(final Pending p, final HttpResponse<Void> response, final Throwable error,
        final ScheduledFuture<?> guard)
    {
        if (guard != null)
        {
            guard.cancel(false);
        }
        p.open = null;
        inFlight--;
        inFlightByDestination.computeIfPresent(p.destination, (d, n) -> n == 1 ? null : n - 1);
        if (closed.get())
        {
            return;
        }
        final long nowMs = System.currentTimeMillis();
        if (error == null && response.statusCode() / 100 == 2)
        {
            onDelivered(p, nowMs);
        }
        else
        {
            onFailed(p, error == null ? failure(response) : failure(error), nowMs);
        }
        startWaiting();
    }

    private void onDelivered(final Pending p, final long nowMs)
    {
        pendingById.remove(p.alert.id());
        held.decrementAndGet();
        delivered.incrementAndGet();
        p.history.update(new Delivery(p.alert, p.attempts, true, p.lastError, nowMs, false));
        final Alert a = p.alert;
        LOG.info("budget alert {} sent: tenant {} crossed {}% of its {} budget ({} of {} {}); delivered to {} after {} "
            + "attempt{}", a.id(), a.tenant(), a.thresholdPercent(), a.period(), a.spent(), a.limit(), a.currency(),
            p.destination, p.attempts, p.attempts == 1 ? "" : "s");
    }

    private void onFailed(final Pending p, final String why, final long nowMs)
    {
        failedAttempts.incrementAndGet();
        p.lastError = why;
        final Alert a = p.alert;
        if (nowMs >= p.deadlineMs)
        {
            pendingById.remove(a.id());
            held.decrementAndGet();
            p.history.update(new Delivery(a, p.attempts, false, why, null, true));
            LOG.warn("budget alert {} given up: tenant {} crossed {}% of its {} budget ({} of {} {}) at {}, but {} did not "
                + "take it in {} attempt{} over {} (last: {})", a.id(), a.tenant(), a.thresholdPercent(), a.period(),
                a.spent(), a.limit(), a.currency(), Instant.ofEpochMilli(a.crossedAtMs()), p.destination, p.attempts,
                p.attempts == 1 ? "" : "s", settings.giveUpAfter(), why);
            return;
        }
        final long retryAtMs = Math.min(saturatedAdd(nowMs, backoffMs(settings, p.attempts)), p.deadlineMs);
        p.history.update(p.delivery());
        thread.schedule(() -> dispatch(p), retryAtMs - nowMs, TimeUnit.MILLISECONDS);
        if (p.attempts == 1)
        {
            LOG.warn("budget alert {} of tenant {} ({}%): {} failed ({}); retrying with backoff until {}", a.id(),
                a.tenant(), a.thresholdPercent(), p.destination, why, Instant.ofEpochMilli(p.deadlineMs));
        }
        else
        {
            LOG.debug("budget alert {}: attempt {} to {} failed ({}); next at {}", a.id(), p.attempts, p.destination, why,
                Instant.ofEpochMilli(retryAtMs));
        }
    }

    /** Starts the waiting alerts the in-flight limits now allow, oldest first. */
    private void startWaiting()
    {
        final Iterator<Pending> it = waiting.iterator();
        while (it.hasNext() && inFlight < MAX_IN_FLIGHT)
        {
            final Pending p = it.next();
            if (canStart(p))
            {
                it.remove();
                start(p);
            }
        }
    }

    /**
     * @return the wait after the {@code failures}-th failed attempt (from 1): firstRetry doubled per earlier failure,
     *     at most maxRetryInterval; 1 s, 2 s, 4 s, ... 32 s, 60 s, 60 s with the defaults.
     */
    static long backoffMs(final Settings settings, final int failures)
    {
        final long maxMs = settings.maxRetryInterval().toMillis();
        long waitMs = settings.firstRetry().toMillis();
        for (int i = 1; i < failures && waitMs < maxMs; i++)
        {
            waitMs = Math.min(waitMs * 2, maxMs);
        }
        return Math.max(1, waitMs);
    }

    private void abandon()
    {
        final int open = pendingById.size();
        for (final Pending p : pendingById.values())
        {
            if (p.open != null)
            {
                p.open.cancel(true);
            }
        }
        held.addAndGet(-open);
        final int lost = open + notStartedAtClose;
        if (lost > 0)
        {
            LOG.warn("alert sender closed with {} budget alert{} not delivered (alerts are not kept across a restart)",
                lost, lost == 1 ? "" : "s");
        }
    }

    private void onDropped(final Alert alert, final String why)
    {
        dropped.incrementAndGet();
        if (dropLogs.size() > MAX_DROP_LOGS)
        {
            dropLogs.clear();
        }
        final long count = dropLogs.computeIfAbsent(alert.tenant(), t -> new DropLog()).onDrop(System.currentTimeMillis());
        if (count > 0)
        {
            LOG.warn("budget alert {} of tenant {} dropped: {}; {} alert{} of this tenant dropped since the last such line "
                + "(logged at most once a minute)", alert.id(), alert.tenant(), why, count, count == 1 ? "" : "s");
        }
    }

    private static String failure(final HttpResponse<Void> response)
    {
        final int status = response.statusCode();
        if (status / 100 == 3)
        {
            return "HTTP " + status + " (redirects are not followed: point the webhook at the final URL)";
        }
        return "HTTP " + status;
    }

    private static String failure(final Throwable error)
    {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null)
        {
            cause = cause.getCause();
        }
        if (cause instanceof CancellationException)
        {
            return "no answer within the attempt's time limit";
        }
        final String name = cause.getClass().getSimpleName();
        return cause.getMessage() == null ? name : name + ": " + cause.getMessage();
    }

    private static long saturatedAdd(final long a, final long b)
    {
        final long sum = a + b;
        return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
    }

    /** One alert being delivered; alert-sender thread only. */
    private static final class Pending
    {
        final Alert alert;
        final TenantHistory history;
        final HttpRequest request;
        final String destination;
        final long deadlineMs;
        int attempts;
        String lastError;
        CompletableFuture<HttpResponse<Void>> open;

        Pending(final Alert alert, final TenantHistory history, final HttpRequest request, final String destination,
            final long deadlineMs)
        {
            this.alert = alert;
            this.history = history;
            this.request = request;
            this.destination = destination;
            this.deadlineMs = deadlineMs;
        }

        Delivery delivery()
        {
            return new Delivery(alert, attempts, false, lastError, null, false);
        }
    }

    /**
     * A tenant's deliveries: written by the alert-sender thread, which publishes an immutable copy after each change
     * for readers on any thread.
     */
    private static final class TenantHistory
    {
        private final LinkedHashMap<String, Delivery> byId = new LinkedHashMap<>();
        private volatile List<Delivery> view = List.of();

        Delivery get(final String id)
        {
            return byId.get(id);
        }

        /** Adds {@code d} as the newest, replacing (and moving) an earlier delivery of its id. */
        void add(final Delivery d)
        {
            byId.remove(d.alert().id());
            byId.put(d.alert().id(), d);
            final Iterator<String> oldest = byId.keySet().iterator();
            while (byId.size() > HISTORY_PER_TENANT)
            {
                oldest.next();
                oldest.remove();
            }
            view = List.copyOf(byId.values());
        }

        /** Replaces the delivery of {@code d}'s id where it is, unless it was forgotten already. */
        void update(final Delivery d)
        {
            if (byId.replace(d.alert().id(), d) != null)
            {
                view = List.copyOf(byId.values());
            }
        }
    }

    /** The drops of one tenant since its last log line; any thread. */
    private static final class DropLog
    {
        private final AtomicLong nextLogMs = new AtomicLong();
        private final AtomicLong unlogged = new AtomicLong();

        /** @return the drops to log now (this one included), or 0 when a line was logged less than a minute ago. */
        long onDrop(final long nowMs)
        {
            unlogged.incrementAndGet();
            final long next = nextLogMs.get();
            if (nowMs >= next && nextLogMs.compareAndSet(next, nowMs + DROP_LOG_INTERVAL_MS))
            {
                return unlogged.getAndSet(0);
            }
            return 0;
        }
    }

    /** Takes the status and headers only: the body is never read (the subscription is cancelled at once). */
    private static final class StatusOnly implements HttpResponse.BodySubscriber<Void>
    {
        @Override
        public CompletionStage<Void> getBody()
        {
            return CompletableFuture.completedStage(null);
        }

        @Override
        public void onSubscribe(final Flow.Subscription subscription)
        {
            subscription.cancel();
        }

        @Override
        public void onNext(final List<ByteBuffer> item)
        {
        }

        @Override
        public void onError(final Throwable throwable)
        {
        }

        @Override
        public void onComplete()
        {
        }
    }
}
