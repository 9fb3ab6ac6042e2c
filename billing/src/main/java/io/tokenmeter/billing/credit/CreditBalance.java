package io.tokenmeter.billing.credit;

import java.math.BigDecimal;

/**
 * Where a credit grant stands (what {@code GET /v1/tenants/{tenant}/credits} answers). Always
 * {@code amount = drawn + held + remaining + expired}, each in the grant's currency at its minor unit.
 *
 * @param drawn     spent: drawn by the tenant's final invoices.
 * @param held      drawn by the drafts of the tenant's open periods as they stand now (spent when they are finalized).
 * @param remaining what usage can still draw.
 * @param expired   lost: what was left when the invoice of the last period the grant covers was finalized.
 * @param closed    whether that invoice is final, so that nothing draws the grant any more.
 */
public record CreditBalance(CreditGrant grant, BigDecimal drawn, BigDecimal held, BigDecimal remaining, BigDecimal expired,
    boolean closed)
{
}
