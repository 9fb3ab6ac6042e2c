// How values are shown: exactly as the API gave them. Money arrives as strings and stays strings; integers beyond
// what a JavaScript number holds exactly arrive as their digits (see api.js, parseExact).

/** @return the value as the API wrote it, or a dash for null/absent. */
export function text(value) {
  return value === undefined || value === null || value === '' ? '\u2014' : String(value);
}

/** @return the current UTC month, YYYY-MM. */
export function currentPeriod(now = new Date()) {
  return now.toISOString().substring(0, 7);
}

/** @return the first day (YYYY-MM-DD) of the month of a period YYYY-MM, shifted by some months. */
export function monthStart(period, shift = 0) {
  const [year, month] = period.split('-').map(Number);
  const date = new Date(Date.UTC(year, month - 1 + shift, 1));
  return date.toISOString().substring(0, 10);
}

/** @return whether a string is a date YYYY-MM-DD. */
export function isDate(value) {
  return /^\d{4}-\d{2}-\d{2}$/.test(value || '') && !Number.isNaN(Date.parse(value + 'T00:00:00Z'));
}

/** @return whether a string is a period YYYY-MM. */
export function isPeriod(value) {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(value || '');
}

/** @return a number for a chart (an approximation is fine there; tables show the exact text). */
export function plotNumber(value) {
  return value === undefined || value === null ? null : Number(value);
}

/** Seconds (a Prometheus value, as text) shown as milliseconds with three decimals. */
export function millis(secondsText) {
  if (secondsText === undefined) {
    return '\u2014';
  }
  const seconds = Number(secondsText);
  return Number.isFinite(seconds) ? (seconds * 1000).toFixed(3) + ' ms' : String(secondsText);
}

/**
 * A Prometheus value as text ("35.0", "1.2345678E7": the server writes Java doubles) shown as a whole number when it
 * is one (every count below 2^53 is, exactly), else as the text it came as.
 */
export function metricNumber(valueText) {
  if (valueText === undefined) {
    return '\u2014';
  }
  const value = Number(valueText);
  return Number.isSafeInteger(value) ? String(value) : valueText;
}
