package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tokenmeter.core.log.EventLog;
import io.tokenmeter.core.partition.Partition;

import java.io.IOException;

/** The pieces of {@code GET /v1/cluster}'s answer that every ownership mode writes the same way. */
public final class ClusterJson
{
    private ClusterJson()
    {
    }

    /**
     * Writes one partition's entry.
     *
     * @param owner    the owner's node id, or null when none is known.
     * @param ownerUrl the owner's URL, or null.
     * @param position the last log position this node appended for it, or {@link EventLog#NO_INDEX} (written as null).
     * @param lag      its {@linkplain #lag lag} here, or -1 when this node does not serve it (written as null).
     */
    public static void writePartition(final JsonGenerator json, final int partition, final String owner, final String ownerUrl,
        final String state, final long position, final long lag) throws IOException
    {
        json.writeStartObject();
        json.writeNumberField("partition", partition);
        writeNullable(json, "owner", owner);
        writeNullable(json, "owner_url", ownerUrl);
        json.writeStringField("state", state);
        if (position == EventLog.NO_INDEX)
        {
            json.writeNullField("log_position");
        }
        else
        {
            json.writeNumberField("log_position", position);
        }
        if (lag < 0)
        {
            json.writeNullField("lag");
        }
        else
        {
            json.writeNumberField("lag", lag);
        }
        json.writeEndObject();
    }

    /**
     * A partition's lag (decision 360): the events its journal acknowledged (appended to its log) that its aggregator
     * has not counted yet; 0 exactly when the aggregator applied the journal's last log position. Counted in events,
     * not in log positions, because a Kafka log's offsets are not dense (commit markers) and neither are Chronicle's
     * across days. Documents holding no event (a price book, a control record) are behind only in positions: they
     * count 0 events, so such a lag is 0 while the positions differ for the moment it takes to apply them.
     *
     * @return the lag, 0 or more. Any thread (it reads the agents' published counters).
     */
    public static long lag(final Partition partition)
    {
        if (partition.aggregator().appliedIndex() >= partition.journal().lastAppendedIndex())
        {
            return 0;
        }
        return Math.max(0, partition.journal().acceptedEvents() - partition.aggregator().eventsCountedSinceStart());
    }

    /** Writes a string field, or null for a null value. */
    public static void writeNullable(final JsonGenerator json, final String name, final String value) throws IOException
    {
        if (value == null)
        {
            json.writeNullField(name);
        }
        else
        {
            json.writeStringField(name, value);
        }
    }
}
