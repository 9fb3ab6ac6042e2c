package io.tokenmeter.benchmarks.load;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Realistic ingest bodies, made fast enough not to be the load generator's bottleneck: a pool of request templates
 * (Zipf-distributed tenants, a model mix, varied token counts) whose event ids are fixed-width placeholders patched
 * per request. Request {@code seq} always has the same bytes, so sending a sequence number again is a retry (counted
 * as duplicates by the server). One instance per sending thread.
 */
public final class Traffic
{
    /** Hex digits of the per-request part of an id. */
    private static final int SEQ_DIGITS = 12;
    private static final int TEMPLATES = 64;
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final String[] MODELS = {"gpt-4o-2024-08-06", "gpt-4o-mini", "o4-mini", "claude-sonnet-4-5",
        "claude-haiku-4-5", "gemini-2.5-pro", "gemini-2.5-flash", "deepseek-chat", "llama-3.3-70b"};
    /** Share of traffic per model above, summing to 100. */
    private static final int[] MODEL_WEIGHTS = {30, 20, 8, 15, 7, 8, 6, 4, 2};

    private final byte[][] templates = new byte[TEMPLATES][];
    /** Per template, the offsets of each event's {@link #SEQ_DIGITS}-digit placeholder. */
    private final int[][] placeholders = new int[TEMPLATES][];
    private final int eventsPerRequest;

    /**
     * @param source     distinguishes generators (connections) so that ids never collide: 1..4 characters.
     * @param tenants    distinct tenants, drawn Zipf(s) so that a few are large and most are small.
     */
    public Traffic(final String source, final int eventsPerRequest, final int tenants, final double zipfExponent, final long seed)
    {
        this.eventsPerRequest = eventsPerRequest;
        final Random random = new Random(seed);
        final Zipf zipf = new Zipf(tenants, zipfExponent);
        for (int t = 0; t < TEMPLATES; t++)
        {
            final StringBuilder body = new StringBuilder(eventsPerRequest * 200);
            final List<Integer> marks = new ArrayList<>();
            body.append(eventsPerRequest == 1 ? "" : "[");
            for (int e = 0; e < eventsPerRequest; e++)
            {
                final long input = 50 + random.nextInt(4000);
                final long cached = random.nextInt(3) == 0 ? random.nextInt(2000) : 0;
                final long output = 10 + random.nextInt(1500);
                body.append(e == 0 ? "" : ",").append("{\"id\":\"").append(source).append('-');
                marks.add(body.length());
                body.append("0".repeat(SEQ_DIGITS)).append('-').append(e)
                    .append("\",\"tenant\":\"t").append(zipf.sample(random))
                    .append("\",\"model\":\"").append(model(random))
                    .append("\",\"input_tokens\":").append(input)
                    .append(",\"cache_read_tokens\":").append(cached)
                    .append(",\"output_tokens\":").append(output)
                    .append(",\"reasoning_tokens\":").append(random.nextInt(4) == 0 ? random.nextInt((int)output) : 0)
                    .append('}');
            }
            body.append(eventsPerRequest == 1 ? "" : "]");
            templates[t] = body.toString().getBytes(StandardCharsets.US_ASCII);
            placeholders[t] = marks.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    private static String model(final Random random)
    {
        int pick = random.nextInt(100);
        for (int i = 0; i < MODELS.length; i++)
        {
            pick -= MODEL_WEIGHTS[i];
            if (pick < 0)
            {
                return MODELS[i];
            }
        }
        return MODELS[0];
    }

    public int eventsPerRequest()
    {
        return eventsPerRequest;
    }

    /** @return the length of request {@code seq}'s body. */
    public int length(final long seq)
    {
        return templates[(int)(seq % TEMPLATES)].length;
    }

    /** Writes request {@code seq}'s body into {@code target} at {@code offset} (at least {@link #length} bytes). */
    public void write(final long seq, final byte[] target, final int offset)
    {
        final int t = (int)(seq % TEMPLATES);
        final byte[] template = templates[t];
        System.arraycopy(template, 0, target, offset, template.length);
        for (final int mark : placeholders[t])
        {
            long value = seq;
            for (int d = SEQ_DIGITS - 1; d >= 0; d--)
            {
                target[offset + mark + d] = HEX[(int)(value & 0xF)];
                value >>>= 4;
            }
        }
    }

    /** Zipf sampling over 1..n by inverting a precomputed cumulative distribution. */
    static final class Zipf
    {
        private final double[] cumulative;

        Zipf(final int n, final double exponent)
        {
            cumulative = new double[n];
            double sum = 0;
            for (int k = 1; k <= n; k++)
            {
                sum += 1.0 / Math.pow(k, exponent);
                cumulative[k - 1] = sum;
            }
            for (int k = 0; k < n; k++)
            {
                cumulative[k] /= sum;
            }
        }

        int sample(final Random random)
        {
            final int at = java.util.Arrays.binarySearch(cumulative, random.nextDouble());
            return (at >= 0 ? at : -at - 1) + 1;
        }
    }
}
