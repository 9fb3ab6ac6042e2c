// The price book in force (GET /v1/prices): its revision, where it is recorded, and every model's price versions,
// global (one table per currency) and per tenant. Prices are the book's decimal strings, shown as written.

import {h, replace, table, errorBox, facts, field} from '../dom.js';
import {getJson, NEEDS, ApiError} from '../api.js';
import {text} from '../format.js';

export const title = 'Prices';

const CLASSES = ['input', 'cache_read', 'cache_write', 'cache_write_1h', 'output'];
const TIERS = ['batch', 'flex', 'priority'];
const COLUMNS = [{key: 'entry', label: 'model or pattern'}, {key: 'effective_from', label: 'effective from (UTC)'}]
  .concat(CLASSES.map((c) => ({key: c, label: c.replaceAll('_', ' ') + ' / M', num: true})))
  .concat(TIERS.map((t) => ({key: 'x_' + t, label: t + ' \u00D7', num: true})))
  .concat([{key: 'long_context', label: 'long context'}]);

/** @return one table row per price version of each entry, newest version last as in the book. */
function rows(models, filter) {
  const out = [];
  for (const [entry, versions] of Object.entries(models || {})) {
    if (filter && !entry.toLowerCase().includes(filter.toLowerCase())) {
      continue;
    }
    for (const v of versions) {
      const per = v.per_million || {};
      const tiers = v.service_tier_multiplier || {};
      const longContext = v.long_context
        ? 'above ' + text(v.long_context.above_input_tokens) + ' prompt tokens: '
          + CLASSES.filter((c) => v.long_context.per_million && v.long_context.per_million[c] !== undefined)
            .map((c) => c + ' ' + v.long_context.per_million[c]).join(', ')
        : '';
      out.push([entry, text(v.effective_from)].concat(CLASSES.map((c) => text(per[c])), TIERS.map((t) => text(tiers[t])),
        [text(longContext)]));
    }
  }
  return out;
}

/**
 * @return [[currency, models], ...] in the order written: a book of several currencies (SPEC section 11) has a
 *     section per currency, the first being the default; a one-currency book has one.
 */
function sections(book) {
  if (book.currencies) {
    return Object.entries(book.currencies).map(([code, section]) => [code, (section || {}).models || {}]);
  }
  return [[book.currency, book.models || {}]];
}

export async function render(main, route, app) {
  const filter = route.params.get('model') || '';
  const filterInput = h('input', {name: 'model', id: 'f-price-model', value: filter, size: 18, autocomplete: 'off'});
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'prices-status'});
  const results = h('div', {id: 'prices-results'});
  replace(main, h('h2', null, 'Prices'),
    h('form', {className: 'query', id: 'prices-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('prices', [], {model: filterInput.value.trim()}));
    }}, field('Model contains', filterInput), h('button', {type: 'submit', id: 'prices-filter'}, 'Filter')),
    status, results);
  status.textContent = 'Loading the price book\u2026';
  let prices;
  try {
    prices = await getJson('/v1/prices', NEEDS.allTenants);
  } catch (failure) {
    status.textContent = '';
    replace(results, errorBox(failure instanceof ApiError ? failure.explain() : String(failure)));
    return;
  }
  status.textContent = '';
  const book = prices.book || {};
  const pairs = [
    ['Revision', h('span', {id: 'prices-revision'}, text(prices.revision))],
    ['In force since', text(prices.in_force_since)],
    ['SHA-256', text(prices.sha256)],
    ['Recorded at log index', (prices.log_indexes || []).map((index, p) => 'partition ' + p + ': ' + index).join('; ')],
  ];
  if (prices.partitions_lacking) {
    pairs.push(['Partitions still on the previous book', prices.partitions_lacking.join(', ')
      + ' (PUT the same book again to complete the change)']);
  }
  const bySection = sections(book);
  pairs.push([bySection.length > 1 ? 'Currencies (the first is the default)' : 'Currency',
    h('span', {id: 'prices-currency'}, bySection.map(([code]) => text(code)).join(', '))]);
  for (const [name, value] of Object.entries(book)) {
    if (typeof value === 'string' && name !== 'currency') {
      pairs.push([name.replaceAll('_', ' '), value]);
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      pairs.push([name.replaceAll('_', ' '), h('ul', {className: 'plain'}, value.map((v) => h('li', null, v)))]);
    }
  }
  const tenantSections = Object.entries(book.tenants || {}).map(([tenant, own]) => h('section', null,
    h('h3', null, 'Tenant ' + tenant),
    facts([['Discount', own.discount_percent !== undefined ? own.discount_percent + ' %' : 'none'],
      ['Currency', text(own.currency || bySection[0][0])]]),
    Object.keys(own.models || {}).length > 0
      ? table({caption: 'Prices of ' + tenant + ' (searched before the global book)', columns: COLUMNS,
        rows: rows(own.models, filter)})
      : h('p', {className: 'note'}, 'No own prices: the global book applies.')));
  replace(results,
    facts(pairs, 'prices-facts'),
    h('p', {className: 'note'}, 'Each model\u2019s rows are its price versions: usage in an hour is priced by the version in '
      + 'effect at the start of that hour. Earlier revisions of the book stay recorded in the log, where the audit reads '
      + 'them; the API serves the revision in force.'),
    bySection.map(([code, models], i) => table({caption: 'Global prices per million tokens (' + text(code) + ')',
      columns: COLUMNS, id: i === 0 ? 'prices-table' : 'prices-table-' + code, rows: rows(models, filter)})),
    tenantSections);
}
