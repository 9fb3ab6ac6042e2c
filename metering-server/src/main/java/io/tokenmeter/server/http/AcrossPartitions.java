package io.tokenmeter.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.tokenmeter.billing.invoice.TenantScope;
import io.tokenmeter.core.partition.Partition;
import io.tokenmeter.core.partition.Partitions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * An answer across tenants (the finance listing {@code GET /v1/invoices?period=}, {@code GET /v1/margins}) on a cluster
 * node that does not serve every partition: its own partitions' share, and each other owner's share asked of it
 * ({@link Forwarder#forwardShare}, one request per owner naming its partitions), merged into the answer a single node
 * gives: the entries of every share in one array, by tenant (then model), as a single node sorts them. Tenants never
 * span partitions, so no entry is in two shares. A share that is not 200 is the answer (a 400 for the query, or 503
 * {@code partition_unavailable} naming the owner that could not answer), never a listing that leaves tenants out.
 * An owner asked for a share answers for the partitions named, and 503 when it does not serve one of them.
 *
 * <p>Stateless; any thread.
 */
final class AcrossPartitions
{
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Comparator<JsonNode> BY_TENANT_AND_MODEL = Comparator
        .comparing((JsonNode entry) -> entry.path("tenant").asText())
        .thenComparing(entry -> entry.path("model").asText());

    private AcrossPartitions()
    {
    }

    /**
     * @param field the answer's array of entries: {@code invoices} or {@code margins}.
     * @param share answers the route for the tenants of a scope on this node (its readiness and query checks included).
     */
    static CompletableFuture<FullHttpResponse> answer(final ApiContext api, final ApiRequest request,
        final String field, final Function<TenantScope, CompletableFuture<FullHttpResponse>> share)
    {
        final Partitions partitions = api.partitions();
        final Forwarder forwarder = api.forwarder();
        final BitSet asked = forwarder != null ? Forwarder.askedPartitions(request) : null;
        if (asked != null)
        {
            final List<String> why = new ArrayList<>();
            for (int p = asked.nextSetBit(0); p >= 0; p = asked.nextSetBit(p + 1))
            {
                if (p >= partitions.count())
                {
                    why.add("there is no partition " + p);
                }
                else if (!partitions.get(p).served())
                {
                    why.add(api.unavailable(partitions.get(p)));
                }
            }
            return why.isEmpty() ? share.apply(TenantScope.of(asked, partitions.partitioner()))
                : BillingRoutes.done(BillingRoutes.unavailable("the share asked of this node spans partitions it does "
                    + "not serve (" + String.join("; ", why) + ")"));
        }
        final BitSet here = new BitSet();
        final Map<String, BitSet> elsewhere = new TreeMap<>();
        final List<String> why = new ArrayList<>();
        for (final Partition partition : partitions.all())
        {
            if (partition.served())
            {
                here.set(partition.index());
                continue;
            }
            final String owner = forwarder == null || Forwarder.forwarded(request) ? null : api.forwardUrl(partition);
            if (owner == null)
            {
                why.add(api.unavailable(partition));
            }
            else
            {
                elsewhere.computeIfAbsent(owner, url -> new BitSet()).set(partition.index());
            }
        }
        if (!why.isEmpty())
        {
            return BillingRoutes.done(BillingRoutes.unavailable("this answer spans every partition and " + why.size()
                + " of " + partitions.count() + " can be answered neither here nor by an owner this node knows ("
                + String.join("; ", why) + "); retry shortly"));
        }
        if (elsewhere.isEmpty())
        {
            return share.apply(TenantScope.ALL);
        }
        final List<CompletableFuture<FullHttpResponse>> shares = new ArrayList<>();
        if (!here.isEmpty())
        {
            shares.add(share.apply(TenantScope.of(here, partitions.partitioner())));
        }
        elsewhere.forEach((owner, owned) -> shares.add(forwarder.forwardShare(request, owner, owned)));
        return CompletableFuture.allOf(shares.toArray(CompletableFuture[]::new)).thenApply(all -> merge(shares, field));
    }

    private static FullHttpResponse merge(final List<CompletableFuture<FullHttpResponse>> shares, final String field)
    {
        FullHttpResponse refusal = null;
        ObjectNode merged = null;
        final List<JsonNode> entries = new ArrayList<>();
        for (final CompletableFuture<FullHttpResponse> share : shares)
        {
            final FullHttpResponse answer = share.join();
            if (refusal != null)
            {
                answer.release();
                continue;
            }
            if (!answer.status().equals(HttpResponseStatus.OK))
            {
                refusal = answer;
                continue;
            }
            try
            {
                final JsonNode body = JSON.readTree(ByteBufUtil.getBytes(answer.content()));
                if (!(body instanceof ObjectNode object) || !(object.get(field) instanceof ArrayNode array))
                {
                    refusal = BillingRoutes.unavailable("a share of this answer came back without its " + field + " ("
                        + answer.headers().get(Forwarder.ANSWERED_BY_HEADER, "this node") + "); retry");
                    continue;
                }
                array.forEach(entries::add);
                if (merged == null)
                {
                    merged = object;
                }
            }
            catch (final IOException notJson)
            {
                refusal = BillingRoutes.unavailable("a share of this answer came back as no JSON ("
                    + answer.headers().get(Forwarder.ANSWERED_BY_HEADER, "this node") + "); retry");
            }
            finally
            {
                if (refusal != answer)
                {
                    answer.release();
                }
            }
        }
        if (refusal != null)
        {
            return refusal;
        }
        entries.sort(BY_TENANT_AND_MODEL);
        merged.putArray(field).addAll(entries);
        try
        {
            return BillingRoutes.response(HttpResponseStatus.OK, "application/json", JSON.writeValueAsBytes(merged));
        }
        catch (final IOException cannotHappen)
        {
            throw new IllegalStateException(cannotHappen);
        }
    }
}
