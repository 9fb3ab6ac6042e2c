// The price book: the book in force (GET /v1/prices, #/prices) or one earlier revision of it exactly as it was put
// (GET /v1/prices/revisions/N, #/prices/revisions/N), with every model's price versions, global (one table per
// currency) and per tenant, and the list of every recorded revision, newest first (GET /v1/prices/revisions). Read
// only. Prices are the book's decimal strings, shown as written.

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
const REVISION_COLUMNS = [{key: 'revision', label: 'revision', num: true}, {key: 'recorded_at', label: 'recorded at (UTC)'},
  {key: 'sha256', label: 'SHA-256'}, {key: 'partitions', label: 'partitions'}, {key: 'state', label: 'state'}];
/** Hex digits of a SHA-256 shown in the list; the whole one is the cell's title and on the revision's own page. */
const SHORT_SHA = 12;

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

function explain(failure) {
  return failure instanceof ApiError ? failure.explain() : String(failure);
}

/** @return the revision a route names (#/prices/revisions/N), or null for the book in force (#/prices). */
function wantedRevision(route) {
  return route.segments[0] === 'revisions' && route.segments.length > 1 ? route.segments[1] : null;
}

/** @return the deep link of a revision; the one in force is #/prices. */
function revisionLink(app, revision, filter) {
  return revision.in_force ? app.link('prices', [], {model: filter})
    : app.link('prices', ['revisions', String(revision.revision)], {model: filter});
}

/** The list of every recorded revision, newest first: the shown one and the one in force are marked in words. */
function revisionsTable(listing, shown, filter, app) {
  const count = listing.revisions.length;
  return table({caption: 'Revisions of the price book, newest first (' + count + ' recorded)', id: 'prices-revisions',
    columns: REVISION_COLUMNS,
    rows: listing.revisions.map((r) => {
      const isShown = String(r.revision) === String(shown);
      const state = [];
      if (r.in_force) {
        state.push(h('span', {className: 'badge in_force'}, 'in force'));
      }
      if (isShown) {
        state.push(state.length > 0 ? ' ' : null, h('span', {className: 'shown'}, 'shown'));
      }
      return [
        isShown ? h('strong', {'data-revision': String(r.revision)}, text(r.revision))
          : h('a', {href: revisionLink(app, r, filter), 'data-revision': String(r.revision)}, text(r.revision)),
        text(r.recorded_at),
        h('code', {title: r.sha256}, String(r.sha256).substring(0, SHORT_SHA) + '\u2026'),
        r.partitions_lacking ? 'all but ' + r.partitions_lacking.join(', ') : 'all (' + text(listing.partitions) + ')',
        state.length > 0 ? state : '',
      ];
    })});
}

/** The facts and tables of one book: the one in force (GET /v1/prices) or a revision (GET /v1/prices/revisions/N). */
function bookParts(answer, inForce, listing, filter) {
  const book = answer.book || {};
  const pairs = [['Revision', h('span', {id: 'prices-revision'}, text(answer.revision))]];
  if (inForce) {
    pairs.push(['State', h('span', {className: 'badge in_force', id: 'prices-state'}, 'in force')],
      ['In force since', text(answer.in_force_since)]);
  } else {
    pairs.push(['State', h('span', {id: 'prices-state'}, 'an earlier revision, not in force'
      + (listing ? ' (revision ' + text(listing.revision_in_force) + ' is)' : ''))],
    ['Recorded at', text(answer.recorded_at)]);
  }
  pairs.push(['SHA-256', h('span', {id: 'prices-sha256'}, text(answer.sha256))],
    ['Recorded at log index', (answer.log_indexes || []).map((index, p) => 'partition ' + p + ': '
      + (index === null ? 'not recorded' : index)).join('; ')]);
  if (answer.partitions_lacking) {
    pairs.push([inForce ? 'Partitions still on the previous book' : 'Partitions that never recorded it',
      answer.partitions_lacking.join(', ') + (inForce ? ' (PUT the same book again to complete the change)' : '')]);
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
  return {
    facts: facts(pairs, 'prices-facts'),
    tables: [bySection.map(([code, models], i) => table({caption: 'Global prices per million tokens (' + text(code) + ')',
      columns: COLUMNS, id: i === 0 ? 'prices-table' : 'prices-table-' + code, rows: rows(models, filter)})),
    tenantSections],
  };
}

export async function render(main, route, app) {
  const filter = route.params.get('model') || '';
  const wanted = wantedRevision(route);
  const filterInput = h('input', {name: 'model', id: 'f-price-model', value: filter, size: 18, autocomplete: 'off'});
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'prices-status'});
  const results = h('div', {id: 'prices-results'});
  replace(main, h('h2', null, wanted === null ? 'Prices' : 'Prices: revision ' + wanted),
    h('form', {className: 'query', id: 'prices-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('prices', route.segments, {model: filterInput.value.trim()}));
    }}, field('Model contains', filterInput), h('button', {type: 'submit', id: 'prices-filter'}, 'Filter')),
    status, results);
  status.textContent = wanted === null ? 'Loading the price book\u2026' : 'Loading revision ' + wanted + '\u2026';
  const bookPath = wanted === null ? '/v1/prices' : '/v1/prices/revisions/' + encodeURIComponent(wanted);
  const [shown, listing] = await Promise.allSettled([getJson(bookPath, NEEDS.allTenants),
    getJson('/v1/prices/revisions', NEEDS.allTenants)]);
  status.textContent = '';
  if (shown.status === 'rejected') {
    replace(results, errorBox(explain(shown.reason)),
      wanted === null ? null : h('p', null, h('a', {href: app.link('prices')}, 'The book in force')));
    return;
  }
  const answer = shown.value;
  const list = listing.status === 'fulfilled' ? listing.value : null;
  const inForce = wanted === null || answer.in_force === true;
  const parts = bookParts(answer, inForce, list, filter);
  replace(results,
    inForce ? null : h('p', {className: 'note', id: 'prices-earlier'}, 'An earlier revision of the price book, read only, '
      + 'exactly as it was put: invoices that name revision ' + text(answer.revision) + ' were priced with it. ',
    h('a', {href: app.link('prices', [], {model: filter})}, 'The book in force')),
    parts.facts,
    h('h3', null, 'Revisions'),
    list ? revisionsTable(list, answer.revision, filter, app) : errorBox(explain(listing.reason)),
    h('p', {className: 'note'}, 'Each model\u2019s rows are its price versions: usage in an hour is priced by the version in '
      + 'effect at the start of that hour. Every revision ever put stays recorded in the log; pick one above to see it.'),
    parts.tables);
}
