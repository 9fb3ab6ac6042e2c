// Small DOM helpers. Text always goes in as text nodes (never as HTML), so nothing the API returns can become markup.

/**
 * h('p', {className: 'x', onclick: fn, 'aria-live': 'polite'}, 'text', child, ...): an element. Keys starting with
 * "on" are listeners, className/textContent/value/disabled/checked/hidden are properties, the rest attributes.
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.substring(2), value);
    } else if (['className', 'textContent', 'value', 'disabled', 'checked', 'hidden', 'selected'].includes(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(element, child);
    } else if (child instanceof Node) {
      element.appendChild(child);
    } else {
      element.appendChild(document.createTextNode(String(child)));
    }
  }
}

/** Replaces every child of an element. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/**
 * A table in a scrolling wrapper: columns [{label, num}], rows of cells (text or nodes), an optional footer row.
 * Each cell's column name is also in data-column, so a test or a script can find a value by name.
 */
export function table({caption, columns, rows, footer, id}) {
  const head = h('tr', null, columns.map((c) => h('th', {scope: 'col', className: c.num ? 'num' : '', 'data-column': c.key},
    c.label)));
  const body = rows.map((row) => h('tr', null, row.map((cell, i) => h('td',
    {className: columns[i].num ? 'num' : '', 'data-column': columns[i].key}, cell))));
  const foot = footer ? h('tfoot', null, h('tr', null, footer.map((cell, i) => (i === 0
    ? h('th', {scope: 'row', 'data-column': columns[i].key}, cell)
    : h('td', {className: columns[i].num ? 'num' : '', 'data-column': columns[i].key}, cell))))) : null;
  return h('div', {className: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption},
    h('table', {id}, h('caption', null, caption), h('thead', null, head), h('tbody', null, body), foot));
}

/** An error box, readable without colour: it starts with the word "Error". */
export function errorBox(text) {
  return h('div', {className: 'error', role: 'alert'}, h('strong', null, 'Error:'), h('span', {className: 'error-text'}, text));
}

/** A labelled form field: label text, then the control. */
export function field(label, control) {
  return h('label', null, h('span', null, label), control);
}

/** A select with options [{value, label}] and the value chosen. */
export function select(name, options, chosen) {
  return h('select', {name, id: 'f-' + name}, options.map((o) => h('option',
    {value: o.value, selected: o.value === chosen}, o.label)));
}

/** Facts as a description list: [[term, value], ...]; a value may be a node. */
export function facts(pairs, id) {
  return h('dl', {className: 'facts', id}, pairs.flatMap(([term, value]) => [h('dt', null, term),
    h('dd', {'data-fact': term}, value)]));
}
