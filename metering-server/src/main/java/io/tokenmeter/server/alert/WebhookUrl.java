package io.tokenmeter.server.alert;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * The rule for a budget's webhook URL, in one place for the budget API (which refuses a bad one) and the sender (which
 * never posts to one): an absolute {@code http} or {@code https} URL with a host, loopback included, without user
 * info or fragment, at most {@link #MAX_LENGTH} characters. Stateless.
 */
public final class WebhookUrl
{
    /** Longest webhook URL accepted. */
    public static final int MAX_LENGTH = 2048;

    private WebhookUrl()
    {
    }

    /** @return what is wrong with {@code url} as a webhook, said so that its writer can fix it; null when it is fine. */
    public static String problem(final String url)
    {
        if (url == null || url.isEmpty())
        {
            return "must be an http or https URL, e.g. https://alerts.example.com/tokenmeter";
        }
        if (url.length() > MAX_LENGTH)
        {
            return "must be at most " + MAX_LENGTH + " characters";
        }
        final URI uri;
        try
        {
            uri = new URI(url);
        }
        catch (final URISyntaxException ex)
        {
            return "is not a URL: " + ex.getMessage();
        }
        final String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https"))
        {
            return "must start with http:// or https://";
        }
        if (uri.getHost() == null)
        {
            return "must name a host, e.g. https://alerts.example.com/tokenmeter";
        }
        if (uri.getRawUserInfo() != null)
        {
            return "must not carry user info (user:password@): put a token in the path or query instead";
        }
        if (uri.getRawFragment() != null)
        {
            return "must not have a #fragment (it is never sent)";
        }
        return null;
    }

    /**
     * @return {@code scheme://host:port} of a URL {@link #problem} accepts: what logs name (a path or query may carry
     *     the receiver's token) and what concurrent attempts are counted by.
     */
    public static String destination(final URI uri)
    {
        final String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        final int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        return scheme + "://" + uri.getHost() + ":" + port;
    }
}
