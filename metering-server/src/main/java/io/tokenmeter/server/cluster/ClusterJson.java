package io.tokenmeter.server.cluster;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tokenmeter.core.log.EventLog;

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
     */
    public static void writePartition(final JsonGenerator json, final int partition, final String owner, final String ownerUrl,
        final String state, final long position) throws IOException
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
        json.writeEndObject();
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
