// Credits: one tenant's prepaid credit grants (GET /v1/tenants/{tenant}/credits), in the order invoices draw them, with
// what each has drawn (final invoices), holds (open drafts), has remaining and has lost (expired). Money is shown as the
// API's strings.

import {h, replace, table, errorBox, field} from '../dom.js';
import {getJson, NEEDS, ApiError} from '../api.js';
import {text} from '../format.js';

export const title = 'Credits';

const COLUMNS = [
  {key: 'id', label: 'grant'},
  {key: 'status', label: 'status'},
  {key: 'currency', label: 'currency'},
  {key: 'amount', label: 'amount', num: true},
  {key: 'drawn', label: 'drawn', num: true},
  {key: 'held', label: 'held', num: true},
  {key: 'remaining', label: 'remaining', num: true},
  {key: 'expired', label: 'expired', num: true},
  {key: 'priority', label: 'priority', num: true},
  {key: 'models', label: 'models'},
  {key: 'effective_at', label: 'effective at (UTC)'},
  {key: 'expires_at', label: 'expires at (UTC)'},
  {key: 'recorded_at', label: 'recorded at'},
];

function cell(grant, key) {
  if (key === 'status') {
    return h('span', {className: 'badge ' + (grant.status === 'expired' ? 'expired' : 'active')}, grant.status);
  }
  return key === 'models' ? (grant.models || []).join(', ') : text(grant[key]);
}

export async function render(main, route, app) {
  const tenant = route.params.get('tenant') || '';
  const tenantInput = h('input', {name: 'tenant', id: 'f-credits-tenant', value: tenant, required: true, autocomplete: 'off',
    size: 16, pattern: '[A-Za-z0-9._:\\-]{1,64}'});
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'credits-status'});
  const results = h('div', {id: 'credits-results'});
  replace(main, h('h2', null, tenant ? 'Credits of ' + tenant : 'Credits'),
    h('form', {className: 'query', id: 'credits-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('credits', [], {tenant: tenantInput.value.trim()}));
    }}, field('Tenant', tenantInput), h('button', {type: 'submit', className: 'primary', id: 'credits-show'}, 'Show')),
    status, results,
    h('p', {className: 'note'}, 'Drawn: spent by final invoices. Held: drawn by the drafts of open months as they stand now. '
      + 'Expired: what was left when the grant\u2019s last month was finalized. Amount = drawn + held + remaining + expired.'));
  if (!tenant) {
    return;
  }
  status.textContent = 'Loading the credit grants of ' + tenant + '\u2026';
  let answer;
  try {
    answer = await getJson('/v1/tenants/' + encodeURIComponent(tenant) + '/credits', NEEDS.tenant(tenant));
  } catch (failure) {
    status.textContent = '';
    replace(results, errorBox(failure instanceof ApiError ? failure.explain() : String(failure)));
    return;
  }
  if (!app.isCurrent(app.token)) {
    return;
  }
  status.textContent = answer.grants.length + ' credit grant' + (answer.grants.length === 1 ? '' : 's') + ' of '
    + answer.tenant + ', in the order invoices draw them.';
  replace(results, table({caption: 'Credit grants of ' + answer.tenant, id: 'credits-table', columns: COLUMNS,
    rows: answer.grants.map((grant) => COLUMNS.map((c) => cell(grant, c.key)))}));
}
