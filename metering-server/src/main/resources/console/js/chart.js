// Line charts over uPlot (the WebJar served by this server). Series differ by dash pattern and width as well as
// colour, and the legend names each, so the chart reads without colour; the table beside it holds the exact numbers.

import uPlot from '../vendor/uplot/uPlot.esm.js';

// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), and dashes for none at all
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const DASHES = [[], [8, 4], [2, 3], [12, 4, 2, 4], [4, 4], [1, 6], [16, 6], [6, 2, 2, 2, 2, 2]];

let live = [];

/** Removes every chart of the previous page (and its resize listener). */
export function destroyCharts() {
  for (const chart of live) {
    chart.destroy();
  }
  live = [];
}

window.addEventListener('resize', () => {
  for (const chart of live) {
    const width = chart.root.parentElement ? chart.root.parentElement.clientWidth : 0;
    if (width > 0) {
      chart.setSize({width, height: chart.height});
    }
  }
});

/**
 * Draws a line chart into a container.
 *
 * @param container an element (the chart takes its width)
 * @param xs x values in seconds since the epoch (UTC), ascending
 * @param series [{label, values}] with values aligned to xs (null where there is no value)
 * @param step the x distance of one period in seconds, to pad a chart with a single x value
 * @param yLabel what the y axis counts
 * @param xRange [min, max] of the x axis in seconds (the range asked for), or none to fit the values
 */
export function lineChart(container, {xs, series, step = 3600, yLabel = '', height = 280, title, xRange}) {
  const width = Math.max(280, container.clientWidth || 600);
  const options = {
    title,
    width,
    height,
    // every time on the axes and in the legend is UTC, as in the API
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    scales: {
      x: {
        time: true,
        range: xRange ? () => xRange : (u, min, max) => (min === max ? [min - step, max + step] : [min, max]),
      },
      y: {
        range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1],
      },
    },
    axes: [
      {},
      {label: yLabel, size: 70},
    ],
    series: [
      {label: 'time (UTC)', value: (u, v) => (v === null ? '\u2014' : new Date(v * 1000).toISOString().replace('.000Z', 'Z'))},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 1.5 + (i % 3) * 0.75,
        dash: DASHES[i % DASHES.length],
        points: {show: true, size: 6 + (i % 3) * 2},
        spanGaps: false,
      })),
    ],
    legend: {live: true},
    cursor: {focus: {prox: 16}},
  };
  const chart = new uPlot(options, [xs, ...series.map((s) => s.values)], container);
  live.push(chart);
  return chart;
}
