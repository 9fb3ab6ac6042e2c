package io.tokenmeter.server;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.agrona.ErrorHandler;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agents' distinct error log: each distinct failure logged once with its stack, repeats only counted. */
class AgentErrorsTest
{
    @Test
    void aStormOfOneErrorIsOneLineAndACountAndHidesNoOtherError()
    {
        final Logger logger = (Logger)LoggerFactory.getLogger(AgentErrors.class);
        final ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        logger.addAppender(lines);
        try
        {
            final AgentErrors errors = new AgentErrors();
            final ErrorHandler journal = errors.handlerFor("journal-p0");
            final IOException disk = new IOException("No space left on device");
            for (int i = 0; i < 1000; i++)
            {
                journal.onError(disk);
            }
            errors.handlerFor("aggregator-p1").onError(new IllegalStateException("bucket key out of range"));
            errors.report();
            final List<String> first = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(2, first.size(), first.toString());
            assertTrue(first.stream().anyMatch(l -> l.startsWith("journal-p0 thread failed: java.io.IOException: No space left "
                + "on device (seen 1000 times")), first.toString());
            assertTrue(first.stream().anyMatch(l -> l.startsWith("aggregator-p1 thread failed: java.lang.IllegalStateException: "
                + "bucket key out of range (seen 1 time")), first.toString());
            assertTrue(first.get(0).contains("\tat "), "the first report carries the stack trace");

            for (int i = 0; i < 5; i++)
            {
                journal.onError(disk);
            }
            lines.list.clear();
            errors.report();
            assertEquals(1, lines.list.size(), "one line for the repeats");
            assertEquals("journal-p0 thread failed: java.io.IOException: No space left on device: 5 more times, 1005 since ",
                lines.list.get(0).getFormattedMessage().replaceAll(" since .*", " since "));
            errors.report();
            assertEquals(1, lines.list.size(), "nothing new, nothing logged");
        }
        finally
        {
            logger.detachAppender(lines);
        }
    }
}
