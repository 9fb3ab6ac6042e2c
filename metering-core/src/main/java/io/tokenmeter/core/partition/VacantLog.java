package io.tokenmeter.core.partition;

import io.tokenmeter.core.event.LogDocumentReader;
import io.tokenmeter.core.log.Durability;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.log.Faults;
import org.agrona.DirectBuffer;

/**
 * The log of a partition this node does not own (cluster mode): it holds nothing and refuses every append. It is not
 * "lost" ({@link #lostReason} is null): the partition's {@link Partition.State} says it is not served. Any thread; it
 * has no state.
 */
final class VacantLog implements EventLog
{
    private final int partition;

    VacantLog(final int partition)
    {
        this.partition = partition;
    }

    @Override
    public long append(final DirectBuffer document, final int length)
    {
        throw new IllegalStateException("partition " + partition + " is not owned by this node: nothing was appended");
    }

    @Override
    public byte[] lastDocumentSha256()
    {
        return new byte[32];
    }

    @Override
    public long lastIndex()
    {
        return NO_INDEX;
    }

    @Override
    public Reader newReader()
    {
        return new Reader()
        {
            @Override
            public void startAfter(final long index)
            {
            }

            @Override
            public void startAt(final long index)
            {
                if (index != NO_INDEX)
                {
                    throw new IllegalArgumentException("partition " + partition + " is not owned by this node: its log "
                        + "is not read here");
                }
            }

            @Override
            public long readNext(final LogDocumentReader.Handler handler, final DocumentListener listener)
            {
                return NO_INDEX;
            }

            @Override
            public long readNextRaw(final RawDocumentListener listener)
            {
                return NO_INDEX;
            }

            @Override
            public long lastReadIndex()
            {
                return NO_INDEX;
            }

            @Override
            public void close()
            {
            }
        };
    }

    @Override
    public Durability durability()
    {
        return Durability.REPLICATED;
    }

    @Override
    public String describe()
    {
        return "not owned by this node";
    }

    @Override
    public void useFaults(final Faults faults)
    {
    }

    @Override
    public void close()
    {
    }
}
