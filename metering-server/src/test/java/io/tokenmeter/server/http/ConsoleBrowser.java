package io.tokenmeter.server.http;

import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Debian's headless chromium driven through chromium-driver, for the console's browser tests: where the programs are,
 * the skip-or-fail rule (skipped without them locally, required with {@code CI=true}, as for Prometheus), bounded
 * timeouts, downloads into a folder, screenshots under {@code target/console-screenshots/}, and the browser's log.
 */
final class ConsoleBrowser implements AutoCloseable
{
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SCREENSHOTS = Path.of("target", "console-screenshots");
    static final Dimension DESKTOP = new Dimension(1280, 800);
    static final Dimension PHONE = new Dimension(390, 844);
    private static final Duration WAIT = Duration.ofSeconds(20);

    final WebDriver driver;
    private final Path downloads;
    private final String base;
    private final List<String> logSeen = new ArrayList<>();
    private int loads;

    /** Skips the calling test class without chromium and chromium-driver; fails it instead in CI. */
    static void requireInstalled()
    {
        final boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if ("true".equals(System.getenv("CI")))
        {
            assertTrue(installed, "CI installs chromium and chromium-driver from Debian's packages: see .ci/run");
        }
        assumeTrue(installed, "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver); "
            + "CI runs these tests");
    }

    /** @param base the server's address, e.g. http://127.0.0.1:PORT */
    ConsoleBrowser(final String base, final Path downloads) throws IOException
    {
        this.base = base;
        this.downloads = Files.createDirectories(downloads);
        final ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--window-size=" + DESKTOP.width + "," + DESKTOP.height, "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync", "--lang=en-US");
        options.setExperimentalOption("prefs", Map.of("download.default_directory", this.downloads.toAbsolutePath().toString(),
            "download.prompt_for_download", false, "download.directory_upgrade", true, "safebrowsing.enabled", false));
        final LoggingPreferences logging = new LoggingPreferences();
        logging.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logging);
        final ChromeDriverService service = new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30)).scriptTimeout(Duration.ofSeconds(10))
            .implicitlyWait(Duration.ZERO);
        driver.manage().window().setSize(DESKTOP);
    }

    /**
     * Loads the console afresh at a deep link ("#/usage?tenant=acme") and waits until its page has shown what it
     * fetched. A new query string each time makes it a new document, so every load starts the console from scratch
     * (the tab's session storage, and so the key, stays).
     */
    void open(final String hash)
    {
        loads++;
        driver.get(base + "/console/?load=" + loads + hash);
        waitReady();
    }

    /** Waits until the page on screen has finished rendering what it fetched. */
    void waitReady()
    {
        waitFor(() -> Boolean.TRUE.equals(js("const m = document.getElementById('main');"
            + " return m !== null && m.getAttribute('data-ready') === 'true';")), "the page to finish loading");
    }

    /** Types a key into the key form, forgetting the key in use first. */
    void useKey(final String key)
    {
        open("#/prices?model=no-such-model");
        final List<WebElement> forget = driver.findElements(By.id("key-forget"));
        if (!forget.isEmpty())
        {
            forget.get(0).click();
        }
        final WebElement input = waitFor(() -> first(By.id("key-input")), "the key form");
        input.clear();
        input.sendKeys(key);
        driver.findElement(By.id("key-use")).click();
        waitFor(() -> first(By.id("key-forget")), "the key to be in use");
        waitReady();
    }

    WebElement first(final By by)
    {
        final List<WebElement> found = driver.findElements(by);
        return found.isEmpty() ? null : found.get(0);
    }

    /** @return the text of the element, once it is there (read again when the page redrew it meanwhile). */
    String text(final By by)
    {
        return waitFor(() -> unlessRedrawn(() ->
        {
            final WebElement element = first(by);
            return element == null ? null : element.getText();
        }), "element " + by);
    }

    /** @return what {@code read} returns, or null when the page replaced an element while it was being read. */
    private static <T> T unlessRedrawn(final Supplier<T> read)
    {
        try
        {
            return read.get();
        }
        catch (final StaleElementReferenceException redrawn)
        {
            return null;
        }
    }

    /** Waits up to 20 s for a non-null, non-false value. */
    <T> T waitFor(final Supplier<T> condition, final String what)
    {
        return new WebDriverWait(driver, WAIT).withMessage(() -> "waited 20 s for " + what)
            .until(d ->
            {
                final T value = condition.get();
                return Boolean.FALSE.equals(value) ? null : value;
            });
    }

    void waitVisible(final By by)
    {
        new WebDriverWait(driver, WAIT).until(ExpectedConditions.visibilityOfElementLocated(by));
    }

    Object js(final String script, final Object... args)
    {
        return ((JavascriptExecutor)driver).executeScript(script, args);
    }

    /** @return the text of each cell of a table's body rows, read whole between two redraws of the page. */
    List<List<String>> bodyCells(final By table)
    {
        return waitFor(() -> unlessRedrawn(() -> readBodyCells(table)), "the cells of " + table);
    }

    /**
     * Reads every cell in one script instead of a WebDriver call per cell (the prices page's test took 27 s that
     * way): each cell's rendered text as {@code getText()} gives it, trimmed, no-break spaces as spaces, and
     * empty for a cell that is not rendered.
     */
    private List<List<String>> readBodyCells(final By table)
    {
        final Object read = js("return Array.from(arguments[0].querySelectorAll('tbody tr')).map(r =>"
            + " Array.from(r.querySelectorAll('td')).map(c => c.getClientRects().length === 0 ? ''"
            + " : c.innerText.replace(/\\u00a0/g, ' ').trim()));", driver.findElement(table));
        final List<List<String>> rows = new ArrayList<>();
        for (final Object row : (List<?>)read)
        {
            final List<String> cells = new ArrayList<>();
            for (final Object cell : (List<?>)row)
            {
                cells.add((String)cell);
            }
            rows.add(cells);
        }
        return rows;
    }

    /** @return the data-column names of a table's header. */
    List<String> columns(final By table)
    {
        return waitFor(() -> unlessRedrawn(() -> readColumns(table)), "the columns of " + table);
    }

    private List<String> readColumns(final By table)
    {
        final List<String> columns = new ArrayList<>();
        for (final WebElement th : driver.findElement(table).findElements(By.cssSelector("thead th")))
        {
            columns.add(th.getAttribute("data-column"));
        }
        return columns;
    }

    /** @return the bytes of a downloaded file once it is complete (Chrome writes a .crdownload first). */
    String downloaded(final String fileName) throws IOException
    {
        final Path file = downloads.resolve(fileName);
        waitFor(() -> Files.isRegularFile(file) && !Files.exists(downloads.resolve(fileName + ".crdownload")),
            "the download " + file);
        return Files.readString(file);
    }

    /** Deletes earlier downloads of this name (Chrome would add " (1)" to a second one). */
    void clearDownload(final String fileName) throws IOException
    {
        Files.deleteIfExists(downloads.resolve(fileName));
    }

    /**
     * Writes a screenshot of the page at 1280x800 and at a phone's 390x844, for a person to look at, and checks that
     * at phone width nothing but the tables' own scrolling boxes is wider than the window.
     */
    void screenshots(final String name) throws IOException
    {
        Files.createDirectories(SCREENSHOTS);
        Files.write(SCREENSHOTS.resolve(name + "-1280x800.png"), ((org.openqa.selenium.TakesScreenshot)driver)
            .getScreenshotAs(OutputType.BYTES));
        driver.manage().window().setSize(PHONE);
        try
        {
            waitFor(() -> ((Number)js("return window.innerWidth;")).intValue() <= PHONE.width, "the phone-width window");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(300));
            final long overflow = ((Number)js("return document.documentElement.scrollWidth - window.innerWidth;")).longValue();
            assertTrue(overflow <= 1, name + ": the page is " + overflow + " px wider than a phone's window");
            Files.write(SCREENSHOTS.resolve(name + "-390x844.png"), ((org.openqa.selenium.TakesScreenshot)driver)
                .getScreenshotAs(OutputType.BYTES));
        }
        finally
        {
            driver.manage().window().setSize(DESKTOP);
        }
    }

    /**
     * @return the browser log's lines since the last call that tell of a broken page: a script error, a module that
     *     did not load, or anything the content security policy blocked. Refused API calls (401, 403, 409) are logged
     *     by the browser too and are expected, so they are not among them.
     */
    List<String> pageProblems()
    {
        final List<String> problems = new ArrayList<>();
        for (final LogEntry entry : driver.manage().logs().get(LogType.BROWSER))
        {
            final String message = entry.getMessage();
            logSeen.add(message);
            final boolean refusedCall = message.contains("the server responded with a status of 40")
                && (message.contains("/v1/") || message.contains("/metrics"));
            if (entry.getLevel().intValue() >= Level.WARNING.intValue() && !refusedCall
                || message.contains("Content Security Policy") || message.contains("Uncaught"))
            {
                problems.add(message);
            }
        }
        return problems;
    }

    /** @return every browser log line read so far by {@link #pageProblems()}. */
    List<String> logSeen()
    {
        return List.copyOf(logSeen);
    }

    @Override
    public void close()
    {
        driver.quit();
    }
}
