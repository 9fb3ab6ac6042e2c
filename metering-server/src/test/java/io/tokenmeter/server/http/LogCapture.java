package io.tokenmeter.server.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import org.slf4j.LoggerFactory;

/** Captures every log line of the server (tokenmeter's at DEBUG) while open, for tests that read the log. */
final class LogCapture implements AutoCloseable
{
    private final Logger root = (Logger)LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    private final Logger ours = (Logger)LoggerFactory.getLogger("io.tokenmeter");
    private final Level oursBefore = ours.getLevel();
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    LogCapture()
    {
        appender.start();
        root.addAppender(appender);
        ours.setLevel(Level.DEBUG);
    }

    /** @return every captured line, with its logger and any stack trace. */
    String text()
    {
        final StringBuilder sb = new StringBuilder();
        synchronized (appender)
        {
            for (final ILoggingEvent event : appender.list)
            {
                sb.append(event.getLevel()).append(' ').append(event.getLoggerName()).append(" - ")
                    .append(event.getFormattedMessage()).append('\n');
                if (event.getThrowableProxy() != null)
                {
                    sb.append(ThrowableProxyUtil.asString(event.getThrowableProxy())).append('\n');
                }
            }
        }
        return sb.toString();
    }

    @Override
    public void close()
    {
        root.detachAppender(appender);
        ours.setLevel(oursBefore);
    }
}
