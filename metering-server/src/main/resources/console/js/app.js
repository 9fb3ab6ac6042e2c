// The console's entry point: the key area, the pages and their deep links (#/usage?tenant=acme&granularity=day,
// #/invoices/acme/2026-11, #/credits?tenant=acme, #/budgets?tenant=acme, ...). Everything it shows comes from the
// public API, fetched with the user's key.

import {h, replace} from './dom.js';
import {session, probe} from './api.js';
import {destroyCharts} from './chart.js';
import * as usage from './pages/usage.js';
import * as invoices from './pages/invoices.js';
import * as prices from './pages/prices.js';
import * as credits from './pages/credits.js';
import * as budgets from './pages/budgets.js';
import * as operations from './pages/operations.js';

const PAGES = {usage, invoices, credits, budgets, prices, operations};

/** @return the page, path segments and query of a hash such as "#/invoices/acme/2026-11?x=1". */
export function parseRoute(hash) {
  const text = (hash || '').replace(/^#\/?/, '');
  const query = text.indexOf('?');
  const path = query >= 0 ? text.substring(0, query) : text;
  const segments = path.split('/').filter((s) => s !== '').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch (malformed) {
      return s;
    }
  });
  return {
    page: PAGES[segments[0]] ? segments[0] : 'usage',
    segments: segments.slice(1),
    params: new URLSearchParams(query >= 0 ? text.substring(query + 1) : ''),
  };
}

/** @return the deep link of a page: link('invoices', ['acme', '2026-11']) or link('usage', [], {tenant: 'acme'}). */
export function link(page, segments = [], params = {}) {
  const path = [page, ...segments.map((s) => encodeURIComponent(s))].join('/');
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const q = query.toString();
  return '#/' + path + (q ? '?' + q : '');
}

let cleanup = null;
let generation = 0;

const app = {
  link,
  /** Goes to a deep link; the same link again renders the page again. */
  navigate(hash) {
    if (location.hash === hash) {
      render(true);
    } else {
      location.hash = hash;
    }
  },
  /** @return whether a page render is still the one on screen (an answer for an older one is dropped). */
  isCurrent(token) {
    return token === generation;
  },
};

async function render(focus) {
  generation += 1;
  const token = generation;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  destroyCharts();
  const route = parseRoute(location.hash);
  for (const a of document.querySelectorAll('nav a[data-page]')) {
    if (a.dataset.page === route.page) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  const main = document.getElementById('main');
  main.removeAttribute('data-ready');
  main.dataset.page = route.page;
  replace(main);
  document.title = PAGES[route.page].title + ' \u2014 tokenmeter console';
  const page = PAGES[route.page];
  try {
    const stop = await page.render(main, route, {...app, token});
    if (app.isCurrent(token)) {
      cleanup = typeof stop === 'function' ? stop : null;
    } else if (typeof stop === 'function') {
      stop();
    }
  } finally {
    if (app.isCurrent(token)) {
      main.setAttribute('data-ready', 'true');
    }
  }
  if (focus && app.isCurrent(token)) {
    const heading = main.querySelector('h2');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
  }
}

function renderKey() {
  const area = document.getElementById('key');
  if (session.open) {
    replace(area, h('p', {id: 'key-state'}, 'Open server: no key needed (it runs without a keys file, on this machine only).'));
    return;
  }
  if (session.key()) {
    replace(area,
      h('p', {id: 'key-state'}, 'A key is in use in this tab.'),
      h('button', {type: 'button', id: 'key-forget', onclick: () => {
        session.forget();
        renderKey();
        render(false);
        document.getElementById('key-input').focus();
      }}, 'Forget key'));
    return;
  }
  const input = h('input', {type: 'password', id: 'key-input', name: 'key', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'tm_...', 'aria-describedby': 'key-help', required: true});
  replace(area, h('form', {id: 'key-form', onsubmit: (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key === '') {
      return;
    }
    session.setKey(key);
    renderKey();
    render(false);
  }},
  h('label', {for: 'key-input'}, 'API key'), input,
  h('button', {type: 'submit', className: 'primary', id: 'key-use'}, 'Use key'),
  h('span', {id: 'key-help', className: 'small'}, 'Kept only in this tab (session storage).')));
}

async function start() {
  document.getElementById('skip').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  if (!session.key()) {
    await probe();
  }
  renderKey();
  window.addEventListener('hashchange', () => render(true));
  await render(false);
}

start();
