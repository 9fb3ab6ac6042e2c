package io.tokenmeter.server.config;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import org.slf4j.LoggerFactory;

import java.util.Iterator;

/** Switches the console log to one JSON object per line ({@code log-format: json}), with Logback's own encoder. */
public final class Logging
{
    private Logging()
    {
    }

    /** Re-encodes every console appender of the root logger as JSON lines; a no-op when Logback is not the backend. */
    public static void useJson()
    {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context))
        {
            return;
        }
        final Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        for (final Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); )
        {
            if (it.next() instanceof OutputStreamAppender<ILoggingEvent> appender)
            {
                final JsonEncoder encoder = new JsonEncoder();
                encoder.setContext(context);
                encoder.setWithSequenceNumber(false);
                encoder.setWithContext(false);
                encoder.setWithNanoseconds(false);
                encoder.setWithMessage(false);
                encoder.setWithArguments(false);
                encoder.setWithFormattedMessage(true);
                encoder.start();
                appender.stop();
                appender.setEncoder(encoder);
                appender.start();
            }
        }
    }
}
