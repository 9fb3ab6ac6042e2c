/**
 * Prepaid credit grants (SPEC section 11): the grant and its request's checks, the ledger each partition's journal
 * keeps of them (journal thread), the reader the audit uses, and the rules by which invoices draw them (billing thread).
 */
package io.tokenmeter.billing.credit;
