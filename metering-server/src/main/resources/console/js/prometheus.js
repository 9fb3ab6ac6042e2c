// Reads the Prometheus text format of GET /metrics: the few tokenmeter_ families the operations page shows.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** @return a Map from metric name to its samples [{labels, value}], each value as the text the server wrote. */
export function parseMetrics(text) {
  const metrics = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const sample = SAMPLE.exec(line.trim());
    if (!sample) {
      continue;
    }
    const labels = {};
    for (const label of (sample[2] || '').matchAll(LABEL)) {
      labels[label[1]] = label[2].replace(/\\(.)/g, (all, c) => (c === 'n' ? '\n' : c));
    }
    if (!metrics.has(sample[1])) {
      metrics.set(sample[1], []);
    }
    metrics.get(sample[1]).push({labels, value: sample[3]});
  }
  return metrics;
}

/** @return the value text of the sample with these labels (all of them, others ignored), or undefined. */
export function valueOf(metrics, name, labels = {}) {
  for (const sample of metrics.get(name) || []) {
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) {
      return sample.value;
    }
  }
  return undefined;
}

/** @return every sample of a name. */
export function samplesOf(metrics, name) {
  return metrics.get(name) || [];
}
