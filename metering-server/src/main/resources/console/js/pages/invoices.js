// Invoices: a period's listing (every tenant, for finance), one invoice's lines and totals, its JSON and CSV as the
// API serves them, and finalize (admin) after a confirmation. Money is shown as the API's strings.

import {h, replace, table, errorBox, field, facts} from '../dom.js';
import {getJson, getText, request, parseExact, NEEDS, ApiError} from '../api.js';
import {text, currentPeriod, isPeriod} from '../format.js';
import {download} from '../csv.js';

export const title = 'Invoices';

const LINE_COLUMNS = [
  {key: 'kind', label: 'kind'},
  {key: 'model', label: 'model'},
  {key: 'service_tier', label: 'service tier'},
  {key: 'token_class', label: 'token class'},
  {key: 'context', label: 'context'},
  {key: 'mode', label: 'mode'},
  {key: 'window', label: 'window'},
  {key: 'band', label: 'band'},
  {key: 'price_from', label: 'price from'},
  {key: 'price_entry', label: 'price entry'},
  {key: 'price_scope', label: 'scope'},
  {key: 'quantity', label: 'quantity', num: true},
  {key: 'unit_price_per_million', label: 'per million', num: true},
  {key: 'service_tier_multiplier', label: 'tier multiplier', num: true},
  {key: 'window_multiplier', label: 'window multiplier', num: true},
  {key: 'discount_percent', label: 'discount %', num: true},
  {key: 'amount', label: 'amount', num: true},
  {key: 'cost', label: 'cost', num: true},
  {key: 'margin', label: 'margin', num: true},
  {key: 'grant', label: 'credit grant'},
  {key: 'adjustment_for', label: 'adjustment for'},
];

function explain(failure) {
  return failure instanceof ApiError ? failure.explain() : String(failure);
}

export async function render(main, route, app) {
  if (route.segments.length >= 2) {
    return renderInvoice(main, route.segments[0], route.segments[1], app);
  }
  return renderListing(main, route.params.get('period') || currentPeriod(), app);
}

function openForm(app, period) {
  const tenant = h('input', {name: 'tenant', id: 'f-invoice-tenant', required: true, autocomplete: 'off', size: 16,
    pattern: '[A-Za-z0-9._:\\-]{1,64}'});
  const periodInput = h('input', {name: 'period', id: 'f-invoice-period', value: period, required: true, size: 8,
    pattern: '\\d{4}-\\d{2}', placeholder: 'YYYY-MM'});
  return h('form', {className: 'query', id: 'invoice-open-form', onsubmit: (event) => {
    event.preventDefault();
    app.navigate(app.link('invoices', [tenant.value.trim(), periodInput.value.trim()]));
  }}, field('Tenant', tenant), field('Period (YYYY-MM)', periodInput),
  h('button', {type: 'submit', id: 'invoice-open'}, 'Open invoice'));
}

async function renderListing(main, period, app) {
  const periodInput = h('input', {name: 'period', id: 'f-period', value: period, required: true, size: 8,
    pattern: '\\d{4}-\\d{2}', placeholder: 'YYYY-MM'});
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'listing-status'});
  const results = h('div', {id: 'listing-results'});
  replace(main, h('h2', null, 'Invoices'),
    h('form', {className: 'query', id: 'listing-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('invoices', [], {period: periodInput.value.trim()}));
    }}, field('Period (YYYY-MM, UTC)', periodInput), h('button', {type: 'submit', className: 'primary', id: 'listing-show'},
      'Show')),
    status, results,
    h('h3', null, 'One tenant\u2019s invoice'), openForm(app, period));
  if (!isPeriod(period)) {
    replace(results, errorBox('The period must be YYYY-MM, e.g. 2026-10.'));
    return;
  }
  status.textContent = 'Loading the invoices of ' + period + '\u2026';
  let listing;
  try {
    listing = await getJson('/v1/invoices?period=' + encodeURIComponent(period), NEEDS.allTenants);
  } catch (failure) {
    status.textContent = '';
    replace(results, errorBox(explain(failure)),
      h('p', {className: 'note'}, 'A key for some tenants only can still open each of its tenants\u2019 invoices below.'));
    return;
  }
  status.textContent = listing.invoices.length + ' tenant' + (listing.invoices.length === 1 ? '' : 's') + ' with usage in '
    + listing.period + '.';
  replace(results, table({caption: 'Invoices of ' + listing.period, id: 'listing-table',
    columns: [{key: 'tenant', label: 'tenant'}, {key: 'status', label: 'status'}, {key: 'invoice_number', label: 'number'},
      {key: 'currency', label: 'currency'}, {key: 'total', label: 'total', num: true}],
    rows: listing.invoices.map((i) => [h('a', {href: app.link('invoices', [i.tenant, listing.period])}, i.tenant),
      h('span', {className: 'badge ' + i.status}, i.status), text(i.invoice_number), text(i.currency), text(i.total)])}));
}

function invoicePath(tenant, period) {
  return '/v1/invoices/' + encodeURIComponent(tenant) + '/' + encodeURIComponent(period);
}

async function renderInvoice(main, tenant, period, app) {
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'invoice-status'});
  const outcome = h('div', {id: 'invoice-outcome'});
  const results = h('div', {id: 'invoice-results'});
  replace(main, h('h2', null, 'Invoice of ' + tenant + ' for ' + period),
    h('p', null, h('a', {href: app.link('invoices', [], {period})}, 'All invoices of ' + period), ' \u00B7 ',
      h('a', {href: app.link('usage', [], {tenant, from: period + '-01'})}, 'Usage of ' + tenant), ' \u00B7 ',
      h('a', {href: app.link('credits', [], {tenant}), id: 'invoice-credits'}, 'Credits of ' + tenant)),
    status, outcome, results);
  status.textContent = 'Loading\u2026';
  let invoice;
  try {
    invoice = await getJson(invoicePath(tenant, period), NEEDS.tenant(tenant));
  } catch (failure) {
    status.textContent = '';
    replace(results, errorBox(explain(failure)));
    return;
  }
  status.textContent = '';
  show(results, outcome, invoice, tenant, period, app);
}

function show(results, outcome, invoice, tenant, period, app) {
  const pairs = [
    ['Tenant', text(invoice.tenant)],
    ['Period', text(invoice.period)],
    ['Status', h('span', {className: 'badge ' + invoice.status, id: 'invoice-state'}, invoice.status)],
  ];
  if (invoice.invoice_number) {
    pairs.push(['Invoice number', h('span', {id: 'invoice-number'}, invoice.invoice_number)]);
    pairs.push(['Finalized at', text(invoice.finalized_at)]);
  }
  pairs.push(['Currency', text(invoice.currency)], ['Usage through', text(invoice.usage_through)],
    ['Log index', text(invoice.log_index)]);
  if (invoice.price_book) {
    // the revision's own page shows the book exactly as it was put, for a person checking an old invoice's prices
    pairs.push(['Price book', [h('a', {href: app.link('prices', ['revisions', String(invoice.price_book.revision)]),
      id: 'invoice-price-book'}, 'revision ' + text(invoice.price_book.revision)), ', sha256 ' + text(invoice.price_book.sha256)]]);
  }
  pairs.push(['Subtotal', h('span', {id: 'invoice-subtotal'}, text(invoice.subtotal))],
    ['Adjustments', text(invoice.adjustments)],
    ['Total', h('strong', {id: 'invoice-total'}, text(invoice.total) + ' ' + text(invoice.currency))]);

  const actions = h('div', {className: 'actions'},
    h('button', {type: 'button', id: 'invoice-json', onclick: () => save(outcome, tenant, period, 'json')}, 'Download JSON'),
    h('button', {type: 'button', id: 'invoice-csv', onclick: () => save(outcome, tenant, period, 'csv')}, 'Download CSV'),
    invoice.status === 'final' ? null : h('button', {type: 'button', className: 'danger', id: 'invoice-finalize',
      onclick: () => confirmFinalize(results, outcome, tenant, period, app)}, 'Finalize\u2026'));
  const warnings = invoice.warnings && invoice.warnings.length > 0
    ? h('div', {className: 'note', id: 'invoice-warnings'}, h('strong', null, 'Warnings:'),
      h('ul', null, invoice.warnings.map((w) => h('li', null, typeof w === 'string' ? w : JSON.stringify(w)))))
    : null;
  const footer = LINE_COLUMNS.map((c) => (c.key === 'kind' ? 'total' : c.key === 'amount' ? text(invoice.total) : ''));
  replace(results, facts(pairs, 'invoice-facts'), actions, warnings,
    table({caption: 'Lines', columns: LINE_COLUMNS, id: 'invoice-lines', footer,
      rows: invoice.lines.map((line) => LINE_COLUMNS.map((c) => text(line[c.key])))}));
}

async function save(outcome, tenant, period, format) {
  try {
    const body = format === 'csv'
      ? await getText(invoicePath(tenant, period) + '?format=csv', NEEDS.tenant(tenant))
      : await getText(invoicePath(tenant, period), NEEDS.tenant(tenant));
    download('invoice-' + tenant + '-' + period + '.' + format, body, format === 'csv' ? 'text/csv' : 'application/json');
  } catch (failure) {
    replace(outcome, errorBox(explain(failure)));
  }
}

function confirmFinalize(results, outcome, tenant, period, app) {
  const dialog = h('dialog', {id: 'finalize-dialog', 'aria-labelledby': 'finalize-title'},
    h('h2', {id: 'finalize-title'}, 'Finalize the invoice of ' + tenant + ' for ' + period + '?'),
    h('p', null, 'A final invoice is stored unchangeably and gets an invoice number. Events that still arrive for '
      + period + ' will show on the next open invoice as adjustment lines. This needs an admin key.'),
    h('div', {className: 'actions'},
      h('button', {type: 'button', id: 'finalize-cancel', onclick: () => dialog.close('cancel')}, 'Cancel'),
      h('button', {type: 'button', className: 'primary', id: 'finalize-confirm', onclick: () => dialog.close('confirm')},
        'Finalize')));
  dialog.addEventListener('close', async () => {
    dialog.remove();
    if (dialog.returnValue !== 'confirm') {
      replace(outcome, h('p', {className: 'note', id: 'finalize-cancelled'}, 'Not finalized.'));
      return;
    }
    replace(outcome, h('p', {className: 'status'}, 'Finalizing\u2026'));
    try {
      const response = await request('POST', invoicePath(tenant, period) + '/finalize', {needs: NEEDS.admin});
      const invoice = parseExact(await response.text());
      replace(outcome, h('p', {className: 'note', id: 'finalize-done', role: 'status'}, 'Finalized: invoice '
        + invoice.invoice_number + (response.status === 201 ? '.' : ' (it was final already).')));
      show(results, outcome, invoice, tenant, period, app);
    } catch (failure) {
      replace(outcome, errorBox(explain(failure)));
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  document.getElementById('finalize-cancel').focus();
}
