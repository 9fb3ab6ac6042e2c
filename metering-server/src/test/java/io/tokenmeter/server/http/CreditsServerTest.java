package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.tokenmeter.server.Main;
import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prepaid credit grants (SPEC section 11) through the whole server over real HTTP: record, draw, spend, restart, audit. */
class CreditsServerTest
{
    private static final String BOOK = "{\"currency\":\"USD\",\"models\":{"
        + "\"gpt-x*\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"2.50\",\"output\":\"10.00\"}}],"
        + "\"other\":[{\"effective_from\":\"2025-01-01T00:00:00Z\",\"per_million\":{\"input\":\"1.00\",\"output\":\"2.00\"}}]}}";
    private static final String WELCOME = "{\"id\":\"welcome\",\"amount\":\"5.00\",\"effective_at\":\"2026-11-01T00:00:00Z\","
        + "\"expires_at\":\"2026-11-15T00:00:00Z\"}";
    private static final String PROMO = "{\"id\":\"promo\",\"amount\":\"10\",\"effective_at\":\"2026-11-15T00:00:00Z\","
        + "\"expires_at\":\"2026-12-01T00:00:00Z\",\"priority\":1,\"models\":[\"gpt-x*\"]}";

    @TempDir
    Path dataDir;
    @TempDir
    Path configDir;

    private TokenmeterServer server;
    private Client client;

    private void start() throws Exception
    {
        final Path prices = configDir.resolve("prices.json");
        Files.writeString(prices, BOOK);
        server = TestServer.start(dataDir, new HashMap<>(Map.of("prices", prices.toString())));
        client = new Client(server.port());
    }

    private void restart() throws Exception
    {
        server.close();
        server = null;
        start();
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private Client.Answer grant(final String tenant, final String body)
    {
        return client.post("/v1/tenants/" + tenant + "/credits", "application/json", body);
    }

    private void post(final String id, final String tenant, final String model, final String timestamp, final long input)
    {
        final Client.Answer answer = client.post("/v1/events", "application/json", "{\"id\":\"" + id + "\",\"tenant\":\"" + tenant
            + "\",\"model\":\"" + model + "\",\"timestamp\":\"" + timestamp + "\",\"input_tokens\":" + input + "}");
        assertEquals(202, answer.status(), answer.body());
        assertEquals(1, answer.json().get("accepted").asInt(), answer.body());
    }

    /** @return each grant as "id drawn/held/remaining/expired status", in the answer's order. */
    private String balances(final String tenant)
    {
        final Client.Answer answer = client.get("/v1/tenants/" + tenant + "/credits");
        assertEquals(200, answer.status(), answer.body());
        final List<String> grants = new ArrayList<>();
        for (final JsonNode g : answer.json().get("grants"))
        {
            grants.add(g.get("id").asText() + " " + g.get("drawn").asText() + "/" + g.get("held").asText() + "/"
                + g.get("remaining").asText() + "/" + g.get("expired").asText() + " " + g.get("status").asText());
        }
        return String.join(", ", grants);
    }

    /** @return the invoice's credit lines as "grant amount", in order. */
    private String credits(final JsonNode invoice)
    {
        final List<String> lines = new ArrayList<>();
        for (final JsonNode line : invoice.get("lines"))
        {
            if (line.get("kind").asText().equals("credit"))
            {
                lines.add(line.get("grant").asText() + " " + line.get("amount").asText()
                    + (line.has("adjustment_for") ? " " + line.get("adjustment_for").asText() : ""));
            }
        }
        return String.join(", ", lines);
    }

    private JsonNode invoice(final String tenant, final String period)
    {
        final Client.Answer answer = client.get("/v1/invoices/" + tenant + "/" + period);
        assertEquals(200, answer.status(), answer.body());
        return answer.json();
    }

    private int audit(final String period, final StringBuilder output)
    {
        final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        final PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try
        {
            return new CommandLine(new Main()).execute("audit", "--data-dir", dataDir.toString(), "--period", period, "--server",
                "http://127.0.0.1:" + server.port());
        }
        finally
        {
            System.setOut(original);
            output.append(captured.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void aGrantIsRecordedOnceByIdAndAnotherBodyUnderItsIdIsAConflict() throws Exception
    {
        start();
        final Client.Answer first = grant("acme", PROMO);
        assertEquals(201, first.status(), first.body());
        final JsonNode recorded = first.json();
        assertEquals("10.00", recorded.get("amount").asText(), "at the currency's minor unit");
        assertEquals("USD", recorded.get("currency").asText());
        assertEquals("[\"gpt-x*\"]", recorded.get("models").toString());
        assertEquals(1, recorded.get("priority").asInt());
        assertEquals("2026-12-01T00:00:00Z", recorded.get("expires_at").asText());

        // the same terms, written otherwise: 200 with the grant as first recorded, nothing written again
        final Client.Answer again = grant("acme", "{\"models\":[\"gpt-x*\",\"gpt-x*\"],\"priority\":1,\"expires_at\":"
            + "\"2026-12-01T00:00:00+00:00\",\"effective_at\":\"2026-11-15T00:00:00Z\",\"amount\":\"10.00\",\"id\":\"promo\"}");
        assertEquals(200, again.status(), again.body());
        assertEquals(recorded, again.json(), "the grant as recorded, log index and time included");

        final Client.Answer conflict = grant("acme", PROMO.replace("\"10\"", "\"20.00\""));
        assertEquals(409, conflict.status(), conflict.body());
        assertEquals("credit_grant_conflict", conflict.json().get("error").asText());
        assertTrue(conflict.json().get("message").asText().contains("amount 20.00 (recorded: 10.00)"), conflict.body());
        final Client.Answer otherModels = grant("acme", PROMO.replace("[\"gpt-x*\"]", "[\"*\"]"));
        assertEquals(409, otherModels.status(), otherModels.body());
        assertTrue(otherModels.json().get("message").asText().contains("models [*] (recorded: [gpt-x*])"), otherModels.body());

        // ids are per tenant: globex may use the same one
        assertEquals(201, grant("globex", PROMO).status());
        assertEquals("promo 0.00/0.00/10.00/0.00 active", balances("acme"));
        assertEquals("promo 0.00/0.00/10.00/0.00 active", balances("globex"));
        assertEquals("", balances("initech"), "a tenant without grants has none");
    }

    @Test
    void badRequestsAreRefusedWithTheFieldAndWhatToFix() throws Exception
    {
        start();
        final Client.Answer invalid = grant("acme", "{\"id\":\"g\",\"amount\":\"5.001\",\"effective_at\":\"2026-11-01T00:30:00Z\","
            + "\"expires_at\":\"2026-10-01T00:00:00Z\",\"colour\":\"red\"}");
        assertEquals(400, invalid.status(), invalid.body());
        assertEquals("invalid_credit_grant", invalid.json().get("error").asText());
        final List<String> fields = new ArrayList<>();
        invalid.json().get("details").forEach(d -> fields.add(d.get("field").asText()));
        assertEquals(List.of("colour", "amount", "effective_at"), fields, invalid.body());
        assertTrue(invalid.json().get("message").asText().contains("amount: '5.001' has 3 decimals; USD has 2"), invalid.body());
        assertTrue(invalid.json().get("message").asText().contains("not on a whole UTC hour"), invalid.body());
        final Client.Answer order = grant("acme", WELCOME.replace("2026-11-15", "2026-10-15"));
        assertEquals(400, order.status());
        assertTrue(order.body().contains("expires_at: must be after effective_at"), order.body());

        final Client.Answer malformed = grant("acme", "{\"id\":");
        assertEquals(400, malformed.status());
        assertEquals("malformed_json", malformed.json().get("error").asText());
        assertEquals(415, client.post("/v1/tenants/acme/credits", "text/plain", WELCOME).status());
        assertEquals(400, grant("a%20b", WELCOME).status(), "a tenant name of the path is checked");
        assertEquals(400, client.get("/v1/tenants/acme/credits?period=2026-11").status(), "the route takes no parameters");
        assertEquals(405, client.request("DELETE", "/v1/tenants/acme/credits", null, null).status(), "grants are never deleted");
        assertEquals("", balances("acme"), "nothing was recorded");
    }

    @Test
    void grantsDrawOnInvoicesAreSpentWhenFinalizedSurviveARestartAndAudit() throws Exception
    {
        start();
        // the grants first, then the usage: a restart replays from the usage on, and takes the grants from the checkpoint
        assertEquals(201, grant("acme", WELCOME).status());
        assertEquals(201, grant("acme", PROMO).status());
        assertEquals(201, grant("globex", "{\"id\":\"span\",\"amount\":\"10.00\",\"effective_at\":\"2026-10-01T00:00:00Z\","
            + "\"expires_at\":\"2027-01-01T00:00:00Z\"}").status());
        // the worked example of docs/billing.md
        post("a1", "acme", "gpt-x-1", "2026-11-10T10:00:00Z", 1_234_567);
        post("a2", "acme", "gpt-x-1", "2026-11-20T10:00:00Z", 2_000_001);
        post("a3", "acme", "other", "2026-11-20T10:00:00Z", 3_000_000);
        // globex: 4.00 in October, 8.00 in November, one grant of 10.00 over both
        post("g1", "globex", "other", "2026-10-05T10:00:00Z", 4_000_000);
        post("g2", "globex", "other", "2026-11-05T10:00:00Z", 8_000_000);

        final JsonNode draft = invoice("acme", "2026-11");
        assertEquals("welcome -3.09, promo -5.00", credits(draft), draft.toString());
        assertEquals("3.00", draft.get("total").asText(), "8.09 of gpt-x-1 all covered; 3.00 of other: promo names gpt-x* only, "
            + "welcome does not reach the 20th");
        assertEquals("welcome 0.00/3.09/1.91/0.00 active, promo 0.00/5.00/5.00/0.00 active", balances("acme"),
            "in draw order: priority 0 before 1");
        assertEquals("span -4.00", credits(invoice("globex", "2026-10")));
        assertEquals("span -6.00", credits(invoice("globex", "2026-11")), "October's open draft holds 4.00 first");
        assertEquals("span 0.00/10.00/0.00/0.00 active", balances("globex"));

        final Client.Answer finalized = client.post("/v1/invoices/acme/2026-11/finalize", null, "");
        assertEquals(201, finalized.status(), finalized.body());
        assertEquals("welcome -3.09, promo -5.00", credits(finalized.json()));
        assertEquals(201, client.post("/v1/invoices/globex/2026-10/finalize", null, "").status());
        assertEquals("welcome 3.09/0.00/0.00/1.91 expired, promo 5.00/0.00/0.00/5.00 expired", balances("acme"),
            "November was the grants' last period: spent what it drew, the rest expired");
        assertEquals("span 4.00/6.00/0.00/0.00 active", balances("globex"), "October spent 4.00; November's draft holds 6.00");
        assertEquals("span -6.00", credits(invoice("globex", "2026-11")), "the next period sees what is left");

        final String acmeCredits = client.get("/v1/tenants/acme/credits").body();
        final String globexCredits = client.get("/v1/tenants/globex/credits").body();
        final String november = client.get("/v1/invoices/globex/2026-11").body();
        restart();
        assertEquals(acmeCredits, client.get("/v1/tenants/acme/credits").body(), "grants and balances survive a restart");
        assertEquals(globexCredits, client.get("/v1/tenants/globex/credits").body());
        assertEquals(Client.JSON.readTree(november).get("lines"), invoice("globex", "2026-11").get("lines"));
        assertEquals(200, grant("acme", WELCOME).status(), "the id is still known: a retry records nothing");
        assertEquals(409, grant("acme", WELCOME.replace("5.00", "6.00")).status());

        final StringBuilder clean = new StringBuilder();
        assertEquals(0, audit("2026-11", clean), clean.toString());
        assertTrue(clean.toString().contains("OK    acme 2026-11 final"), clean.toString());
        assertTrue(clean.toString().contains("OK    globex 2026-11 draft"), clean.toString());
        final StringBuilder october = new StringBuilder();
        assertEquals(0, audit("2026-10", october), october.toString());

        final Path file = dataDir.resolve("invoices/2026-11/t-acme.json");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        final String stored = Files.readString(file);
        assertTrue(stored.contains("\"amount\" : \"-3.09\""), stored);
        Files.writeString(file, stored.replace("\"amount\" : \"-3.09\"", "\"amount\" : \"-3.90\""));
        final StringBuilder tampered = new StringBuilder();
        assertEquals(1, audit("2026-11", tampered), tampered.toString());
        assertTrue(tampered.toString().contains("DIFF  acme 2026-11 final INV-000001: lines["), tampered.toString());
        assertTrue(tampered.toString().contains("\"grant\":\"welcome\""), tampered.toString());
        Files.writeString(file, stored);
    }
}
