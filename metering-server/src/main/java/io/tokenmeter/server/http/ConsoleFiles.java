package io.tokenmeter.server.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * The web console's static files (SPEC section 14, docs/console.md), read from the classpath once at start and kept in
 * memory (about 200 KiB): the console's own files under {@code console/}, and uPlot, the chart library, from its WebJar
 * ({@code org.webjars.npm:uplot}) under {@code /console/vendor/uplot/}.
 *
 * <p>A request names a file by its exact path, as sent; the path is only ever a key of this table, never resolved against
 * a folder, so no path ({@code ..}, encoded or not) reaches anything but these files.
 *
 * <p>Immutable once loaded; shared by every event loop.
 */
final class ConsoleFiles
{
    /** Where the console starts. */
    static final String ROOT = "/console/";
    /** The console's own files under {@code console/} on the classpath; ConsoleFilesTest checks it matches the folder. */
    static final List<String> OWN_FILES = List.of(
        "index.html",
        "console.css",
        "favicon.svg",
        "js/app.js",
        "js/api.js",
        "js/dom.js",
        "js/format.js",
        "js/csv.js",
        "js/chart.js",
        "js/prometheus.js",
        "js/pages/usage.js",
        "js/pages/invoices.js",
        "js/pages/credits.js",
        "js/pages/budgets.js",
        "js/pages/prices.js",
        "js/pages/operations.js");
    /** The WebJar's files the console uses: served path below {@code vendor/uplot/}, then the path inside the WebJar. */
    private static final Map<String, String> UPLOT_FILES = Map.of(
        "uPlot.esm.js", "dist/uPlot.esm.js",
        "uPlot.min.css", "dist/uPlot.min.css",
        "LICENSE", "LICENSE");
    private static final String UPLOT_POM = "META-INF/maven/org.webjars.npm/uplot/pom.properties";

    /** One file: its bytes, content type and strong entity tag. */
    record Asset(byte[] body, String contentType, String etag)
    {
    }

    private final Map<String, Asset> byPath;

    private ConsoleFiles(final Map<String, Asset> byPath)
    {
        this.byPath = Map.copyOf(byPath);
    }

    /**
     * @return every console file, read now.
     * @throws IllegalStateException when a file is missing from the classpath (a broken build, named in the message).
     */
    static ConsoleFiles load()
    {
        final ClassLoader loader = ConsoleFiles.class.getClassLoader();
        final Map<String, Asset> files = new LinkedHashMap<>();
        for (final String file : OWN_FILES)
        {
            final Asset asset = asset(read(loader, "console/" + file), file);
            files.put(ROOT + file, asset);
            if (file.equals("index.html"))
            {
                files.put(ROOT, asset);
            }
        }
        final String webjar = "META-INF/resources/webjars/uplot/" + uplotVersion(loader) + "/";
        for (final Map.Entry<String, String> file : UPLOT_FILES.entrySet())
        {
            files.put(ROOT + "vendor/uplot/" + file.getKey(), asset(read(loader, webjar + file.getValue()), file.getKey()));
        }
        return new ConsoleFiles(files);
    }

    /** @return the file at this raw path (no query), or null when there is none. */
    Asset find(final String rawPath)
    {
        return byPath.get(rawPath);
    }

    private static String uplotVersion(final ClassLoader loader)
    {
        final Properties pom = new Properties();
        try (InputStream in = new java.io.ByteArrayInputStream(read(loader, UPLOT_POM)))
        {
            pom.load(in);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        final String version = pom.getProperty("version");
        if (version == null || !version.matches("[0-9A-Za-z.+-]{1,40}"))
        {
            throw new IllegalStateException(UPLOT_POM + " names no version; rebuild the jar with the org.webjars.npm:uplot WebJar");
        }
        return version;
    }

    private static byte[] read(final ClassLoader loader, final String resource)
    {
        try (InputStream in = loader.getResourceAsStream(resource))
        {
            if (in == null)
            {
                throw new IllegalStateException("the console file " + resource + " is missing from the classpath; rebuild the jar");
            }
            return in.readAllBytes();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("the console file " + resource + " cannot be read", ex);
        }
    }

    private static Asset asset(final byte[] body, final String name)
    {
        return new Asset(body, contentType(name), etag(body));
    }

    static String contentType(final String name)
    {
        final String lower = name.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".html"))
        {
            return "text/html; charset=utf-8";
        }
        if (lower.endsWith(".js"))
        {
            return "text/javascript; charset=utf-8";
        }
        if (lower.endsWith(".css"))
        {
            return "text/css; charset=utf-8";
        }
        if (lower.endsWith(".svg"))
        {
            return "image/svg+xml";
        }
        return "text/plain; charset=utf-8";
    }

    private static String etag(final byte[] body)
    {
        try
        {
            final byte[] hash = MessageDigest.getInstance("SHA-256").digest(body);
            return '"' + HexFormat.of().formatHex(hash, 0, 12) + '"';
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** @return whether an {@code If-None-Match} header names this tag (or {@code *}); weak tags compare by their value. */
    static boolean matches(final String ifNoneMatch, final String etag)
    {
        if (ifNoneMatch == null)
        {
            return false;
        }
        for (final String part : ifNoneMatch.split(","))
        {
            final String tag = part.trim();
            if (tag.equals("*") || tag.equals(etag) || tag.startsWith("W/") && tag.substring(2).equals(etag))
            {
                return true;
            }
        }
        return false;
    }
}
