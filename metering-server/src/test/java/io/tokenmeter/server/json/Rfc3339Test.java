package io.tokenmeter.server.json;

import org.junit.jupiter.api.Test;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class Rfc3339Test
{
    @Test
    void agreesWithJavaTimeOnRandomInstantsAndOffsets()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final DateTimeFormatter format = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        for (int i = 0; i < 20_000; i++)
        {
            final long millis = (long)(random.nextDouble() * 7_000_000_000_000L);
            final ZoneOffset offset = ZoneOffset.ofTotalSeconds((random.nextInt(49) - 24) * 1800);
            final String text = OffsetDateTime.ofInstant(java.time.Instant.ofEpochMilli(millis), offset).format(format);
            assertEquals(millis, Rfc3339.parseMillis(text), text + " seed " + seed);
        }
    }

    @Test
    void acceptsTheForms()
    {
        assertEquals(0L, Rfc3339.parseMillis("1970-01-01T00:00:00Z"));
        assertEquals(0L, Rfc3339.parseMillis("1970-01-01t00:00:00z"));
        assertEquals(123L, Rfc3339.parseMillis("1970-01-01T00:00:00.123456789Z"), "fraction truncated to ms");
        assertEquals(100L, Rfc3339.parseMillis("1970-01-01T00:00:00.1Z"));
        assertEquals(-3_600_000L, Rfc3339.parseMillis("1970-01-01T00:00:00+01:00"));
        assertEquals(951_782_400_000L, Rfc3339.parseMillis("2000-02-29T00:00:00Z"), "leap day");
    }

    @Test
    void refusesWhatIsNotRfc3339()
    {
        for (final String text : new String[] {"", "2026-11-23", "2026-11-23T10:00:00", "2026-11-23T10:00:00+0100",
            "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-23T24:00:00Z",
            "2026-11-23T10:60:00Z", "2026-11-23T10:00:60Z", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00Zjunk",
            "2026/11/23T10:00:00Z", "yesterday at noon Z"})
        {
            assertEquals(Rfc3339.INVALID, Rfc3339.parseMillis(text), text);
        }
    }
}
