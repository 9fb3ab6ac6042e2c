package io.tokenmeter.server.auth;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeysFileTest
{
    private static KeyRing parse(final String yaml) throws KeysFileException
    {
        return KeysFile.parse(yaml.getBytes(StandardCharsets.UTF_8), "test.yaml");
    }

    private static List<String> problems(final String yaml)
    {
        return assertThrows(KeysFileException.class, () -> parse(yaml)).problems();
    }

    @Test
    void readsTheSpecFormatAndFindsEachKeyByItsSecret() throws Exception
    {
        final String gateway = KeyTool.newSecret();
        final String finance = KeyTool.newSecret();
        final KeyRing ring = parse("keys:\n"
            + "  - name: gateway-eu          # shown in logs\n"
            + "    sha256: " + KeyTool.sha256Hex(gateway).toUpperCase() + "\n"
            + "    role: ingest\n"
            + "    tenants: [\"acme\", \"globex\"]\n"
            + KeyTool.entry("finance", "read", List.of("*"), KeyTool.sha256Hex(finance))
            + "  - name: ops\n    sha256: " + "0f".repeat(32) + "\n    role: admin\n");
        assertEquals(3, ring.keys().size());
        final ApiKey gw = ring.authenticate("Bearer " + gateway);
        assertEquals("gateway-eu", gw.name());
        assertEquals(Role.INGEST, gw.role());
        assertTrue(gw.actsFor("acme") && gw.actsFor("globex") && !gw.actsFor("initech"));
        assertFalse(gw.allTenants() || gw.mayRead());
        final ApiKey fin = ring.authenticate("Bearer " + finance);
        assertTrue(fin.mayReadAllTenants() && fin.actsFor("anyone") && !fin.mayIngest() && !fin.isAdmin());
        final ApiKey ops = ring.keys().get(2);
        assertTrue(ops.isAdmin() && ops.allTenants() && ops.mayIngest() && ops.mayReadAllTenants());
        assertEquals(List.of("*"), ops.tenants(), "an admin key without tenants acts for every tenant");
        assertNull(ring.authenticate("Bearer " + KeyTool.newSecret()));
    }

    @Test
    void tenantsAreMatchedOnRawBytesAsOnStrings() throws Exception
    {
        final ApiKey key = parse("keys:\n" + KeyTool.entry("k", "ingest", List.of("acme", "acme-eu"), "ab".repeat(32))).keys().get(0);
        final byte[] bytes = "xxacme-eu acme acm acmeX".getBytes(StandardCharsets.US_ASCII);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        assertTrue(key.actsFor(buffer, 2, 7));
        assertTrue(key.actsFor(buffer, 10, 4));
        assertFalse(key.actsFor(buffer, 15, 3));
        assertFalse(key.actsFor(buffer, 19, 5));
    }

    @Test
    void onlyWellFormedBearerHeadersCarryAKey()
    {
        assertEquals("tm_abc", KeyRing.bearerToken("Bearer tm_abc"));
        assertEquals("tm_abc", KeyRing.bearerToken("bEaReR   tm_abc  "));
        assertNull(KeyRing.bearerToken(null));
        assertNull(KeyRing.bearerToken("Bearer"));
        assertNull(KeyRing.bearerToken("Bearer "));
        assertNull(KeyRing.bearerToken("Basic dXNlcjpwYXNz"));
        assertNull(KeyRing.bearerToken("Bearer a b"));
        assertNull(KeyRing.bearerToken("Bearer caf\u00e9"));
        assertNull(KeyRing.bearerToken("Bearer tab\there"));
        assertNull(KeyRing.bearerToken("Bearer " + "k".repeat(KeyRing.MAX_KEY_LENGTH + 1)));
        assertEquals(KeyRing.MAX_KEY_LENGTH, KeyRing.bearerToken("Bearer " + "k".repeat(KeyRing.MAX_KEY_LENGTH)).length());
        assertSame(KeyRing.Refusal.MISSING, KeyRing.refusal(null));
        assertSame(KeyRing.Refusal.MALFORMED, KeyRing.refusal("Token abc"));
        assertSame(KeyRing.Refusal.UNKNOWN, KeyRing.refusal("Bearer abc"));
    }

    @Test
    void everyProblemIsNamedByEntryAndField()
    {
        final String hash = "ab".repeat(32);
        final List<String> found = problems("keys:\n"
            + "  - name: a\n    sha256: " + hash + "\n    role: reader\n    tenants: [acme]\n"
            + "  - name: b c\n    sha256: abc\n    role: read\n    tenants: []\n"
            + "  - name: d\n    sha256: " + hash.replace('a', 'c') + "\n    role: ingest\n    tenants: [\"*\", acme]\n    tenant: x\n"
            + "  - name: a\n    sha256: " + hash + "\n    role: read\n    tenants: [\"bad tenant\"]\n"
            + "  - name: e\n    sha256: " + hash.replace('a', 'e') + "\n    role: admin\n    tenants: [acme]\n"
            + "  - name: f\n    role: ingest\n    tenants: [acme]\n"
            + "  - just a string\n"
            + "extra: 1\n");
        final List<String> expected = List.of(
            "'extra' is not a field of the keys file",
            "keys[0].role: must be ingest, read or admin",
            "keys[1].name: must be 1 to 64 letters",
            "keys[1].sha256: must be the 64 hex digits",
            "keys[1].tenants: must be a non-empty list",
            "keys[2].tenant: not a field of a key",
            "keys[2].tenants: \"*\" already means every tenant",
            "keys[3].tenants[0]: must be a tenant name",
            "keys[4].tenants: an admin key acts for every tenant",
            "keys[5].sha256: is required",
            "keys[6]: must be a mapping");
        for (final String problem : expected)
        {
            assertTrue(found.stream().anyMatch(p -> p.startsWith(problem)), problem + " in " + found);
        }
        assertEquals(expected.size(), found.size(), found.toString());
    }

    @Test
    void repeatedNamesAndKeysAreRefused()
    {
        final String hash = "ab".repeat(32);
        final List<String> found = problems("keys:\n" + KeyTool.entry("a", "read", List.of("x"), hash)
            + KeyTool.entry("a", "read", List.of("y"), "cd".repeat(32)) + KeyTool.entry("b", "read", List.of("z"), hash.toUpperCase()));
        assertEquals(List.of("keys[1].name: 'a' is used by an earlier entry; names must be unique",
            "keys[2].sha256: the same key is already given by an earlier entry"), found);
    }

    @Test
    void problemsNeverQuoteAKeyOrTheFilesLines()
    {
        final String secret = KeyTool.newSecret();
        final List<String> wrongPlace = problems("keys:\n  - name: a\n    sha256: " + secret + "\n    role: admin\n");
        assertEquals(1, wrongPlace.size());
        assertFalse(wrongPlace.get(0).contains(secret.substring(3, 20)), wrongPlace.get(0));
        final List<String> badYaml = problems("keys:\n  - name: a\n    sha256: \"" + secret + "\n    role: [admin\n");
        assertEquals(1, badYaml.size());
        assertTrue(badYaml.get(0).startsWith("not valid YAML near line"), badYaml.get(0));
        assertFalse(badYaml.get(0).contains(secret.substring(3, 20)), badYaml.get(0));
    }

    @Test
    void anEmptyListIsValidAndLetsNoOneIn() throws Exception
    {
        assertEquals(0, parse("keys:\n").keys().size());
        assertEquals(0, parse("keys: []\n").keys().size());
        assertEquals(List.of("must be a mapping with a 'keys' list"), problems("- name: a\n"));
    }

    @Test
    void newKeysAreRandomAndTheirEntriesRoundTrip() throws Exception
    {
        final Set<String> secrets = new HashSet<>();
        for (int i = 0; i < 100; i++)
        {
            final String secret = KeyTool.newSecret();
            assertTrue(secret.matches("tm_[A-Za-z0-9_-]{43}"), secret);
            secrets.add(secret);
        }
        assertEquals(100, secrets.size());
        final KeyTool.NewKey made = KeyTool.create("gw", "ingest", List.of("acme"));
        assertFalse(made.toString().contains(made.secret()), "toString hides the secret");
        final ApiKey key = parse("keys:\n" + made.yamlEntry()).authenticate("Bearer " + made.secret());
        assertEquals("gw", key.name());
        assertEquals(List.of("acme"), key.tenants());
        assertThrows(KeysFileException.class, () -> KeyTool.create("gw", "ingest", List.of()));
        assertThrows(KeysFileException.class, () -> KeyTool.create("gw\"\n    role: admin", "read", List.of("acme")));
    }
}
