// Usage of one tenant over a range: a chart and a table per hour, day or month and model (and service tier), the
// totals of the range, and the rows as CSV. Numbers are the API's (GET /v1/usage), shown as it wrote them.

import {h, replace, table, errorBox, field, select} from '../dom.js';
import {getJson, NEEDS, ApiError} from '../api.js';
import {text, currentPeriod, monthStart, isDate, plotNumber} from '../format.js';
import {lineChart} from '../chart.js';
import {toCsv, download} from '../csv.js';

export const title = 'Usage';

const TOKEN_FIELDS = ['input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'output_tokens',
  'reasoning_tokens'];
const FIELD_LABELS = {
  requests: 'requests',
  input_tokens: 'input',
  cache_read_tokens: 'cache read',
  cache_write_tokens: 'cache write',
  cache_write_1h_tokens: 'cache write 1h',
  output_tokens: 'output',
  reasoning_tokens: 'reasoning (in output)',
};
/** Billable classes, summed for the chart's "all token classes" (reasoning is inside output). */
const BILLABLE = TOKEN_FIELDS.filter((f) => f !== 'reasoning_tokens');
const STEP_SECONDS = {hour: 3600, day: 86400, month: 30 * 86400};
/** The most buckets the chart draws every bucket of (beyond, only those with usage): a year of hours and more. */
const MAX_POINTS = 20000;

/** @return the query of the page from its deep link, with defaults (this UTC month, per day, per model). */
function query(params) {
  const period = currentPeriod();
  return {
    tenant: params.get('tenant') || '',
    from: params.get('from') || monthStart(period),
    to: params.get('to') || monthStart(period, 1),
    granularity: params.get('granularity') || 'day',
    group_by: params.get('group_by') === 'model,service_tier' ? 'model,service_tier' : 'model',
    model: params.get('model') || '',
    measure: params.get('measure') || 'tokens',
  };
}

function apiPath(q, granularity) {
  const params = new URLSearchParams({tenant: q.tenant, from: q.from + 'T00:00:00Z', to: q.to + 'T00:00:00Z', granularity,
    group_by: q.group_by, consistent: 'true'});
  return '/v1/usage?' + params.toString();
}

function seriesLabel(row, byTier) {
  return byTier ? row.model + ' / ' + row.service_tier : row.model;
}

function measureOf(row, measure) {
  if (measure === 'tokens') {
    return BILLABLE.reduce((sum, f) => sum + plotNumber(row[f]), 0);
  }
  return plotNumber(row[measure]);
}

export async function render(main, route, app) {
  const q = query(route.params);
  const tenantInput = h('input', {name: 'tenant', id: 'f-tenant', value: q.tenant, list: 'tenants', required: true,
    autocomplete: 'off', pattern: '[A-Za-z0-9._:\\-]{1,64}', size: 16});
  const tenants = h('datalist', {id: 'tenants'});
  const from = h('input', {type: 'date', name: 'from', id: 'f-from', value: q.from, required: true});
  const to = h('input', {type: 'date', name: 'to', id: 'f-to', value: q.to, required: true});
  const granularity = select('granularity', [{value: 'hour', label: 'hour'}, {value: 'day', label: 'day'},
    {value: 'month', label: 'month'}], q.granularity);
  const groupBy = select('group_by', [{value: 'model', label: 'model'},
    {value: 'model,service_tier', label: 'model and service tier'}], q.group_by);
  const model = select('model', [{value: '', label: 'every model'}].concat(q.model ? [{value: q.model, label: q.model}] : []),
    q.model);
  const measure = select('measure', [{value: 'tokens', label: 'all token classes'}, {value: 'requests', label: 'requests'}]
    .concat(TOKEN_FIELDS.map((f) => ({value: f, label: FIELD_LABELS[f] + ' tokens'}))), q.measure);
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'usage-status'});
  const results = h('div', {id: 'usage-results'});

  const form = h('form', {className: 'query', id: 'usage-form', onsubmit: (event) => {
    event.preventDefault();
    app.navigate(app.link('usage', [], {tenant: tenantInput.value.trim(), from: from.value, to: to.value,
      granularity: granularity.value, group_by: groupBy.value, model: model.value, measure: measure.value}));
  }},
  field('Tenant', tenantInput), tenants,
  field('From (UTC, inclusive)', from), field('To (UTC, exclusive)', to),
  field('Per', granularity), field('Rows per', groupBy), field('Model', model), field('Chart shows', measure),
  h('button', {type: 'submit', className: 'primary', id: 'usage-show'}, 'Show'));

  replace(main, h('h2', null, 'Usage'), form, status, results);
  fillTenants(tenants, q.from.substring(0, 7));

  if (q.tenant === '') {
    replace(results, h('p', {className: 'note'}, 'Type a tenant and press Show. The range defaults to this UTC month.'));
    return;
  }
  if (!isDate(q.from) || !isDate(q.to) || q.from >= q.to || !STEP_SECONDS[q.granularity]) {
    replace(results, errorBox('The range must be two dates, from before to, and per hour, day or month.'));
    return;
  }
  status.textContent = 'Loading usage of ' + q.tenant + '\u2026';
  let answer;
  let totals;
  try {
    [answer, totals] = await Promise.all([getJson(apiPath(q, q.granularity), NEEDS.tenant(q.tenant)),
      getJson(apiPath(q, 'total'), NEEDS.tenant(q.tenant))]);
  } catch (failure) {
    status.textContent = '';
    replace(results, errorBox(failure instanceof ApiError ? failure.explain() : String(failure)));
    return;
  }
  if (!app.isCurrent(app.token)) {
    return;
  }
  const byTier = q.group_by === 'model,service_tier';
  const models = [...new Set(totals.rows.map((r) => r.model))].sort();
  replace(model, [{value: '', label: 'every model'}].concat(models.map((m) => ({value: m, label: m})))
    .map((o) => h('option', {value: o.value, selected: o.value === q.model}, o.label)));
  const rows = answer.rows.filter((r) => q.model === '' || r.model === q.model);
  const totalRows = totals.rows.filter((r) => q.model === '' || r.model === q.model);
  status.textContent = rows.length + ' row' + (rows.length === 1 ? '' : 's') + ' of ' + answer.tenant + ' from '
    + answer.from + ' to ' + answer.to + ' per ' + answer.granularity + '.';

  const fields = ['start', 'model'].concat(byTier ? ['service_tier'] : [], ['requests'], TOKEN_FIELDS);
  const columns = fields.map((f) => ({key: f, label: f === 'start' ? 'start (UTC)' : f === 'service_tier' ? 'service tier'
    : FIELD_LABELS[f] || f, num: f === 'requests' || TOKEN_FIELDS.includes(f)}));
  const csvName = 'usage-' + q.tenant + '-' + q.from + '-' + q.to + '-' + q.granularity + '.csv';
  const period = q.from.substring(0, 7);

  const chartBox = h('div', {className: 'chart', id: 'usage-chart', role: 'img',
    'aria-label': 'Chart of ' + (measure.selectedOptions[0] ? measure.selectedOptions[0].textContent : q.measure)
      + ' per ' + q.granularity + ' and ' + (byTier ? 'model and service tier' : 'model') + '; the table below has the numbers'});
  replace(results,
    h('div', {className: 'actions'},
      h('button', {type: 'button', id: 'usage-csv', onclick: () => download(csvName, toCsv(fields,
        rows.map((r) => fields.map((f) => r[f]))), 'text/csv')}, 'Download CSV'),
      h('a', {href: app.link('invoices', [q.tenant, period]), id: 'usage-invoice'}, 'Invoice of ' + q.tenant + ' for ' + period)),
    rows.length === 0 ? h('p', {className: 'note', id: 'usage-empty'}, 'No usage in this range.') : chartBox,
    table({caption: 'Usage of ' + answer.tenant + ' per ' + answer.granularity, columns, id: 'usage-table',
      rows: rows.map((r) => fields.map((f) => text(r[f])))}),
    table({caption: 'Totals from ' + totals.from + ' to ' + totals.to, id: 'usage-totals',
      columns: columns.filter((c) => c.key !== 'start'),
      rows: totalRows.map((r) => fields.filter((f) => f !== 'start').map((f) => text(r[f])))}));

  if (rows.length > 0) {
    const starts = buckets(q.from, q.to, q.granularity);
    const xs = starts || [...new Set(rows.map((r) => Date.parse(r.start) / 1000))].sort((a, b) => a - b);
    const labels = [...new Set(rows.map((r) => seriesLabel(r, byTier)))].sort();
    const series = labels.map((label) => {
      // only non-empty buckets are rows: every other bucket of the range had no usage
      const values = xs.map(() => (starts ? 0 : null));
      for (const r of rows) {
        if (seriesLabel(r, byTier) === label) {
          values[xs.indexOf(Date.parse(r.start) / 1000)] = measureOf(r, q.measure);
        }
      }
      return {label, values};
    });
    lineChart(chartBox, {xs, series, step: STEP_SECONDS[q.granularity],
      xRange: starts ? [starts[0], starts[starts.length - 1]] : undefined,
      yLabel: q.measure === 'tokens' ? 'tokens' : FIELD_LABELS[q.measure] || q.measure});
  }
}

/** @return the start (seconds) of every hour, day or month in [from, to), or null beyond MAX_POINTS of them. */
function buckets(from, to, granularity) {
  const end = Date.parse(to + 'T00:00:00Z');
  const starts = [];
  const date = new Date(from + 'T00:00:00Z');
  while (date.getTime() < end) {
    if (starts.length === MAX_POINTS) {
      return null;
    }
    starts.push(date.getTime() / 1000);
    if (granularity === 'hour') {
      date.setUTCHours(date.getUTCHours() + 1);
    } else if (granularity === 'day') {
      date.setUTCDate(date.getUTCDate() + 1);
    } else {
      date.setUTCMonth(date.getUTCMonth() + 1, 1);
    }
  }
  return starts;
}

/** Offers the tenants with usage in a period, when the key may list them (a read key for "*", or admin); else none. */
async function fillTenants(datalist, period) {
  try {
    const listing = await getJson('/v1/invoices?period=' + encodeURIComponent(period), NEEDS.allTenants);
    replace(datalist, listing.invoices.map((i) => h('option', {value: i.tenant})));
  } catch (refused) {
    // a key for some tenants only: the tenant is typed
  }
}
