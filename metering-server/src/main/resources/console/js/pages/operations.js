// Operations: readiness and its reasons (GET /health/ready), and from GET /metrics the ingest rate, ack latency
// percentiles, aggregation lag and partitions. Read again every two seconds while the page is open.

import {h, replace, table, errorBox} from '../dom.js';
import {request, NEEDS, ApiError, session} from '../api.js';
import {metricNumber, millis, text} from '../format.js';
import {parseMetrics, valueOf, samplesOf} from '../prometheus.js';
import {lineChart} from '../chart.js';

export const title = 'Operations';

const EVERY_MS = 2000;
const KEEP_SAMPLES = 150;
const RESULTS = ['accepted', 'duplicate', 'conflict', 'rejected'];

function card(title, id, big, small) {
  return h('section', {className: 'card', 'aria-labelledby': id + '-title'}, h('h3', {id: id + '-title'}, title),
    h('p', {className: 'big', id}, big), small ? h('p', {className: 'small', id: id + '-more'}, small) : null);
}

export async function render(main, route, app) {
  const status = h('p', {className: 'status', role: 'status', id: 'ops-status'});
  const ready = h('div', {id: 'ops-ready'});
  const problems = h('div', {id: 'ops-problems'});
  const cards = h('div', {className: 'cards', id: 'ops-cards'});
  const chartBox = h('div', {className: 'chart', id: 'ops-chart', role: 'img',
    'aria-label': 'Chart of accepted events per second over the last minutes'});
  const partitions = h('div', {id: 'ops-partitions'});
  replace(main, h('h2', null, 'Operations'), status, ready, problems, cards, h('h3', null, 'Accepted events per second'),
    chartBox, h('h3', null, 'Partitions'), partitions);

  const history = {xs: [], rates: []};
  let previous = null;
  let chart = null;
  let timer = null;
  let stopped = false;

  async function poll() {
    const [health, metrics] = await Promise.allSettled([
      request('GET', '/health/ready', {open: true, acceptStatus: [503]}).then((r) => r.json()),
      request('GET', '/metrics', {needs: NEEDS.allTenants + ' (or metrics-access: open)', open: !session.key()}).then((r) => r.text()),
    ]);
    if (stopped) {
      return;
    }
    status.textContent = 'Read at ' + new Date().toISOString().replace(/\.\d+Z$/, 'Z') + '; read again every '
      + EVERY_MS / 1000 + ' s.';
    showReadiness(ready, health);
    if (metrics.status === 'rejected') {
      const failure = metrics.reason;
      replace(problems, errorBox('Metrics: ' + (failure instanceof ApiError ? failure.explain() : String(failure))));
      return;
    }
    replace(problems);
    const now = performance.now();
    const m = parseMetrics(metrics.value);
    const accepted = Number(valueOf(m, 'tokenmeter_ingest_events_total', {result: 'accepted'}) || '0');
    let rate = null;
    if (previous !== null && now > previous.at) {
      rate = Math.max(0, (accepted - previous.accepted) / ((now - previous.at) / 1000));
    }
    previous = {at: now, accepted};
    showCards(cards, m, rate);
    showPartitions(partitions, m, health);
    if (rate !== null) {
      history.xs.push(Date.now() / 1000);
      history.rates.push(rate);
      if (history.xs.length > KEEP_SAMPLES) {
        history.xs.shift();
        history.rates.shift();
      }
      if (chart === null && history.xs.length >= 2) {
        chart = lineChart(chartBox, {xs: history.xs.slice(), series: [{label: 'accepted events/s', values: history.rates.slice()}],
          step: EVERY_MS / 1000, yLabel: 'events/s', height: 200});
      } else if (chart !== null) {
        chart.setData([history.xs.slice(), history.rates.slice()]);
      }
    }
  }

  async function loop() {
    try {
      await poll();
    } catch (failure) {
      replace(problems, errorBox(String(failure)));
    }
    if (!stopped) {
      timer = setTimeout(loop, EVERY_MS);
    }
  }

  await loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function showReadiness(box, health) {
  if (health.status === 'rejected') {
    replace(box, errorBox('Readiness: ' + String(health.reason && health.reason.explain ? health.reason.explain()
      : health.reason)));
    return;
  }
  const state = health.value.status;
  const reasons = health.value.reasons || [];
  replace(box, h('p', null, h('strong', null, 'Readiness: '), h('span', {className: 'badge ' + state, id: 'ops-readiness'},
    state)),
  reasons.length === 0 ? h('p', {className: 'small', id: 'ops-reasons'}, 'No reasons given: serving normally.')
    : h('ul', {id: 'ops-reasons'}, reasons.map((r) => h('li', null, r))));
}

function showCards(box, m, rate) {
  const quantile = (q) => valueOf(m, 'tokenmeter_ingest_latency_window_seconds', {quantile: q});
  const totals = RESULTS.filter((r) => r !== 'accepted').map((r) => r + ' ' + metricNumber(valueOf(m, 'tokenmeter_ingest_events_total', {result: r})))
    .join(', ');
  const windowCount = valueOf(m, 'tokenmeter_ingest_latency_window_seconds_count');
  replace(box,
    card('Ingest', 'ops-rate', rate === null ? 'measuring\u2026' : rate.toFixed(1) + ' events/s',
      h('span', null, 'accepted since start: ', h('span', {id: 'ops-accepted'},
        metricNumber(valueOf(m, 'tokenmeter_ingest_events_total', {result: 'accepted'}))), '; ', totals)),
    card('Ack latency p50', 'ops-p50', millis(quantile('0.5')), 'receipt to ack, last 1\u20132 minutes, '
      + metricNumber(windowCount) + ' requests'),
    card('Ack latency p99', 'ops-p99', millis(quantile('0.99'))),
    card('Ack latency p99.9', 'ops-p999', millis(quantile('0.999')), 'max ' + millis(quantile('1.0'))),
    card('Aggregation lag', 'ops-lag', metricNumber(valueOf(m, 'tokenmeter_aggregation_lag_seconds')) + ' s',
      metricNumber(valueOf(m, 'tokenmeter_aggregation_lag_events')) + ' events not yet counted'),
    card('Journal queue', 'ops-queue', metricNumber(valueOf(m, 'tokenmeter_journal_queue_depth')),
      'requests waiting, fullest partition'),
    card('Dedup ids remembered', 'ops-dedup', metricNumber(valueOf(m, 'tokenmeter_dedup_size')),
      'of ' + metricNumber(valueOf(m, 'tokenmeter_dedup_capacity')) + ' in memory; window held '
        + metricNumber(valueOf(m, 'tokenmeter_dedup_effective_window_seconds')) + ' s'),
    card('Disk free', 'ops-disk', bytes(valueOf(m, 'tokenmeter_disk_free_bytes')),
      'log ' + bytes(valueOf(m, 'tokenmeter_log_size_bytes'))));
}

function bytes(valueText) {
  const value = Number(valueText);
  if (valueText === undefined || !Number.isFinite(value)) {
    return text(valueText);
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return (u === 0 ? String(v) : v.toFixed(1)) + ' ' + units[u];
}

function showPartitions(box, m, health) {
  const count = Number(valueOf(m, 'tokenmeter_partitions') || '0');
  const reasons = health.status === 'fulfilled' ? health.value.reasons || [] : [];
  const rows = [];
  for (let p = 0; p < count; p++) {
    const own = reasons.filter((r) => r.includes('partition ' + p + ':') || r.endsWith('partition ' + p));
    rows.push([String(p), 'this node', own.length === 0 ? 'no reasons' : own.join('; ')]);
  }
  const build = samplesOf(m, 'tokenmeter_build_info')[0];
  replace(box,
    h('p', null, h('span', {id: 'ops-partition-count'}, String(count)), ' partition' + (count === 1 ? '' : 's')
      + ', each its own journal, log and aggregator' + (build ? '; version ' + build.labels.version : '') + '.'),
    table({caption: 'Partitions and owners', id: 'ops-partition-table',
      columns: [{key: 'partition', label: 'partition', num: true}, {key: 'owner', label: 'owner'},
        {key: 'reasons', label: 'readiness reasons'}], rows}),
    h('p', {className: 'note'}, 'A single node owns every partition. Owners other than this node appear once cluster mode '
      + '(SPEC section 10) is built.' + (session.open ? '' : ' Metrics need a read key for "*" or an admin key.')));
}
