// Budgets: one tenant's budget (GET /v1/budgets/{tenant}): its limit, period, mode, what is spent, reserved and still
// available, with a bar of the three; the thresholds it crossed and their webhook deliveries (GET .../alerts); a form
// that sets the budget (PUT, admin key), showing the server's problems next to their fields; and a lookup of one
// reservation by id (GET /v1/reservations/{tenant}/{id}). Money is shown as the API's strings.

import {h, replace, table, errorBox, facts, field, select} from '../dom.js';
import {getJson, request, parseExact, NEEDS, ApiError} from '../api.js';
import {text} from '../format.js';

export const title = 'Budgets';

/** The fields of the budget form, as the API names them (its 400 `details` name the same). */
const FORM_FIELDS = ['limit', 'period', 'mode', 'alert_percents', 'webhook'];

const ALERT_COLUMNS = [
  {key: 'threshold_percent', label: 'threshold %', num: true},
  {key: 'spent', label: 'spent', num: true},
  {key: 'limit', label: 'limit', num: true},
  {key: 'currency', label: 'currency'},
  {key: 'period', label: 'period'},
  {key: 'period_start', label: 'period start (UTC)'},
  {key: 'crossed_at', label: 'crossed at (UTC)'},
  {key: 'webhook', label: 'webhook'},
  {key: 'delivery', label: 'delivery'},
  {key: 'attempts', label: 'attempts', num: true},
  {key: 'delivered_at', label: 'delivered at (UTC)'},
  {key: 'last_error', label: 'last error'},
];

function explain(failure) {
  return failure instanceof ApiError ? failure.explain() : String(failure);
}

function budgetPath(tenant) {
  return '/v1/budgets/' + encodeURIComponent(tenant);
}

/** @return a part of the bar, its width a share of the whole (set through the CSSOM, which the policy allows). */
function segment(kind, share) {
  const part = h('span', {className: 'segment ' + kind, 'data-share': share.toFixed(4)});
  part.style.width = (share * 100).toFixed(2) + '%';
  return part;
}

/**
 * A bar of spent (solid), reserved (hatched) and available (empty), as shares of the limit, or of spent + reserved when
 * they pass it (then a mark shows where the limit is). The widths are approximate (numbers, for drawing); the legend
 * under it gives each amount exactly as the API wrote it, with the same marks as the bar, so no colour is needed.
 */
function bar(budget) {
  const limit = Math.max(Number(budget.limit), 0);
  const spent = Math.max(Number(budget.spent), 0);
  const reserved = Math.max(Number(budget.reserved), 0);
  const whole = Math.max(limit, spent + reserved);
  const share = (amount) => (whole > 0 ? Math.min(amount / whole, 1) : 0);
  const over = spent + reserved > limit;
  const spentShare = share(spent);
  const reservedShare = Math.min(share(reserved), 1 - spentShare);
  const track = h('div', {className: 'track', role: 'img', 'aria-label': 'spent ' + budget.spent + ', reserved '
    + budget.reserved + ', available ' + budget.available + ' of ' + budget.limit + ' ' + budget.currency
    + (over ? ' (over the limit)' : '')},
  segment('spent', spentShare), segment('reserved', reservedShare),
  segment('available', Math.max(1 - spentShare - reservedShare, 0)));
  if (over && whole > 0) {
    const mark = h('span', {className: 'limit-mark', title: 'the limit'});
    mark.style.left = (share(limit) * 100).toFixed(2) + '%';
    track.appendChild(mark);
  }
  return h('figure', {className: 'budget-bar', id: 'budget-bar'}, track,
    h('figcaption', null, h('ul', {className: 'legend'},
      h('li', {className: 'spent'}, 'spent ', h('strong', null, budget.spent)),
      h('li', {className: 'reserved'}, 'reserved ', h('strong', null, budget.reserved)),
      h('li', {className: 'available'}, 'available ', h('strong', null, budget.available)),
      h('li', {className: 'of'}, 'of ', h('strong', null, budget.limit + ' ' + budget.currency),
        over ? ' \u2014 over the limit (the bar\u2019s mark)' : ''))));
}

/** @return what a mode does, in words. */
function modeWords(mode) {
  if (mode === 'hard') {
    return 'a reservation that the available amount cannot cover is refused (402); usage is always counted';
  }
  return mode === 'soft' ? 'reservations are never refused; the alerts tell when thresholds are crossed' : '';
}

function budgetFacts(budget) {
  const percents = budget.alert_percents || [];
  return facts([
    ['Tenant', text(budget.tenant)],
    ['Limit', [h('span', {id: 'budget-limit'}, text(budget.limit)), ' ', h('span', {id: 'budget-currency'}, text(budget.currency))]],
    ['Period', h('span', {id: 'budget-period'}, text(budget.period))],
    ['Period start (UTC)', h('span', {id: 'budget-period-start'}, text(budget.period_start))],
    ['Period end (UTC, exclusive)', h('span', {id: 'budget-period-end'}, text(budget.period_end))],
    ['Mode', [h('span', {className: 'badge ' + budget.mode, id: 'budget-mode'}, text(budget.mode)), ' ',
      modeWords(budget.mode)]],
    ['Spent', h('span', {id: 'budget-spent'}, text(budget.spent))],
    ['Reserved', h('span', {id: 'budget-reserved'}, text(budget.reserved))],
    ['Available', h('span', {id: 'budget-available'}, text(budget.available))],
    ['Open reservations', h('span', {id: 'budget-open'}, text(budget.open_reservations))],
    ['Alert percents', h('span', {id: 'budget-alert-percents'}, percents.length > 0
      ? percents.map((p) => p + ' %').join(', ') : 'none')],
    ['Webhook', h('span', {id: 'budget-webhook'}, budget.webhook ? budget.webhook : 'none (crossings are listed, not posted)')],
  ], 'budget-facts');
}

/** @return the state of an alert's webhook delivery, in a word (also its badge's class), and the words after it. */
function delivery(alert) {
  const d = alert.delivery;
  if (!d) {
    return alert.webhook ? ['unknown', 'not held by this server since its start (deliveries are kept in memory)']
      : ['not_posted', 'no webhook'];
  }
  if (d.delivered) {
    return ['delivered', ''];
  }
  if (d.gave_up) {
    return ['gave_up', ''];
  }
  if (!alert.webhook && d.attempts === 0) {
    return ['not_posted', 'no webhook'];
  }
  return ['retrying', ''];
}

function alertCell(alert, key) {
  if (key === 'delivery') {
    const [state, words] = delivery(alert);
    return [h('span', {className: 'badge ' + state}, state.replace('_', ' ')), words ? ' ' + words : ''];
  }
  const d = alert.delivery || {};
  if (['attempts', 'delivered_at', 'last_error'].includes(key)) {
    return text(d[key]);
  }
  return text(alert[key]);
}

function alertsPart(answer) {
  if (answer.alerts.length === 0) {
    return h('p', {className: 'note', id: 'budget-alerts-none'}, 'No threshold crossed in the periods kept.');
  }
  return table({caption: 'Thresholds crossed by ' + answer.tenant + ', oldest first', id: 'budget-alerts-table',
    columns: ALERT_COLUMNS, rows: answer.alerts.map((alert) => ALERT_COLUMNS.map((c) => alertCell(alert, c.key)))});
}

/** @return the body of a PUT from the form as typed: the server checks every field and names each problem. */
function budgetBody(controls) {
  const body = {};
  const limit = controls.limit.value.trim();
  if (limit !== '') {
    body.limit = limit;
  }
  body.period = controls.period.value;
  body.mode = controls.mode.value;
  const percents = controls.alert_percents.value.split(/[\s,]+/).filter((p) => p !== '');
  // whole numbers go as numbers; anything else goes as typed, so that the server's problem quotes it
  body.alert_percents = percents.map((p) => (/^\d{1,9}$/.test(p) ? Number(p) : p));
  const webhook = controls.webhook.value.trim();
  if (webhook !== '') {
    body.webhook = webhook;
  }
  return body;
}

function clearProblems(problems, controls) {
  for (const name of FORM_FIELDS) {
    problems[name].textContent = '';
    problems[name].hidden = true;
    controls[name].removeAttribute('aria-invalid');
  }
}

/** Puts each of a 400's problems next to its field; @return the problems of no field of the form. */
function showProblems(details, problems, controls) {
  const elsewhere = [];
  for (const detail of details) {
    const name = String(detail.field || '').split(/[.[]/)[0];
    if (!FORM_FIELDS.includes(name)) {
      elsewhere.push(detail);
      continue;
    }
    const shown = problems[name];
    shown.textContent = (shown.textContent ? shown.textContent + '; ' : '') + detail.message;
    shown.hidden = false;
    controls[name].setAttribute('aria-invalid', 'true');
  }
  return elsewhere;
}

/**
 * The form that sets the budget, filled with the one in force (or defaults); `onSet(answer, message)` is called with
 * the PUT's answer, `done` is a message to show under it (after a PUT, in the form made afresh).
 */
function setForm(tenant, budget, onSet, done) {
  const current = budget || {};
  const controls = {
    limit: h('input', {name: 'limit', id: 'f-budget-limit', value: current.limit || '', autocomplete: 'off', size: 12,
      inputmode: 'decimal', placeholder: '500.00'}),
    period: select('budget-period', [{value: 'month', label: 'month (UTC calendar month)'},
      {value: 'day', label: 'day (UTC calendar day)'}], current.period || 'month'),
    mode: select('budget-mode', [{value: 'hard', label: 'hard: refuse reservations beyond it'},
      {value: 'soft', label: 'soft: alerts only'}], current.mode || 'hard'),
    alert_percents: h('input', {name: 'alert_percents', id: 'f-budget-alert-percents', autocomplete: 'off', size: 14,
      value: (current.alert_percents || (budget ? [] : [50, 80, 100])).join(', '), placeholder: '50, 80, 100'}),
    webhook: h('input', {name: 'webhook', id: 'f-budget-webhook', value: current.webhook || '', autocomplete: 'off',
      size: 32, type: 'text', spellcheck: 'false'}),
  };
  const problems = {};
  for (const name of FORM_FIELDS) {
    problems[name] = h('span', {className: 'problem', id: 'budget-problem-' + name, hidden: true});
    controls[name].setAttribute('aria-describedby', 'budget-problem-' + name);
  }
  const outcome = h('div', {id: 'budget-set-outcome'}, done ? h('p', {className: 'note', id: 'budget-set-done',
    role: 'status'}, done) : null);
  const labelled = (label, name) => h('label', null, h('span', null, label), controls[name], problems[name]);
  const form = h('form', {className: 'query edit', id: 'budget-form', noValidate: true, onsubmit: async (event) => {
    event.preventDefault();
    clearProblems(problems, controls);
    replace(outcome, h('p', {className: 'status', role: 'status'}, 'Setting the budget of ' + tenant + '\u2026'));
    try {
      const response = await request('PUT', budgetPath(tenant), {needs: NEEDS.admin,
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify(budgetBody(controls))});
      const answer = parseExact(await response.text());
      onSet(answer, 'Budget set: ' + answer.limit + ' ' + answer.currency + ' a ' + answer.period + ', ' + answer.mode
        + '. It is in force from now on.');
    } catch (failure) {
      const details = failure instanceof ApiError && failure.status === 400 && failure.body
        && Array.isArray(failure.body.details) ? failure.body.details : null;
      if (!details) {
        replace(outcome, errorBox(explain(failure)));
        return;
      }
      const elsewhere = showProblems(details, problems, controls);
      replace(outcome, errorBox('The budget was not set: the server found ' + details.length + ' problem'
        + (details.length === 1 ? '' : 's') + (elsewhere.length < details.length ? ', shown next to the fields' : '')
        + (elsewhere.length > 0 ? ': ' + elsewhere.map((d) => d.field + ': ' + d.message).join('; ') : '') + '.'));
      const first = FORM_FIELDS.find((name) => !problems[name].hidden);
      if (first) {
        controls[first].focus();
      }
    }
  }},
  labelled('Limit (' + (current.currency || 'the tenant\u2019s currency') + ')', 'limit'),
  labelled('Period', 'period'), labelled('Mode', 'mode'), labelled('Alert percents', 'alert_percents'),
  labelled('Webhook URL (optional; http or https)', 'webhook'),
  h('button', {type: 'submit', className: 'primary', id: 'budget-set'}, budget ? 'Change the budget' : 'Set the budget'));
  return h('section', {'aria-labelledby': 'budget-set-title'},
    h('h3', {id: 'budget-set-title'}, (budget ? 'Change the budget of ' : 'Set a budget for ') + tenant),
    h('p', {className: 'note'}, 'This needs an admin key. The new budget replaces the old one from now on; what was spent '
      + 'in the period still counts, and reservations already held stay held.'),
    form, outcome);
}

function reservationPart(answer) {
  const pairs = [
    ['Reservation', h('span', {id: 'reservation-id'}, text(answer.reservation))],
    ['Tenant', text(answer.tenant)],
    ['State', h('span', {className: 'badge ' + answer.state, id: 'reservation-state'}, text(answer.state))],
    ['Held', [h('span', {id: 'reservation-held'}, text(answer.held)), ' ', text(answer.currency)]],
    ['Created at (UTC)', h('span', {id: 'reservation-created'}, text(answer.created_at))],
    ['Expires at (UTC)', h('span', {id: 'reservation-expires'}, text(answer.expires_at))],
  ];
  if (answer.closed_at) {
    pairs.push(['Closed at (UTC)', h('span', {id: 'reservation-closed'}, text(answer.closed_at))]);
  }
  return [facts(pairs, 'reservation-facts'), h('p', {className: 'note'}, answer.state === 'open'
    ? 'Open: the amount is held against the budget until an event names the reservation (settled), it is released, or '
      + 'it expires.'
    : 'Closed (' + answer.state + '): it holds nothing any more.')];
}

async function showReservation(results, tenant, id, app) {
  replace(results, h('p', {className: 'status', role: 'status'}, 'Looking up reservation ' + id + '\u2026'));
  let answer;
  try {
    answer = await getJson('/v1/reservations/' + encodeURIComponent(tenant) + '/' + encodeURIComponent(id),
      NEEDS.reservation(tenant));
  } catch (failure) {
    if (!app.isCurrent(app.token)) {
      return;
    }
    replace(results, failure instanceof ApiError && failure.code === 'no_reservation'
      ? h('p', {className: 'note', id: 'reservation-none'}, failure.message + '.')
      : errorBox(explain(failure)));
    return;
  }
  if (app.isCurrent(app.token)) {
    replace(results, reservationPart(answer));
  }
}

function reservationForm(tenant, id, app) {
  const idInput = h('input', {name: 'reservation', id: 'f-reservation-id', value: id, required: true, autocomplete: 'off',
    size: 24, pattern: '[!-~]{1,128}', spellcheck: 'false'});
  return h('section', {'aria-labelledby': 'reservation-title'},
    h('h3', {id: 'reservation-title'}, 'A reservation of ' + tenant),
    h('form', {className: 'query', id: 'reservation-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('budgets', [], {tenant, reservation: idInput.value.trim()}));
    }}, field('Reservation id', idInput), h('button', {type: 'submit', id: 'reservation-show'}, 'Look up')),
    h('p', {className: 'note'}, 'Looking up a reservation needs an ingest key for the tenant (the gateway\u2019s, which '
      + 'made it) or an admin key. A closed reservation is kept for a dedup window.'));
}

export async function render(main, route, app) {
  const tenant = route.params.get('tenant') || '';
  const reservation = route.params.get('reservation') || '';
  const tenantInput = h('input', {name: 'tenant', id: 'f-budget-tenant', value: tenant, required: true, autocomplete: 'off',
    size: 16, pattern: '[A-Za-z0-9._:\\-]{1,64}'});
  const status = h('p', {className: 'status', role: 'status', 'aria-live': 'polite', id: 'budget-status'});
  const results = h('div', {id: 'budget-results'});
  replace(main, h('h2', null, tenant ? 'Budget of ' + tenant : 'Budgets'),
    h('form', {className: 'query', id: 'budget-tenant-form', onsubmit: (event) => {
      event.preventDefault();
      app.navigate(app.link('budgets', [], {tenant: tenantInput.value.trim()}));
    }}, field('Tenant', tenantInput), h('button', {type: 'submit', className: 'primary', id: 'budget-show'}, 'Show')),
    status, results);
  if (!tenant) {
    main.appendChild(h('p', {className: 'note'}, 'A budget limits what a tenant may spend in a UTC day or month, priced as '
      + 'its invoice would price it (before credits). Type a tenant to see its budget.'));
    return;
  }
  status.textContent = 'Loading the budget of ' + tenant + '\u2026';
  const [budgetAnswer, alertsAnswer] = await Promise.allSettled([getJson(budgetPath(tenant), NEEDS.budget(tenant)),
    getJson(budgetPath(tenant) + '/alerts', NEEDS.budget(tenant))]);
  if (!app.isCurrent(app.token)) {
    return;
  }
  status.textContent = '';
  let budget = null;
  if (budgetAnswer.status === 'fulfilled') {
    budget = budgetAnswer.value;
    replace(results, bar(budget), budgetFacts(budget));
  } else if (budgetAnswer.reason instanceof ApiError && budgetAnswer.reason.code === 'no_budget') {
    replace(results, h('p', {className: 'note', id: 'budget-none'}, h('strong', null, 'tenant ' + tenant
      + ' has no budget'), ': its spending is not limited and no alert is sent. An admin key sets one below.'));
  } else {
    // refused (a key of other tenants) or failed: nothing of the tenant is shown, nor offered
    replace(results, errorBox(explain(budgetAnswer.reason)));
    return;
  }
  const alerts = h('div', {id: 'budget-alerts'}, alertsAnswer.status === 'fulfilled' ? alertsPart(alertsAnswer.value)
    : errorBox(explain(alertsAnswer.reason)));
  const reservationResults = h('div', {id: 'reservation-results'});
  const editing = h('div', {id: 'budget-edit'});
  const onSet = async (answer, message) => {
    replace(results, bar(answer), budgetFacts(answer));
    replace(editing, setForm(tenant, answer, onSet, message));
    try {
      const listed = await getJson(budgetPath(tenant) + '/alerts', NEEDS.budget(tenant));
      if (app.isCurrent(app.token)) {
        replace(alerts, alertsPart(listed));
      }
    } catch (failure) {
      replace(alerts, errorBox(explain(failure)));
    }
  };
  replace(editing, setForm(tenant, budget, onSet, null));
  main.append(h('h3', null, 'Alerts'), alerts, reservationForm(tenant, reservation, app), reservationResults, editing);
  if (reservation) {
    await showReservation(reservationResults, tenant, reservation, app);
  }
}
