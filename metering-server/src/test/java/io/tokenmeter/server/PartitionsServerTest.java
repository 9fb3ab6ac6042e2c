package io.tokenmeter.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.billing.audit.Auditor;
import io.tokenmeter.core.log.Faults;
import io.tokenmeter.core.partition.DataLayout;
import io.tokenmeter.core.partition.Partitioner;
import io.tokenmeter.server.config.Settings;
import io.tokenmeter.server.config.SettingsException;
import io.tokenmeter.server.http.Client;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server over several partitions (SPEC section 9): requests split by tenant and answered once every share is in,
 * all or nothing on validation, a partition that cannot append, restarts, the one-log layout of earlier versions,
 * a fixed number of partitions, and {@code tokenmeter repartition} there and back.
 */
class PartitionsServerTest
{
    private static final String ALL_TIME = "&from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

    @TempDir
    Path dir;

    private TokenmeterServer server;
    private Client client;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    /** @return one tenant of each of {@code partitions} partitions, in partition order. */
    private static List<String> tenantPerPartition(final int partitions)
    {
        final Partitioner partitioner = new Partitioner(partitions);
        final String[] found = new String[partitions];
        for (int i = 0, missing = partitions; missing > 0 && i < 10_000; i++)
        {
            final String tenant = "tenant-" + i;
            final int p = partitioner.partitionOf(tenant);
            if (found[p] == null)
            {
                found[p] = tenant;
                missing--;
            }
        }
        return List.of(found);
    }

    private void start(final Path dataDir, final Map<String, String> extra) throws Exception
    {
        start(dataDir, extra, p -> null);
    }

    private void start(final Path dataDir, final Map<String, String> extra,
        final java.util.function.IntFunction<Faults> faults) throws Exception
    {
        final Map<String, String> settings = new HashMap<>(Map.of("port", "0", "data-dir", dataDir.toString(),
            "invoice-grace", "0s", "snapshot-interval", "200ms"));
        settings.putAll(extra);
        server = TokenmeterServer.startWithPartitionFaults(Settings.of(settings), faults);
        for (int i = 0; i < 1000 && !server.isReady(); i++)
        {
            LockSupport.parkNanos(10_000_000);
        }
        assertTrue(server.isReady(), "ready within 10 s");
        client = new Client(server.port());
    }

    private void restart(final Path dataDir, final Map<String, String> extra) throws Exception
    {
        server.close();
        server = null;
        start(dataDir, extra);
    }

    private static String event(final String id, final String tenant, final String timestamp, final int outputTokens)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"gpt-4o\",\"timestamp\":\"" + timestamp
            + "\",\"input_tokens\":1000,\"output_tokens\":" + outputTokens + "}";
    }

    /** A batch of {@code count} events spread over the tenants in turn, ids {@code prefix-N}. */
    private static String mixedBatch(final String prefix, final List<String> tenants, final int count, final String timestamp)
    {
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < count; i++)
        {
            body.append(i == 0 ? "" : ",").append(event(prefix + "-" + i, tenants.get(i % tenants.size()), timestamp, i + 1));
        }
        return body.append(']').toString();
    }

    /** @return {requests, output tokens} of a tenant over all time, as of every acknowledged event. */
    private long[] usage(final String tenant)
    {
        final JsonNode rows = client.get("/v1/usage?tenant=" + tenant + ALL_TIME + "&group_by=&consistent=true").json()
            .get("rows");
        return rows.isEmpty() ? new long[2] : new long[] {rows.get(0).get("requests").asLong(),
            rows.get(0).get("output_tokens").asLong()};
    }

    /** @return each recorded revision of the price book as "revision sha256 recorded_at", newest first. */
    private List<String> revisionsOf()
    {
        final List<String> revisions = new ArrayList<>();
        for (final JsonNode r : client.get("/v1/prices/revisions").json().get("revisions"))
        {
            assertFalse(r.has("partitions_lacking"), r.toString());
            revisions.add(r.get("revision").asText() + " " + r.get("sha256").asText() + " " + r.get("recorded_at").asText());
        }
        return revisions;
    }

    private Map<String, List<Long>> usageOf(final List<String> tenants)
    {
        final Map<String, List<Long>> usage = new LinkedHashMap<>();
        for (final String tenant : tenants)
        {
            final long[] u = usage(tenant);
            usage.put(tenant, List.of(u[0], u[1]));
        }
        return usage;
    }

    @Test
    void aRequestAcrossPartitionsIsAnsweredOnceEveryShareIsIn() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        start(dir.resolve("data"), Map.of("partitions", "4"));
        final Client.Answer answer = client.post("/v1/events", "application/json",
            mixedBatch("a", tenants, 40, "2026-11-02T10:00:00Z"));
        assertEquals(202, answer.status(), answer.body());
        assertEquals(40, answer.json().get("accepted").asInt(), answer.body());
        for (int p = 0; p < 4; p++)
        {
            assertEquals(10, usage(tenants.get(p))[0], "partition " + p + "'s tenant counted once");
            assertEquals(10, server.partitions().get(p).journal().acceptedEvents(), "partition " + p + " appended its share");
        }
        final Client.Answer retry = client.post("/v1/events", "application/json", mixedBatch("a", tenants, 40,
            "2026-11-02T10:00:00Z"));
        assertEquals(40, retry.json().get("duplicates").asInt(), retry.body());
    }

    @Test
    void aRequestAcrossPartitionsIsValidatedWhole() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        start(dir.resolve("data"), Map.of("partitions", "4"));
        final StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < 8; i++)
        {
            body.append(i == 0 ? "" : ",").append(i == 6
                ? "{\"id\":\"bad\",\"tenant\":\"" + tenants.get(2) + "\",\"model\":\"m\",\"output_tokens\":-1}"
                : event("v-" + i, tenants.get(i % 4), "2026-11-02T10:00:00Z", 1));
        }
        final Client.Answer refused = client.post("/v1/events", "application/json", body.append(']').toString());
        assertEquals(400, refused.status(), refused.body());
        assertEquals(6, refused.json().get("details").get(0).get("index").asInt(), "the index in the whole request");
        for (final String tenant : tenants)
        {
            assertEquals(0, usage(tenant)[0], "nothing of the request was appended in any partition");
        }
    }

    @Test
    void aPartitionThatCannotAppendGives503AndTheRetryIsExact() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        final Faults failing = new Faults();
        start(dir.resolve("data"), Map.of("partitions", "4"), p -> p == 3 ? failing : null);
        failing.failAppends("No space left on device");
        final String batch = mixedBatch("f", tenants, 20, "2026-11-02T10:00:00Z");
        final Client.Answer refused = client.post("/v1/events", "application/json", batch);
        assertEquals(503, refused.status(), refused.body());
        assertEquals("log_unwritable", refused.json().get("error").asText());
        assertTrue(refused.json().get("message").asText().contains("partition 3"), refused.body());
        assertTrue(refused.response().headers().firstValue("Retry-After").isPresent());
        final String ready = client.get("/health/ready").body();
        assertTrue(ready.contains("journal failing in partition 3") && ready.contains("No space left on device"), ready);
        assertEquals(5, server.partitions().get(0).journal().acceptedEvents(), "partition 0's share went in");
        assertEquals(0, server.partitions().get(3).journal().acceptedEvents(), "partition 3's share did not");

        failing.failAppends(null);
        final Client.Answer retried = client.post("/v1/events", "application/json", batch);
        assertEquals(202, retried.status(), retried.body());
        assertEquals(5, retried.json().get("accepted").asInt(), "partition 3's share: " + retried.body());
        assertEquals(15, retried.json().get("duplicates").asInt(), "the shares that went in: " + retried.body());
        for (final String tenant : tenants)
        {
            assertEquals(5, usage(tenant)[0], tenant + " counted once");
        }
        assertEquals(200, client.get("/health/ready").status());
    }

    @Test
    void aPriceChangeAPartitionCannotRecordLeavesEveryPartitionPricingWithItsOwnBookUntilPutAgain() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        final Faults failing = new Faults();
        start(dir.resolve("data"), Map.of("partitions", "4"), p -> p == 3 ? failing : null);
        assertEquals(202, client.post("/v1/events", "application/json", mixedBatch("c", tenants, 8, "2026-11-02T10:00:00Z"))
            .status());
        final long before = client.get("/v1/prices").json().get("revision").asLong();
        final String book = new String(getClass().getResourceAsStream("/io/tokenmeter/billing/default-prices.yaml")
            .readAllBytes(), StandardCharsets.UTF_8).replace("\"2.50\"", "\"2.70\"");
        failing.failAppends("No space left on device");
        final Client.Answer refused = client.put("/v1/prices", "application/yaml", book);
        assertEquals(503, refused.status(), refused.body());
        assertTrue(refused.body().contains("[3]") && refused.body().contains("PUT the same book again"), refused.body());
        // the disk comes back; partition 3 is ready again once it appends (decision 57)
        failing.failAppends(null);
        assertEquals(202, client.post("/v1/events", "application/json", event("after", tenants.get(3), "2026-11-02T11:00:00Z", 1))
            .status());
        final JsonNode partly = client.get("/v1/prices").json();
        assertEquals(before + 1, partly.get("revision").asLong());
        assertEquals("[3]", partly.get("partitions_lacking").toString(), partly.toString());
        assertEquals(before + 1, client.get("/v1/invoices/" + tenants.get(0) + "/2026-11").json().get("price_book")
            .get("revision").asLong(), "a partition that recorded the change prices with it");
        assertEquals(before, client.get("/v1/invoices/" + tenants.get(3) + "/2026-11").json().get("price_book")
            .get("revision").asLong(), "the partition that could not record it prices with the book it decided by");
        final JsonNode partial = client.get("/v1/prices/revisions").json().get("revisions").get(0);
        assertEquals(before + 1, partial.get("revision").asLong(), partial.toString());
        assertEquals("[3]", partial.get("partitions_lacking").toString(), "the revisions say who lacks it: " + partial);
        assertTrue(partial.get("log_indexes").get(3).isNull(), partial.toString());
        assertEquals(partly.get("log_indexes").get(0), partial.get("log_indexes").get(0));
        assertEquals(200, client.get("/v1/prices/revisions/" + (before + 1)).status(), "read from a partition that has it");

        final Client.Answer completed = client.put("/v1/prices", "application/yaml", book);
        assertEquals(200, completed.status(), completed.body());
        assertEquals(before + 1, completed.json().get("revision").asLong(), "completed at the same revision");
        assertFalse(completed.json().has("partitions_lacking"), completed.body());
        final JsonNode whole = client.get("/v1/prices/revisions").json().get("revisions").get(0);
        assertFalse(whole.has("partitions_lacking"), "completed in partition 3 at the same revision: " + whole);
        assertEquals(completed.json().get("log_indexes"), whole.get("log_indexes"));
        assertEquals(partial.get("recorded_at"), whole.get("recorded_at"), "recorded when the first partition recorded it");
        for (final String tenant : tenants)
        {
            assertEquals(before + 1, client.get("/v1/invoices/" + tenant + "/2026-11").json().get("price_book")
                .get("revision").asLong(), tenant);
        }
        server.close();
        server = null;
        final ByteArrayOutputStream printed = new ByteArrayOutputStream();
        assertTrue(new Auditor(dir.resolve("data"), YearMonth.parse("2026-11"), null,
            new PrintStream(printed, true, StandardCharsets.UTF_8)).run(List.of()).clean(), printed.toString(StandardCharsets.UTF_8));
    }

    @Test
    void invoicesPricesAndTheListingSpanEveryPartition() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        start(dir.resolve("data"), Map.of("partitions", "4"));
        assertEquals(202, client.post("/v1/events", "application/json", mixedBatch("i", tenants, 8, "2025-10-05T10:00:00Z"))
            .status());
        final JsonNode prices = client.get("/v1/prices").json();
        assertEquals(4, prices.get("log_indexes").size(), "the book is recorded in every partition: " + prices);
        final JsonNode listing = client.get("/v1/invoices?period=2025-10").json().get("invoices");
        assertEquals(4, listing.size(), listing.toString());
        for (int p = 0; p < 4; p++)
        {
            final JsonNode invoice = client.get("/v1/invoices/" + tenants.get(p) + "/2025-10").json();
            assertEquals(prices.get("log_indexes").get(p).asText(), invoice.get("price_book").get("log_index").asText(),
                "an invoice names its own partition's copy of the book");
            assertEquals(listing.get(p).get("total").asText(), invoice.get("total").asText());
        }
        for (final String tenant : tenants)
        {
            assertEquals(201, client.post("/v1/invoices/" + tenant + "/2025-10/finalize", null, "").status());
        }
        server.close();
        server = null;
        final ByteArrayOutputStream printed = new ByteArrayOutputStream();
        final Auditor.Report report = new Auditor(dir.resolve("data"), YearMonth.parse("2025-10"), null,
            new PrintStream(printed, true, StandardCharsets.UTF_8)).run(List.of());
        assertTrue(report.clean(), printed.toString(StandardCharsets.UTF_8));
        assertEquals(4, report.compared(), printed.toString(StandardCharsets.UTF_8));
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains("partition 3: log replayed"), printed.toString(StandardCharsets.UTF_8));
    }

    @Test
    void restartsReplayEveryPartitionToTheSameCounts() throws Exception
    {
        final List<String> tenants = tenantPerPartition(4);
        final Path data = dir.resolve("data");
        start(data, Map.of("partitions", "4"));
        for (int b = 0; b < 5; b++)
        {
            assertEquals(202, client.post("/v1/events", "application/json", mixedBatch("r" + b, tenants, 30,
                "2026-11-0" + (b + 1) + "T10:00:00Z")).status());
        }
        final Map<String, List<Long>> live = usageOf(tenants);
        restart(data, Map.of());
        assertEquals(live, usageOf(tenants), "snapshots and log tails");
        server.close();
        server = null;
        try (Stream<Path> files = Files.walk(data.resolve("snapshots")))
        {
            for (final Path file : files.filter(Files::isRegularFile).toList())
            {
                Files.delete(file);
            }
        }
        start(data, Map.of());
        assertEquals(live, usageOf(tenants), "whole logs replayed, partition by partition");
        assertEquals(30, client.post("/v1/events", "application/json", mixedBatch("r4", tenants, 30, "2026-11-05T10:00:00Z"))
            .json().get("duplicates").asInt(), "ids remembered in every partition");
    }

    @Test
    void anotherNumberOfPartitionsIsRefusedWithTheCommandThatChangesIt() throws Exception
    {
        final Path data = dir.resolve("data");
        start(data, Map.of("partitions", "4"));
        server.close();
        server = null;
        final SettingsException refused = assertThrows(SettingsException.class,
            () -> TokenmeterServer.start(Settings.of(Map.of("port", "0", "data-dir", data.toString(), "partitions", "2"))));
        assertTrue(refused.getMessage().contains("has 4 partitions") && refused.getMessage().contains("2 were asked for"),
            refused.getMessage());
        assertTrue(refused.getMessage().contains("tokenmeter repartition --from "), refused.getMessage());
        start(data, Map.of());
        assertEquals(4, server.partitions().count(), "without --partitions the directory's number is used");
    }

    @Test
    void aOneLogDirectoryOfThePreviousLayoutOpensAndServesTheSameUsageAndInvoices() throws Exception
    {
        final Path data = dir.resolve("data");
        final List<String> tenants = List.of("acme", "globex", "initech");
        start(data, Map.of("partitions", "1"));
        client.post("/v1/events", "application/json", mixedBatch("o", tenants, 30, "2025-10-05T10:00:00Z"));
        client.post("/v1/events", "application/json", mixedBatch("n", tenants, 12, "2026-11-05T10:00:00Z"));
        final String finalInvoice = client.post("/v1/invoices/acme/2025-10/finalize", null, "").body();
        final Map<String, List<Long>> usage = usageOf(tenants);
        final String draft = client.get("/v1/invoices/globex/2025-10").json().get("total").asText();
        server.close();
        server = null;
        // lay the directory out as the one-log versions did: log files in log/, snapshots in snapshots/, no layout file
        moveUp(data.resolve("log").resolve("p-000"));
        moveUp(data.resolve("snapshots").resolve("p-000"));
        Files.delete(data.resolve(DataLayout.LAYOUT_FILE));
        assertTrue(DataLayout.read(data).isOneLog());

        start(data, Map.of());
        assertEquals(1, server.partitions().count());
        assertEquals(usage, usageOf(tenants));
        assertEquals(Client.JSON.readTree(finalInvoice), client.get("/v1/invoices/acme/2025-10").json());
        assertEquals(draft, client.get("/v1/invoices/globex/2025-10").json().get("total").asText());
        assertEquals(12, client.post("/v1/events", "application/json", mixedBatch("n", tenants, 12, "2026-11-05T10:00:00Z"))
            .json().get("duplicates").asInt(), "ids remembered");
        assertFalse(Files.exists(data.resolve(DataLayout.LAYOUT_FILE)), "opened in place, not rewritten");
        assertTrue(Files.list(data.resolve("log")).anyMatch(p -> p.toString().endsWith(".cq4")), "appended in place");
    }

    /** @return the grants' JSON without their log positions, which a copy renumbers. */
    private static String balancesOnly(final String grants)
    {
        return grants.replaceAll("\"log_index\":\"[0-9a-f]+\",", "");
    }

    private static void moveUp(final Path folder) throws Exception
    {
        try (Stream<Path> files = Files.list(folder))
        {
            for (final Path file : files.toList())
            {
                Files.move(file, folder.getParent().resolve(file.getFileName()));
            }
        }
        Files.delete(folder);
    }

    /** @return this month's "requests input output" of the tenant, as of every acknowledged event. */
    private String monthUsage(final String tenant)
    {
        final String from = YearMonth.now(java.time.ZoneOffset.UTC).atDay(1) + "T00:00:00Z";
        final JsonNode rows = client.get("/v1/usage?tenant=" + tenant + "&from=" + from + "&to=2100-01-01T00:00:00Z"
            + "&consistent=true").json().get("rows");
        final JsonNode row = rows.get(0);
        return row.get("requests").asLong() + " " + row.get("input_tokens").asLong() + " " + row.get("output_tokens").asLong();
    }

    @Test
    void repartitionCarriesBudgetsHoldsAndStreams() throws Exception
    {
        final Path one = dir.resolve("one");
        final List<String> tenants = tenantPerPartition(4);
        start(one, Map.of("partitions", "1"));
        for (final String tenant : tenants)
        {
            assertEquals(200, client.put("/v1/budgets/" + tenant, "application/json", "{\"limit\":\"5.00\"}").status());
            for (final String id : List.of("open", "settled"))
            {
                assertEquals(201, client.post("/v1/reservations", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\""
                    + tenant + "\",\"model\":\"gpt-4o\",\"max_input_tokens\":100000,\"max_output_tokens\":1000,"
                    + "\"ttl\":\"1h\"}").status());
            }
            final String checkpoints = "{\"id\":\"c1\",\"tenant\":\"" + tenant + "\",\"model\":\"gpt-4o\",\"input_tokens\":100,"
                + "\"output_tokens\":10,\"stream\":{\"id\":\"s\",\"seq\":1}}\n{\"id\":\"c2\",\"tenant\":\"" + tenant
                + "\",\"model\":\"gpt-4o\",\"input_tokens\":100,\"output_tokens\":30,\"stream\":{\"id\":\"s\",\"seq\":2}}\n"
                + "{\"id\":\"e\",\"tenant\":\"" + tenant + "\",\"model\":\"gpt-4o\",\"input_tokens\":50000,"
                + "\"reservation\":\"settled\"}\n";
            assertEquals(3, client.post("/v1/events", "application/x-ndjson", checkpoints).json().get("accepted").asInt());
        }
        final Map<String, String> before = new LinkedHashMap<>();
        for (final String tenant : tenants)
        {
            before.put(tenant, client.get("/v1/budgets/" + tenant).body() + " " + client.get("/v1/reservations/" + tenant
                + "/open").json().get("state") + " " + client.get("/v1/reservations/" + tenant + "/settled").json().get("state")
                + " " + monthUsage(tenant));
        }
        assertTrue(before.get(tenants.get(0)).endsWith("\"open\" \"settled\" 2 50100 30"), before.toString());
        server.close();
        server = null;

        final Path four = dir.resolve("four");
        final ByteArrayOutputStream printed = new ByteArrayOutputStream();
        final Repartitioner.Result result = new Repartitioner(new PrintStream(printed, true, StandardCharsets.UTF_8))
            .run(one, four, 4);
        assertEquals(12, result.events());
        start(four, Map.of());
        for (final String tenant : tenants)
        {
            final String after = client.get("/v1/budgets/" + tenant).body() + " " + client.get("/v1/reservations/" + tenant
                + "/open").json().get("state") + " " + client.get("/v1/reservations/" + tenant + "/settled").json().get("state")
                + " " + monthUsage(tenant);
            assertEquals(before.get(tenant), after, tenant + ": budget, holds, spend and the stream's one request, in its new "
                + "partition");
        }
        // the streams go on in their new partitions: the journal rebuilt each from the copied links
        final String tenant = tenants.get(0);
        final JsonNode more = client.post("/v1/events", "application/x-ndjson", "{\"id\":\"c3\",\"tenant\":\"" + tenant
            + "\",\"model\":\"gpt-4o\",\"input_tokens\":100,\"output_tokens\":45,\"stream\":{\"id\":\"s\",\"seq\":3,"
            + "\"final\":true}}\n{\"id\":\"c0\",\"tenant\":\"" + tenant + "\",\"model\":\"gpt-4o\",\"input_tokens\":100,"
            + "\"output_tokens\":99,\"stream\":{\"id\":\"s\",\"seq\":0}}\n").json();
        assertEquals("1/1", more.get("accepted").asInt() + "/" + more.get("conflicts").asInt(), more.toString());
        assertEquals("2 50100 45", monthUsage(tenant));
    }

    @Test
    void repartitionFromOneToFourAndBackKeepsEveryCountIdInvoiceAndNumber() throws Exception
    {
        final Path one = dir.resolve("one");
        final List<String> tenants = new ArrayList<>(tenantPerPartition(4));
        tenants.add("acme");
        start(one, Map.of("partitions", "1"));
        client.post("/v1/events", "application/json", mixedBatch("sep", tenants, 25, "2025-09-10T10:00:00Z"));
        client.post("/v1/events", "application/json", mixedBatch("oct", tenants, 50, "2025-10-10T10:00:00Z"));
        // a credit grant per tenant, in its tenant's partition: drawn by the finals and the drafts, carried by the copy
        for (final String tenant : tenants)
        {
            assertEquals(201, client.post("/v1/tenants/" + tenant + "/credits", "application/json", "{\"id\":\"start-" + tenant
                + "\",\"amount\":\"0.01\",\"effective_at\":\"2025-09-01T00:00:00Z\",\"expires_at\":\"2025-12-01T00:00:00Z\"}")
                .status());
        }
        final List<String> finals = new ArrayList<>();
        for (final String tenant : tenants)
        {
            finals.add(client.post("/v1/invoices/" + tenant + "/2025-09/finalize", null, "").body());
        }
        // late usage of a final period, and a price change, after the finals
        client.post("/v1/events", "application/json", mixedBatch("late", tenants, 10, "2025-09-20T10:00:00Z"));
        final String book = new String(getClass().getResourceAsStream("/io/tokenmeter/billing/default-prices.yaml")
            .readAllBytes(), StandardCharsets.UTF_8).replace("\"2.50\"", "\"2.60\"");
        assertEquals(200, client.put("/v1/prices", "application/yaml", book).status());
        finals.add(client.post("/v1/invoices/acme/2025-10/finalize", null, "").body());
        final Map<String, List<Long>> usage = usageOf(tenants);
        final List<String> revisions = revisionsOf();
        assertEquals(2, revisions.size(), "the shipped book and the change: " + revisions);
        final Map<String, String> drafts = new LinkedHashMap<>();
        final Map<String, String> credits = new LinkedHashMap<>();
        for (final String tenant : tenants)
        {
            drafts.put(tenant, client.get("/v1/invoices/" + tenant + "/2025-11").json().get("total").asText());
            credits.put(tenant, client.get("/v1/tenants/" + tenant + "/credits").json().get("grants").toString());
        }
        assertTrue(finals.get(0).contains("\"kind\":\"credit\""), "the finals drew the grants: " + finals.get(0));
        server.close();
        server = null;

        final Path four = dir.resolve("four");
        final Path back = dir.resolve("back");
        final ByteArrayOutputStream printed = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);
        final Repartitioner.Result toFour = new Repartitioner(out).run(one, four, 4);
        assertEquals(85, toFour.events(), "every event copied once");
        assertEquals(tenants.size(), toFour.creditGrants(), "every grant copied once");
        assertEquals(finals.size(), toFour.finalInvoices());
        for (final String period : List.of("2025-09", "2025-10"))
        {
            assertTrue(new Auditor(four, YearMonth.parse(period), null, out).run(List.of()).clean(),
                printed.toString(StandardCharsets.UTF_8));
        }
        final Repartitioner.Result toOne = new Repartitioner(out).run(four, back, 1);
        assertEquals(85, toOne.events());
        for (final String period : List.of("2025-09", "2025-10"))
        {
            assertTrue(new Auditor(back, YearMonth.parse(period), null, out).run(List.of()).clean(),
                printed.toString(StandardCharsets.UTF_8));
        }

        for (final Path copy : List.of(four, back))
        {
            start(copy, Map.of());
            assertEquals(copy == four ? 4 : 1, server.partitions().count());
            assertEquals(usage, usageOf(tenants), copy + ": every count");
            assertEquals(revisions, revisionsOf(), copy + ": every revision of the price book");
            for (final String tenant : tenants)
            {
                assertEquals(drafts.get(tenant), client.get("/v1/invoices/" + tenant + "/2025-11").json().get("total").asText(),
                    copy + ": " + tenant + "'s draft");
                assertEquals(balancesOnly(credits.get(tenant)), balancesOnly(client.get("/v1/tenants/" + tenant + "/credits").json()
                    .get("grants").toString()), copy + ": " + tenant + "'s credits");
                final JsonNode stored = Client.JSON.readTree(finals.get(tenants.indexOf(tenant)));
                final JsonNode served = client.get("/v1/invoices/" + tenant + "/2025-09").json();
                for (final String field : List.of("invoice_number", "total", "lines", "status", "finalized_at"))
                {
                    assertEquals(stored.get(field), served.get(field), copy + ": " + tenant + " 2025-09 " + field);
                }
            }
            assertEquals(Client.JSON.readTree(finals.get(finals.size() - 1)).get("invoice_number"),
                client.get("/v1/invoices/acme/2025-10").json().get("invoice_number"));
            final JsonNode retried = client.post("/v1/events", "application/json", mixedBatch("oct", tenants, 50,
                "2025-10-10T10:00:00Z")).json();
            assertEquals(50, retried.get("duplicates").asInt(), copy + ": every id remembered: " + retried);
            final JsonNode next = client.post("/v1/invoices/" + tenants.get(0) + "/2025-10/finalize", null, "").json();
            assertEquals("INV-" + String.format("%06d", finals.size() + 1), next.get("invoice_number").asText(),
                copy + ": numbering goes on without a gap");
            server.close();
            server = null;
        }
        assertThrows(SettingsException.class, () -> new Repartitioner(out).run(one, four, 2), "the target must not exist");
        assertFalse(Files.exists(dir.resolve("four.partial")), "the copy was renamed into place whole");
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains("every tenant's events and tokens are the source's"),
            printed.toString(StandardCharsets.UTF_8));
    }
}
