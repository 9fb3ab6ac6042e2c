package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.auth.KeyTool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Access control through real HTTP: every route with every kind of key, as the table in docs/access.md says (the
 * table is read from the docs, so the docs are what this test proves), refused requests change nothing, reloads, and
 * no key material in answers or the log.
 */
class AccessTest
{
    private static final Path DOCS = Path.of("..", "docs", "access.md");
    private static final String PERIOD = "2026-09";
    private static final String IN_PERIOD = "2026-09-10T10:00:00Z";
    private static final String PRICE_BOOK = "{\"currency\":\"USD\",\"models\":{\"m*\":[{\"effective_from\":\"2024-01-01T00:00:00Z\","
        + "\"per_million\":{\"input\":\"1.00\",\"output\":\"2.00\"}}]}}";
    /** Columns of the docs table after "request": how each sends its key. */
    private static final List<String> COLUMNS = List.of("none", "unknown", "ingest acme", "ingest *", "read acme", "read *", "admin");

    @TempDir
    Path dir;

    private final KeyFixture keys = new KeyFixture()
        .add("ingest-acme", "ingest", "acme")
        .add("ingest-all", "ingest", "*")
        .add("read-acme", "read", "acme")
        .add("read-all", "read", "*")
        .add("admin", "admin")
        .add("not-in-file", "admin");
    private final List<String> bodies = new ArrayList<>();
    private LogCapture log;
    private TokenmeterServer server;
    private Client client;

    @BeforeEach
    void captureLog()
    {
        log = new LogCapture();
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        log.close();
    }

    private void start(final Map<String, String> extra) throws Exception
    {
        final Path keysFile = keys.write(dir.resolve("keys.yaml"), "ingest-acme", "ingest-all", "read-acme", "read-all", "admin");
        final Map<String, String> settings = new LinkedHashMap<>(Map.of("data-dir", dir.resolve("data").toString(),
            "keys", keysFile.toString()));
        settings.putAll(extra);
        server = TestServer.start(dir, settings);
        client = new Client(server.port());
    }

    private Client as(final String column)
    {
        return switch (column)
        {
            case "none" -> client;
            case "unknown" -> client.withKey(keys.secret("not-in-file"));
            case "ingest acme" -> client.withKey(keys.secret("ingest-acme"));
            case "ingest *" -> client.withKey(keys.secret("ingest-all"));
            case "read acme" -> client.withKey(keys.secret("read-acme"));
            case "read *" -> client.withKey(keys.secret("read-all"));
            case "admin" -> client.withKey(keys.secret("admin"));
            default -> throw new AssertionError("no column " + column);
        };
    }

    private static String event(final String id, final String tenant)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"m1\",\"timestamp\":\"" + IN_PERIOD
            + "\",\"input_tokens\":1}";
    }

    private static String cloudEvent(final String id, final String tenant)
    {
        return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"//test\",\"type\":\"usage\",\"subject\":\"" + tenant
            + "\",\"time\":\"" + IN_PERIOD + "\",\"data\":{\"model\":\"m1\",\"type\":\"input\",\"tokens\":1}}";
    }

    /** An OTLP/JSON request with one GenAI span for the tenant; the span id is the hex of the test's request id. */
    private static String traces(final String id, final String tenant)
    {
        final String hex = java.util.HexFormat.of().formatHex(id.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        final String spanId = "0".repeat(16 - hex.length()) + hex;
        final long endNanos = java.time.Instant.parse(IN_PERIOD).toEpochMilli() * 1_000_000L;
        return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"tenant.id\",\"value\":{\"stringValue\":\""
            + tenant + "\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\""
            + spanId + "\",\"name\":\"chat\",\"endTimeUnixNano\":\"" + endNanos + "\",\"attributes\":["
            + "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"m1\"}},"
            + "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"1\"}}]}]}]}]}";
    }

    /** @return the error code of a refusal: {@code error} of a JSON error, the prefix of an OTLP Status's message. */
    private static String errorCode(final String request, final Client.Answer answer)
    {
        return request.contains("/v1/traces") ? answer.json().get("message").asText().split(":")[0]
            : answer.json().get("error").asText();
    }

    /** Sends the request a row of the docs table names. */
    private Client.Answer send(final String request, final Client as, final String id)
    {
        return switch (request)
        {
            case "`POST /v1/events` for acme" -> as.post("/v1/events", "application/json", event(id, "acme"));
            case "`POST /v1/events` for globex" -> as.post("/v1/events", "application/json", event(id, "globex"));
            case "`POST /v1/events` for acme and globex" -> as.post("/v1/events", "application/json",
                "[" + event(id, "acme") + "," + event(id, "globex") + "]");
            case "`POST /api/v1/events` (CloudEvents) for acme" -> as.post("/api/v1/events", "application/cloudevents+json",
                cloudEvent(id, "acme"));
            case "`POST /api/v1/events` (CloudEvents) for globex" -> as.post("/api/v1/events", "application/cloudevents+json",
                cloudEvent(id, "globex"));
            case "`POST /v1/traces` (OTLP) for acme" -> as.post("/v1/traces", "application/json", traces(id, "acme"));
            case "`POST /v1/traces` (OTLP) for globex" -> as.post("/v1/traces", "application/json", traces(id, "globex"));
            case "`GET /v1/usage?tenant=acme`" -> as.get(usage("acme"));
            case "`GET /v1/usage?tenant=globex`" -> as.get(usage("globex"));
            case "`GET /v1/invoices/acme/{period}`" -> as.get("/v1/invoices/acme/" + PERIOD);
            case "`GET /v1/invoices/globex/{period}`" -> as.get("/v1/invoices/globex/" + PERIOD);
            case "`GET /v1/invoices/acme/{period}/lines/0/events`" -> as.get("/v1/invoices/acme/" + PERIOD + "/lines/0/events");
            case "`GET /v1/invoices/globex/{period}/lines/0/events`" -> as.get("/v1/invoices/globex/" + PERIOD + "/lines/0/events");
            case "`GET /v1/invoices?period={period}`" -> as.get("/v1/invoices?period=" + PERIOD);
            case "`GET /v1/margins?period={period}`" -> as.get("/v1/margins?period=" + PERIOD);
            case "`POST /v1/invoices/acme/{period}/finalize`" -> as.post("/v1/invoices/acme/" + PERIOD + "/finalize", null, "");
            case "`POST /v1/invoices/globex/{period}/finalize`" -> as.post("/v1/invoices/globex/" + PERIOD + "/finalize", null, "");
            case "`GET /v1/prices`" -> as.get("/v1/prices");
            case "`GET /v1/prices/revisions`" -> as.get("/v1/prices/revisions");
            case "`GET /v1/prices/revisions/1`" -> as.get("/v1/prices/revisions/1");
            case "`PUT /v1/prices`" -> as.put("/v1/prices", "application/json", PRICE_BOOK);
            case "`POST /v1/tenants/acme/credits`" -> as.post("/v1/tenants/acme/credits", "application/json", "{\"id\":\"" + id
                + "\",\"amount\":\"1.00\",\"effective_at\":\"2026-09-01T00:00:00Z\",\"expires_at\":\"2026-10-01T00:00:00Z\"}");
            case "`GET /v1/tenants/acme/credits`" -> as.get("/v1/tenants/acme/credits");
            case "`GET /v1/tenants/globex/credits`" -> as.get("/v1/tenants/globex/credits");
            case "`PUT /v1/budgets/acme`" -> as.put("/v1/budgets/acme", "application/json", "{\"limit\":\"100.00\"}");
            case "`PUT /v1/budgets/globex`" -> as.put("/v1/budgets/globex", "application/json", "{\"limit\":\"100.00\"}");
            case "`GET /v1/budgets/acme`" -> as.get("/v1/budgets/acme");
            case "`GET /v1/budgets/globex`" -> as.get("/v1/budgets/globex");
            case "`GET /v1/budgets/acme/alerts`" -> as.get("/v1/budgets/acme/alerts");
            case "`POST /v1/reservations` for acme" -> as.post("/v1/reservations", "application/json", reservation(id, "acme"));
            case "`POST /v1/reservations` for globex" -> as.post("/v1/reservations", "application/json", reservation(id, "globex"));
            case "`GET /v1/reservations/acme/held`" -> as.get("/v1/reservations/acme/held");
            case "`DELETE /v1/reservations/acme/held`" -> as.request("DELETE", "/v1/reservations/acme/held", null, null);
            case "`GET /metrics`" -> as.get("/metrics");
            case "`GET /v1/cluster`" -> as.get("/v1/cluster");
            case "`GET /health/live`" -> as.get("/health/live");
            case "`GET /health/ready`" -> as.get("/health/ready");
            case "`GET /console/` (the web console's files)" -> as.get("/console/");
            default -> throw new AssertionError("docs/access.md names a request this test does not know: " + request);
        };
    }

    private static String reservation(final String id, final String tenant)
    {
        return "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"model\":\"m1\",\"max_input_tokens\":1000,"
            + "\"max_output_tokens\":100}";
    }

    private static String usage(final String tenant)
    {
        return "/v1/usage?tenant=" + tenant + "&from=2026-09-01T00:00:00Z&to=2026-10-01T00:00:00Z&group_by=&consistent=true";
    }

    /** @return the rows of the access table in docs/access.md: request, then one expected status per column. */
    private static List<List<String>> accessTable() throws IOException
    {
        final List<String> lines = Files.readAllLines(DOCS);
        final int start = lines.indexOf("<!-- access-table: AccessTest reads this table -->");
        final int end = lines.indexOf("<!-- end access-table -->");
        assertTrue(start >= 0 && end > start, "docs/access.md holds the marked access table");
        final List<String> header = cells(lines.get(start + 1));
        assertEquals("request", header.get(0));
        assertEquals(COLUMNS, header.subList(1, header.size()), "the table's columns");
        final List<List<String>> rows = new ArrayList<>();
        for (final String line : lines.subList(start + 3, end))
        {
            final List<String> row = cells(line);
            assertEquals(COLUMNS.size() + 1, row.size(), "cells in " + line);
            rows.add(row);
        }
        return rows;
    }

    private static List<String> cells(final String line)
    {
        final List<String> cells = new ArrayList<>();
        for (final String cell : line.substring(1, line.length() - 1).split("\\|"))
        {
            cells.add(cell.trim());
        }
        return cells;
    }

    @Test
    void costsAndMarginsAreShownOnlyToKeysThatReadEveryTenant() throws Exception
    {
        start(Map.of());
        final String book = "{\"currency\":\"USD\",\"models\":{\"m*\":[{\"effective_from\":\"2024-01-01T00:00:00Z\","
            + "\"per_million\":{\"input\":\"1.00\",\"output\":\"2.00\"}}]},\"cost\":{\"currency\":\"USD\",\"models\":{\"m*\":["
            + "{\"effective_from\":\"2024-01-01T00:00:00Z\",\"per_million\":{\"input\":\"0.40\",\"output\":\"0.90\"}}]}}}";
        assertEquals(200, as("admin").put("/v1/prices", "application/json", book).status());
        final Client.Answer posted = as("ingest acme").post("/v1/events", "application/json", "{\"id\":\"c1\",\"tenant\":\"acme\","
            + "\"model\":\"m1\",\"timestamp\":\"" + IN_PERIOD + "\",\"input_tokens\":5000000}");
        assertEquals(202, posted.status(), posted.body());
        final JsonNode finance = as("read *").get("/v1/invoices/acme/" + PERIOD).json().get("lines").get(0);
        assertEquals("5.00", finance.get("amount").asText());
        assertEquals("2.00", finance.get("cost").asText(), finance.toString());
        assertEquals("3.00", finance.get("margin").asText());
        final JsonNode own = as("read acme").get("/v1/invoices/acme/" + PERIOD).json().get("lines").get(0);
        assertEquals("5.00", own.get("amount").asText());
        assertFalse(own.has("cost") || own.has("margin"), "the tenant's own key does not see our cost: " + own);
        final String ownCsv = as("read acme").get("/v1/invoices/acme/" + PERIOD + "?format=csv").body();
        assertTrue(ownCsv.contains(",5.00,,,,USD,") && !ownCsv.contains("2.00"), ownCsv);
        final JsonNode margins = as("read *").get("/v1/margins?period=" + PERIOD).json();
        assertTrue(margins.get("cost_book").asBoolean());
        assertEquals(1, margins.get("margins").size(), margins.toString());
        final JsonNode row = margins.get("margins").get(0);
        assertEquals("acme m1 USD 5.00 2.00 3.00 0.00", String.join(" ", row.get("tenant").asText(), row.get("model").asText(),
            row.get("currency").asText(), row.get("amount").asText(), row.get("cost").asText(), row.get("margin").asText(),
            row.get("uncosted_amount").asText()));
        assertEquals(400, as("read *").get("/v1/margins").status());
    }

    @Test
    void everyRouteAnswersEveryKeyAsTheDocsTableSays() throws Exception
    {
        start(Map.of());
        final List<List<String>> table = accessTable();
        assertEquals(38, table.size(), "every guarded and open route has a row");
        // the hold the reservation rows read and release
        assertEquals(201, as("admin").post("/v1/reservations", "application/json", reservation("held", "acme")).status());
        final Map<String, Integer> expectedInput = new LinkedHashMap<>(Map.of("acme", 0, "globex", 0));
        int priceChanges = 0;
        for (int r = 0; r < table.size(); r++)
        {
            final List<String> row = table.get(r);
            for (int c = 0; c < COLUMNS.size(); c++)
            {
                final int expected = Integer.parseInt(row.get(c + 1));
                final Client.Answer answer = send(row.get(0), as(COLUMNS.get(c)), "r" + r + "c" + c);
                bodies.add(answer.body());
                final String what = row.get(0) + " with key " + COLUMNS.get(c);
                assertEquals(expected, answer.status(), () -> what + ": " + answer.body());
                if (expected == 401)
                {
                    assertEquals("unauthorized", errorCode(row.get(0), answer), what);
                    assertEquals("Bearer realm=\"tokenmeter\"", answer.response().headers().firstValue("WWW-Authenticate").orElse(""));
                }
                else if (expected == 403)
                {
                    assertEquals("forbidden", errorCode(row.get(0), answer), what);
                }
                else if (expected == 200 && row.get(0).contains("/v1/traces"))
                {
                    expectedInput.merge(row.get(0).contains("acme") ? "acme" : "globex", 1, Integer::sum);
                    assertEquals("{}", answer.body(), what + ": the span is accepted whole");
                }
                else if (expected == 202)
                {
                    for (final String tenant : row.get(0).contains("acme") ? List.of("acme") : List.<String>of())
                    {
                        expectedInput.merge(tenant, 1, Integer::sum);
                    }
                    if (row.get(0).contains("globex"))
                    {
                        expectedInput.merge("globex", 1, Integer::sum);
                    }
                    assertEquals(row.get(0).contains("and") ? 2 : 1, answer.json().get("accepted").asInt(), what);
                }
                else if (row.get(0).startsWith("`PUT /v1/prices"))
                {
                    priceChanges++;
                }
            }
        }

        // refused requests changed nothing: only the events of 202 answers are counted, one price change is recorded
        final Client admin = as("admin");
        for (final Map.Entry<String, Integer> tenant : expectedInput.entrySet())
        {
            final JsonNode rows = admin.get(usage(tenant.getKey())).json().get("rows");
            assertEquals(tenant.getValue().intValue(), rows.get(0).get("input_tokens").asInt(), "input tokens of " + tenant.getKey());
        }
        assertEquals(1, priceChanges);
        assertEquals(2, admin.get("/v1/prices").json().get("revision").asInt(), "the shipped book, then the admin's one");
        final JsonNode grants = admin.get("/v1/tenants/acme/credits").json().get("grants");
        assertEquals(1, grants.size(), "only the admin's credit grant is recorded: " + grants);
        // only the reservations answered 201 hold: the admin's, and ingest acme's, ingest *'s and the admin's for acme
        assertEquals(3, admin.get("/v1/budgets/acme").json().get("open_reservations").asInt(), "the held one was released");
        assertEquals(2, admin.get("/v1/budgets/globex").json().get("open_reservations").asInt());
        assertNoKeyMaterial();
    }

    @Test
    void missingMalformedAndUnknownKeysAre401AndNeverEchoed() throws Exception
    {
        start(Map.of());
        final String admin = keys.secret("admin");
        final String oneCharOff = admin.substring(0, admin.length() - 1) + (admin.endsWith("A") ? "B" : "A");
        final Map<String, String> refused = new LinkedHashMap<>();
        refused.put("Basic " + admin, "must be 'Bearer KEY'");
        refused.put("Bearer", "must be 'Bearer KEY'");
        refused.put("Bearer    ", "must be 'Bearer KEY'");
        refused.put("Bearer " + admin + " extra", "must be 'Bearer KEY'");
        refused.put("Bearer " + "x".repeat(513), "must be 'Bearer KEY'");
        refused.put(admin, "must be 'Bearer KEY'");
        refused.put("Bearer " + oneCharOff, "not known");
        refused.put("Bearer " + KeyTool.sha256Hex(admin), "not known");
        for (final Map.Entry<String, String> header : refused.entrySet())
        {
            final Client.Answer answer = client.withAuthorization(header.getKey()).get("/v1/prices");
            bodies.add(answer.body());
            assertEquals(401, answer.status(), header.getKey());
            assertTrue(answer.json().get("message").asText().contains(header.getValue()), header.getKey() + ": " + answer.body());
        }
        final Client.Answer none = client.get("/v1/prices");
        assertEquals(401, none.status());
        assertTrue(none.json().get("message").asText().contains("needs an API key"), none.body());
        assertEquals(401, client.get("/no/such/route").status(), "routes are not revealed without a key");
        assertEquals(404, client.withKey(admin).get("/no/such/route").status());

        assertEquals(200, client.withAuthorization("bearer " + admin).get("/v1/prices").status(), "the scheme is case-insensitive");
        assertEquals(200, client.withAuthorization("Bearer   " + admin + "  ").get("/v1/prices").status(), "spaces around the key");
        final String metrics = client.withKey(admin).get("/metrics").body();
        assertTrue(metrics.contains("tokenmeter_auth_denied_total{reason=\"malformed\"} 6.0"), metrics);
        assertTrue(metrics.contains("tokenmeter_auth_denied_total{reason=\"unknown\"} 2.0"), metrics);
        assertTrue(metrics.contains("tokenmeter_auth_denied_total{reason=\"missing\"} 2.0"), metrics);
        assertNoKeyMaterial();
    }

    @Test
    void mixedTenantsAreRefusedWholeAndNamed() throws Exception
    {
        start(Map.of());
        final StringBuilder batch = new StringBuilder("[");
        for (int i = 0; i < 20; i++)
        {
            batch.append(i == 0 ? "" : ",").append(event("mixed-" + i, i % 10 == 3 ? "t" + i : "acme"));
        }
        final Client.Answer answer = as("ingest acme").post("/v1/events", "application/json", batch.append(']').toString());
        assertEquals(403, answer.status());
        final String message = answer.json().get("message").asText();
        assertTrue(message.contains("for tenant t3, t13; ") && message.contains("nothing in this request was accepted"), message);
        final JsonNode rows = as("admin").get(usage("acme")).json().get("rows");
        assertEquals(0, rows.size(), "none of the request's acme events were counted");
        assertEquals(202, as("ingest acme").post("/v1/events", "application/json", event("mixed-0", "acme")).status());
        assertEquals(1, as("admin").get(usage("acme")).json().get("rows").get(0).get("requests").asInt());
    }

    @Test
    void aChangedKeysFileIsInForceWithoutRestartAndABadOneKeepsTheOldKeys() throws Exception
    {
        start(Map.of("keys-poll", "100ms"));
        final Client oldKey = as("read *");
        assertEquals(200, oldKey.get(usage("acme")).status());

        keys.add("late-reader", "read", "globex");
        keys.write(dir.resolve("keys.yaml"), "admin", "late-reader");
        final Client newKey = client.withKey(keys.secret("late-reader"));
        assertTrue(eventually(() -> newKey.get(usage("globex")).status() == 200), "the new key works");
        assertEquals(401, oldKey.get(usage("acme")).status(), "the removed key is refused on its open connection");
        assertEquals(403, newKey.get(usage("acme")).status(), "the new key's tenants apply");

        KeyFixture.writeText(dir.resolve("keys.yaml"), "keys:\n  - name: broken\n    role: superuser\n");
        final Client admin = as("admin");
        assertTrue(eventually(() -> admin.get("/metrics").body().contains("tokenmeter_keys_reloads_total{result=\"failed\"} 1.0")),
            "the bad file is noticed");
        assertEquals(200, newKey.get(usage("globex")).status(), "the keys in force stay");
        assertTrue(log.text().contains("keys[0].role: must be ingest, read or admin"), "the log names the problem");
        assertTrue(log.text().contains("the previous keys stay in force"));
        assertNoKeyMaterial();
    }

    @Test
    void metricsCanBeOpenWhileEverythingElseNeedsAKey() throws Exception
    {
        start(Map.of("metrics-access", "open"));
        final Client.Answer metrics = client.get("/metrics");
        assertEquals(200, metrics.status());
        assertTrue(metrics.body().contains("tokenmeter_keys 5.0"), "five keys in force");
        assertEquals(401, client.get(usage("acme")).status());
        assertEquals(401, client.get("/v1/prices").status());
    }

    @Test
    void anInvalidKeysFileStopsTheStartWithEveryProblem() throws Exception
    {
        final Path file = KeyFixture.writeText(dir.resolve("bad-keys.yaml"), "keys:\n"
            + "  - name: a\n    sha256: \"" + "ab".repeat(32) + "\"\n    role: read\n    tenant: [acme]\n"
            + "  - name: b\n    sha256: " + keys.secret("admin") + "\n    role: admin\n    tenants: [acme]\n");
        final Exception failure = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
            () -> TestServer.start(dir, Map.of("data-dir", dir.resolve("data").toString(), "keys", file.toString())));
        final String message = failure.getMessage();
        assertTrue(message.contains("keys[0].tenant: not a field of a key"), message);
        assertTrue(message.contains("keys[0].tenants: is required"), message);
        assertTrue(message.contains("keys[1].sha256: must be the 64 hex digits"), message);
        assertTrue(message.contains("keys[1].tenants: an admin key acts for every tenant"), message);
        assertEquals(List.of(), keys.keyMaterialIn(message), "the message does not quote the key put where its hash belongs");
    }

    @Test
    void theAuditComparesDraftsWithAKeyFromAFile() throws Exception
    {
        start(Map.of());
        assertEquals(202, as("ingest acme").post("/v1/events", "application/json", event("audited", "acme")).status());
        final List<String> args = List.of("audit", "--data-dir", dir.resolve("data").toString(), "--period", PERIOD,
            "--server", "http://127.0.0.1:" + server.port());
        final java.io.PrintStream out = System.out;
        final java.io.PrintStream err = System.err;
        final java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        System.setErr(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        try
        {
            final picocli.CommandLine cli = new picocli.CommandLine(new io.tokenmeter.server.Main());
            assertEquals(2, cli.execute(args.toArray(String[]::new)), "without a key the server refuses the audit");
            final Path keyFile = Files.writeString(dir.resolve("finance.key"), keys.secret("read-all") + "\n");
            final List<String> withKey = new ArrayList<>(args);
            withKey.addAll(List.of("--key-file", keyFile.toString()));
            assertEquals(0, cli.execute(withKey.toArray(String[]::new)), "with a read key for every tenant it audits");
        }
        finally
        {
            System.setOut(out);
            System.setErr(err);
        }
        final String output = printed.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(output.contains("answered 401") && output.contains("audit clean: 1 invoice(s)"), output);
        bodies.add(output);
        assertNoKeyMaterial();
    }

    private void assertNoKeyMaterial()
    {
        final List<String> inBodies = new ArrayList<>();
        bodies.forEach(body -> inBodies.addAll(keys.keyMaterialIn(body)));
        assertEquals(List.of(), inBodies, "no answer holds key material");
        final String logText = log.text();
        assertFalse(logText.isEmpty(), "the log was captured");
        assertEquals(List.of(), keys.keyMaterialIn(logText), "the log holds no key material");
    }

    private static boolean eventually(final java.util.function.BooleanSupplier condition)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until)
        {
            if (condition.getAsBoolean())
            {
                return true;
            }
            LockSupport.parkNanos(50_000_000);
        }
        return false;
    }
}
