package io.tokenmeter.server.http;

import io.tokenmeter.server.TokenmeterServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The console's static files through real HTTP on a server with keys: served without a key, with their types, a
 * content security policy, nosniff and revalidation headers, 304 on an unchanged entity tag, and nothing outside the
 * console's own files whatever the path (dot segments, encoded or not). Also checks the files themselves: every file
 * of the folder is served, no inline script or style, nothing loaded from elsewhere, every module import resolves.
 */
class ConsoleFilesTest
{
    private static final Path FOLDER = Path.of("src", "main", "resources", "console");
    private static final String UPLOT_JAR_PATH = "META-INF/resources/webjars/uplot/";

    @TempDir
    static Path dir;

    private static final KeyFixture KEYS = new KeyFixture().add("finance", "read", "*");
    private static TokenmeterServer server;
    private static Client client;

    @BeforeAll
    static void start() throws Exception
    {
        server = TestServer.start(dir.resolve("data"), Map.of("keys", KEYS.write(dir.resolve("keys.yaml")).toString()));
        client = new Client(server.port());
    }

    @AfterAll
    static void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    @Test
    void everyFileOfTheFolderIsListedAndServedWithoutAKey() throws IOException
    {
        final TreeSet<String> inFolder = new TreeSet<>();
        try (Stream<Path> files = Files.walk(FOLDER))
        {
            files.filter(Files::isRegularFile).forEach(f -> inFolder.add(FOLDER.relativize(f).toString().replace('\\', '/')));
        }
        assertEquals(inFolder, new TreeSet<>(ConsoleFiles.OWN_FILES), "ConsoleFiles.OWN_FILES lists the console folder");
        for (final String file : ConsoleFiles.OWN_FILES)
        {
            final Client.Answer answer = client.get("/console/" + file);
            assertEquals(200, answer.status(), file);
            assertEquals(Files.readString(FOLDER.resolve(file)), answer.body(), file + " is served as it is in the folder");
            assertEquals(ConsoleFiles.contentType(file), header(answer, "content-type"), file);
        }
        final Client.Answer index = client.get("/console/");
        assertEquals(200, index.status());
        assertEquals("text/html; charset=utf-8", header(index, "content-type"));
        assertEquals(Files.readString(FOLDER.resolve("index.html")), index.body());
    }

    @Test
    void consoleAnswersCarryTheSecurityAndCacheHeaders()
    {
        for (final String path : List.of("/console/", "/console/js/app.js", "/console/console.css",
            "/console/vendor/uplot/uPlot.esm.js", "/console/vendor/uplot/uPlot.min.css", "/console/nothing-here.js", "/console"))
        {
            final Client.Answer answer = client.get(path);
            assertEquals("default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
                header(answer, "content-security-policy"), path);
            assertEquals("nosniff", header(answer, "x-content-type-options"), path);
            assertEquals("DENY", header(answer, "x-frame-options"), path);
            assertEquals("no-referrer", header(answer, "referrer-policy"), path);
            if (answer.status() == 200)
            {
                assertEquals("no-cache", header(answer, "cache-control"), path);
                assertTrue(header(answer, "etag").matches("\"[0-9a-f]{24}\""), path + ": " + header(answer, "etag"));
            }
        }
        assertEquals("text/javascript; charset=utf-8", header(client.get("/console/vendor/uplot/uPlot.esm.js"), "content-type"));
        assertEquals("text/css; charset=utf-8", header(client.get("/console/vendor/uplot/uPlot.min.css"), "content-type"));
        assertEquals("image/svg+xml", header(client.get("/console/favicon.svg"), "content-type"));
    }

    @Test
    void anUnchangedFileIsAnswered304AndAChangedTag200()
    {
        final Client.Answer first = client.get("/console/js/api.js");
        final String etag = header(first, "etag");
        final Client.Answer again = client.get("/console/js/api.js", "If-None-Match", etag);
        assertEquals(304, again.status());
        assertEquals("", again.body());
        assertEquals(etag, header(again, "etag"));
        assertEquals("no-cache", header(again, "cache-control"));
        assertEquals(304, client.get("/console/js/api.js", "If-None-Match", "\"other\", W/" + etag).status(), "a weak tag in a list");
        final Client.Answer other = client.get("/console/js/api.js", "If-None-Match", "\"0123456789abcdef01234567\"");
        assertEquals(200, other.status());
        assertEquals(first.body(), other.body());
        assertFalse(etag.equals(header(client.get("/console/js/app.js"), "etag")), "each file has its own tag");
    }

    @Test
    void theWebJarIsServedAsItIsInTheJar() throws IOException
    {
        final ClassLoader loader = getClass().getClassLoader();
        final java.util.Properties pom = new java.util.Properties();
        try (InputStream in = loader.getResourceAsStream("META-INF/maven/org.webjars.npm/uplot/pom.properties"))
        {
            assertNotNull(in, "the uplot WebJar is on the classpath");
            pom.load(in);
        }
        try (InputStream in = loader.getResourceAsStream(UPLOT_JAR_PATH + pom.getProperty("version") + "/dist/uPlot.esm.js"))
        {
            assertNotNull(in);
            final byte[] expected = in.readAllBytes();
            final byte[] served = ConsoleFiles.load().find("/console/vendor/uplot/uPlot.esm.js").body();
            assertArrayEquals(expected, served);
        }
        assertTrue(client.get("/console/vendor/uplot/LICENSE").body().contains("MIT"), "uPlot's licence is served beside it");
    }

    @Test
    void consoleRedirectsToItsFolderAndTakesOnlyGetAndHead() throws IOException
    {
        final Client.Answer moved = client.get("/console");
        assertEquals(301, moved.status());
        assertEquals("/console/", header(moved, "location"));
        final Client.Answer post = client.post("/console/", "application/json", "{}");
        assertEquals(405, post.status(), "a known open path answers 405 without a key, not 401");
        assertEquals("GET, HEAD", header(post, "allow"));
        final Client.Answer head = client.request("HEAD", "/console/", null, null);
        assertEquals(200, head.status(), "HEAD answers the GET's head");
        assertEquals("", head.body(), "and no body");
        assertEquals(client.get("/console/").body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
            Integer.parseInt(header(head, "content-length")), "with the GET's length");
        assertTrue(header(head, "content-security-policy").startsWith("default-src 'self'"));
        assertEquals(405, client.request("PUT", "/console/js/app.js", "text/plain", "x").status());
        assertEquals(401, client.get("/consolex").status(), "only /console and below are open");
        assertEquals(401, client.get("/v1/prices").status(), "data still needs a key");
        assertEquals(200, client.withKey(KEYS.secret("finance")).get("/console/").status(), "a key is not in the way");
    }

    @Test
    void noPathReachesAnythingButTheConsoleFiles() throws IOException
    {
        final List<String> attempts = List.of(
            "/console/../v1/prices",
            "/console/../metrics",
            "/console/%2e%2e/metrics",
            "/console/%2E%2E/%2E%2E/pom.xml",
            "/console/js/..%2fapi.js",
            "/console/js/%2e%2e%2fapp.js",
            "/console/..%5c..%5cpom.xml",
            "/console//etc/passwd",
            "/console/%2Fetc%2Fpasswd",
            "/console/vendor/uplot/../../../META-INF/MANIFEST.MF",
            "/console/vendor/uplot/uPlot.cjs.js",
            "/console/vendor/uplot/README.md",
            "/console/index.html%00.js",
            "/console/./index.html",
            "/console/js/../index.html",
            "/console/io/tokenmeter/server/Main.class",
            "/console/logback.xml",
            "/console/META-INF/MANIFEST.MF",
            "/console/%69ndex.html");
        for (final String target : attempts)
        {
            final String answer = raw("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertTrue(answer.startsWith("HTTP/1.1 404 "), target + " -> " + firstLine(answer));
            assertTrue(answer.contains("\"error\":\"not_found\""), target);
            assertFalse(answer.contains("\"revision\"") || answer.contains("tokenmeter_") || answer.contains("<project")
                || answer.contains("root:"), target + " leaked: " + answer);
        }
        final String absolute = raw("GET http://127.0.0.1/console/../metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assertTrue(absolute.startsWith("HTTP/1.1 404 "), firstLine(absolute));
    }

    @Test
    void theFilesHoldNoInlineScriptOrStyleAndLoadNothingFromElsewhere() throws IOException
    {
        final String index = Files.readString(FOLDER.resolve("index.html"));
        final Matcher scripts = Pattern.compile("<script([^>]*)>(.*?)</script>", Pattern.DOTALL).matcher(index);
        int count = 0;
        while (scripts.find())
        {
            count++;
            assertTrue(scripts.group(1).contains("src=\""), "every script has a src: " + scripts.group());
            assertEquals("", scripts.group(2).trim(), "no inline script");
        }
        assertEquals(1, count, "index.html loads one module");
        assertFalse(index.contains("<style"), "no inline style element");
        for (final String file : ConsoleFiles.OWN_FILES)
        {
            final String text = Files.readString(FOLDER.resolve(file));
            if (file.endsWith(".html"))
            {
                assertFalse(Pattern.compile("\\son[a-z]+\\s*=").matcher(text).find(), file + ": no inline event handler");
            }
            assertFalse(Pattern.compile("\\sstyle\\s*=").matcher(text).find(), file + ": no style attribute");
            assertFalse(text.contains("innerHTML") || text.contains("outerHTML") || text.contains("insertAdjacentHTML")
                || text.contains("document.write") || text.contains("eval(") || text.contains("new Function"),
                file + ": no markup from strings, no eval");
            final String withoutSvgNamespace = text.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assertFalse(withoutSvgNamespace.contains("http://") || withoutSvgNamespace.contains("https://")
                || withoutSvgNamespace.contains("src=\"//") || withoutSvgNamespace.contains("href=\"//"),
                file + ": names nothing on another server");
            assertFalse(text.contains("localStorage") || text.contains("document.cookie"), file + ": the key lives in session storage only");
        }
    }

    @Test
    void everyModuleImportAndLinkResolvesToAServedFile() throws IOException
    {
        final ConsoleFiles files = ConsoleFiles.load();
        final Pattern imports = Pattern.compile("(?m)^import\\b[^;]*?\\bfrom\\s+['\"]([^'\"]+)['\"]");
        final Pattern links = Pattern.compile("(?:src|href)=\"([^\"#][^\"]*)\"");
        final List<String> checked = new ArrayList<>();
        for (final String file : ConsoleFiles.OWN_FILES)
        {
            final String text = Files.readString(FOLDER.resolve(file));
            final Matcher m = (file.endsWith(".js") ? imports : links).matcher(text);
            while (m.find())
            {
                final String target = m.group(1);
                assertTrue(target.startsWith("./") || target.startsWith("../") || !target.contains(":") && !target.startsWith("/"),
                    file + " refers to " + target + ": only relative paths inside the console");
                final String resolved = java.net.URI.create("http://x" + ConsoleFiles.ROOT + file).resolve(target).getPath();
                assertNotNull(files.find(resolved), file + " refers to " + target + " (" + resolved + "), which is not served");
                checked.add(resolved);
            }
        }
        assertTrue(checked.contains("/console/vendor/uplot/uPlot.esm.js"), "the chart module imports uPlot: " + checked);
        assertTrue(checked.contains("/console/js/app.js"), checked.toString());
    }

    private static String header(final Client.Answer answer, final String name)
    {
        return answer.response().headers().firstValue(name).orElse(null);
    }

    private static String firstLine(final String answer)
    {
        final int end = answer.indexOf("\r\n");
        return end < 0 ? answer : answer.substring(0, end);
    }

    private static String raw(final String request) throws IOException
    {
        try (Socket socket = new Socket("127.0.0.1", server.port()))
        {
            socket.setSoTimeout(10_000);
            final OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return RawHttp.readAnswer(socket.getInputStream());
        }
    }
}
