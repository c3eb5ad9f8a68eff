/**
 * Reports: nice axis ticks, the SVG helpers, the aggregation of runs into results.json, and the
 * HTML pages (self-contained, one <svg> per chart, the expected series names).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { runScenario } from '../../../src/simulation/parallel.js';
import { formatMeanCi, renderReport } from '../../../src/simulation/report/html.js';
import { bandOf, toJson, type SimulationResults } from '../../../src/simulation/report/results.js';
import { renderSweepReport } from '../../../src/simulation/report/sweep-html.js';
import {
  escapeXml,
  formatValue,
  heatmap,
  intervalChart,
  lineChart,
  niceNumber,
  niceTicks,
  stackedAreaChart,
} from '../../../src/simulation/report/svg.js';
import { parseScenario } from '../../../src/simulation/scenario.js';
import { parseGridSpec, runSweep } from '../../../src/simulation/sweep.js';

/** True when `step` is 1, 2 or 5 times a power of ten. */
function isNice(step: number): boolean {
  const e = Math.floor(Math.log10(step) + 1e-12);
  const m = step / 10 ** e;
  return [1, 2, 5, 10].some((x) => Math.abs(m - x) < 1e-9);
}

/** No network references: nothing http(s) except the SVG namespace, no external scripts or styles. */
function expectSelfContained(html: string): void {
  const withoutNs = html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '');
  expect(withoutNs).not.toMatch(/https?:\/\//i);
  expect(html).not.toMatch(/<script\b[^>]*\bsrc/i);
  expect(html).not.toMatch(/<link\b/i);
  expect(html).not.toMatch(/@import|@font-face/i);
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('nice numbers and ticks (Heckbert 1990)', () => {
  test.each([
    [0.3, true, 0.5],
    [2.9, true, 2],
    [1.4, true, 1],
    [7.1, false, 10],
    [4.2, false, 5],
    [1234, true, 1000],
    [0.0021, false, 0.005],
  ])('niceNumber(%f, round %s) = %f', (x, round, expected) => {
    expect(niceNumber(x, round)).toBeCloseTo(expected, 12);
  });

  test('exact ticks on simple ranges', () => {
    expect(niceTicks(0, 100)).toMatchObject({ min: 0, max: 100, step: 20, values: [0, 20, 40, 60, 80, 100] });
    expect(niceTicks(0, 1)).toMatchObject({ step: 0.2, values: [0, 0.2, 0.4, 0.6, 0.8, 1], decimals: 1 });
    expect(niceTicks(-3, 7).values).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    // A degenerate range is widened around the value.
    const t = niceTicks(5, 5);
    expect(t.min).toBeLessThan(5);
    expect(t.max).toBeGreaterThan(5);
  });

  test('on 500 random ranges the step is nice, the ticks cover the range, are multiples of the step and few', () => {
    const rng = createRng('nice-ticks');
    for (let i = 0; i < 500; i++) {
      const scale = 10 ** (rng.int(12) - 6);
      const a = (rng.uniform() - 0.5) * 200 * scale;
      const b = a + rng.uniform() * 100 * scale + 1e-3 * scale;
      const t = niceTicks(a, b, 5);
      expect(isNice(t.step), `step ${t.step} for [${a}, ${b}]`).toBe(true);
      expect(t.min).toBeLessThanOrEqual(a + 1e-9 * scale);
      expect(t.max).toBeGreaterThanOrEqual(b - 1e-9 * scale);
      expect(t.values.length).toBeGreaterThanOrEqual(2);
      expect(t.values.length).toBeLessThanOrEqual(11);
      for (const v of t.values) expect(Math.abs(v / t.step - Math.round(v / t.step))).toBeLessThan(1e-6);
      // Printed with the tick decimals, consecutive ticks never print the same label.
      const labels = t.values.map((v) => formatValue(v, t.decimals));
      expect(new Set(labels).size).toBe(labels.length);
    }
  });

  test.each([
    [741.3, 12.4, 'number', '741 ± 12'],
    [55.2, 8.2, 'number', '55 ± 8'],
    [0.591, 0.041, 'number', '0.59 ± 0.04'],
    [12.5, 0.14, 'number', '12.50 ± 0.14'],
    [0.048, 0.00087, 'percent', '4.80% ± 0.09%'],
    [2921, 503, 'number', '2,921 ± 503'],
  ] as const)('formatMeanCi(%f ± %f, %s) = %s (rounded to the precision of the CI)', (mean, h, format, expected) => {
    expect(formatMeanCi({ mean, halfWidth: h, lower: mean - h, upper: mean + h, n: 10 }, format)).toBe(expected);
  });

  test('formatValue: thousands separators, fixed decimals, percent', () => {
    expect(formatValue(12500, 0)).toBe('12,500');
    expect(formatValue(0.25, 2, 'percent')).toBe('25%');
    expect(formatValue(0.1234, 3, 'percent')).toBe('12.3%');
    expect(formatValue(Number.NaN, 2)).toBe('–');
  });
});

describe('SVG helpers', () => {
  test('lineChart: one path per line, a band per series with bounds, axis labels, legend names, escaped text', () => {
    const svg = lineChart(
      [
        { name: 'a<b', color: '#111111', x: [0, 1, 2], y: [0, 1, 2], lower: [0, 0.5, 1.5], upper: [0, 1.5, 2.5] },
        { name: 'plain', color: '#222222', x: [0, 1, 2], y: [2, 1, 0] },
      ],
      { title: 'T & t', xLabel: 'decision', yLabel: 'reward' },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('T &amp; t');
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('a<b');
    expect(count(svg, 'fill-opacity="0.18"')).toBe(1); // one band
    expect(count(svg, 'stroke-width="2" stroke-linejoin')).toBe(2); // two lines
    expect(svg).toContain('>decision<');
    expect(svg).toContain('>reward<');
  });

  test('lineChart: yClamp keeps a share band inside [0, 1]', () => {
    const svg = lineChart([{ name: 's', color: '#000000', x: [0, 1], y: [0.02, 0.03], lower: [-0.2, -0.1], upper: [0.1, 0.2] }], {
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      yFormat: 'percent',
      yClamp: [0, 1],
    });
    expect(svg).not.toContain('-10%');
    expect(svg).toContain('>0%<');
  });

  test('stackedAreaChart: one filled path per layer, legend top-down', () => {
    const svg = stackedAreaChart([0, 1, 2], [
      { name: 'bottom', color: '#aaaaaa', values: [0.5, 0.5, 0.5] },
      { name: 'top', color: '#bbbbbb', values: [0.5, 0.5, 0.5] },
    ], { title: 'shares', xLabel: 'decision', yLabel: 'share', yFormat: 'percent' });
    expect(count(svg, 'fill-opacity="0.85"')).toBe(2);
    const legend = svg.slice(svg.indexOf('<g class="legend">'));
    expect(legend.indexOf('>top<')).toBeGreaterThan(0);
    expect(legend.indexOf('>top<')).toBeLessThan(legend.indexOf('>bottom<'));
    expect(svg).toContain('>100%<');
  });

  test('heatmap and intervalChart print their labels and outline the highlighted cell', () => {
    const hm = heatmap(['0', '0.1'], ['1'], [[{ value: 1, label: '1 ± 0.1' }, { value: 2, label: '2 ± 0.1', highlight: true }]], {
      title: 'h',
      xLabel: 'share',
      yLabel: 'temperature',
    });
    expect(hm).toContain('>2 ± 0.1<');
    expect(count(hm, 'stroke="#e15759"')).toBe(1);
    const ic = intervalChart([{ label: 'best', mean: 2, lower: 1, upper: 3, highlight: true }], { title: 'i', xLabel: 'reward' });
    expect(ic).toContain('>best<');
    expect(escapeXml(`"'&`)).toBe('&quot;&#39;&amp;');
  });
});

describe('aggregation', () => {
  test('bandOf: mean and Student-t CI at each point', () => {
    const b = bandOf([
      [0, 1],
      [0, 3],
    ]);
    expect(b.mean).toEqual([0, 2]);
    // n = 2: t_{0.975,1} = 12.706, s = √2, half-width = 12.706·√2/√2 = 12.706.
    expect(b.upper[1]).toBeCloseTo(2 + 12.706, 9);
    expect(b.lower[0]).toBe(0);
  });

  test('toJson parses back to what JSON.stringify gives and keeps number arrays on one line', () => {
    const value = { a: [1, 2, Number.NaN], b: { c: 'x', d: [{ e: true }], f: undefined }, g: [] };
    const text = toJson(value);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
    expect(text).toContain('"a": [1,2,null]');
  });
});

// One tiny real run of two policies, shared by the HTML tests (in this thread: workers 1).
const scenario = parseScenario({
  name: 'tiny',
  description: 'A <b>tiny</b> run & more',
  seeds: { count: 2 },
  environment: { kind: 'irrational', users: 20, groupCount: 3, itemsPerGroup: 2 },
  policies: [
    { name: 'with-budget', config: { policy: { kind: 'beta-bernoulli' }, budget: { share: 0.3 }, propensity: { draws: 8 } } },
    { name: 'no-budget', config: { policy: { kind: 'beta-bernoulli' }, budget: { share: 0 }, propensity: { draws: 8 } } },
  ],
  horizon: 60,
  slots: 2,
  points: 6,
  topItems: 3,
});
const fixedNow = () => new Date('2026-01-02T03:04:05.000Z');
let results: SimulationResults;
beforeAll(async () => {
  results = await runScenario(scenario, { workers: 1, liubaiVersion: '9.9.9', now: fixedNow });
});

describe('results.json content', () => {
  test('per policy: summary CIs, paired differences to the first, series of `points` entries', async () => {
    const r = results;
    expect(r.seeds).toEqual([1, 2]);
    expect(r.policies.map((p) => p.name)).toEqual(['with-budget', 'no-budget']);
    expect(r.liubaiVersion).toBe('9.9.9');
    expect(r.tfBackend).toBeNull();
    expect(r.run.startedAt).toBe('2026-01-02T03:04:05.000Z');
    expect(r.environment).toMatchObject({ kind: 'irrational', items: 6, groups: 3 });
    for (const p of r.policies) {
      expect(p.summary.reward.n).toBe(2);
      expect(p.summary.reward.mean).toBe((p.perSeed[0]!.totals.reward + p.perSeed[1]!.totals.reward) / 2);
      expect(p.series.step).toHaveLength(6);
      expect(p.series.cumulativeReward.mean).toHaveLength(6);
      expect(p.series.step[5]).toBe(60);
      expect(Object.keys(p.series.topItemMeans).length).toBeGreaterThan(0);
      expect(p.effectiveConfig.budget.floor).toBe(0.005);
    }
    const [a, b] = r.policies as [SimulationResults['policies'][number], SimulationResults['policies'][number]];
    expect(a.versusFirst).toBeNull();
    expect(b.versusFirst!.reward.mean).toBeCloseTo(b.summary.reward.mean - a.summary.reward.mean, 9);
    expect(b.rewardVersusFirst!.mean[5]).toBeCloseTo(b.series.cumulativeReward.mean[5]! - a.series.cumulativeReward.mean[5]!, 9);
    expect(a.summary.exploredShare.mean).toBeGreaterThan(0);
    expect(b.summary.exploredShare.mean).toBe(0);
  });
});

describe('report.html', () => {
  test('is self-contained, has an <svg> per chart, the series names and the summary table', async () => {
    const html = renderReport(results);
    expectSelfContained(html);
    // 4 learning-curve charts + one group chart and one posterior chart per policy.
    expect(count(html, '<svg')).toBe(4 + 2 + 2);
    for (const title of ['Cumulative reward', 'Cumulative regret', 'Reward relative to with-budget', 'Explored share', 'Group shares — with-budget', 'Posterior means of the top items — no-budget']) {
      expect(html).toContain(title);
    }
    for (const name of ['with-budget', 'no-budget', 'group-0', 'group-1', 'group-2']) expect(html).toContain(`>${name}<`);
    expect(html).toContain('<table class="summary">');
    expect(html).toContain('A &lt;b&gt;tiny&lt;/b&gt; run &amp; more');
    expect(html).toContain('liubai <b>9.9.9</b>');
  });
});

describe('sweep.html', () => {
  test('two axes: a heatmap and the ranked settings; one axis: a line; both self-contained', async () => {
    const base = parseScenario({ ...scenario, horizon: 30, policies: [scenario.policies[0]!] });
    const two = await runSweep(base, { axes: [parseGridSpec('budget.share=0,0.3'), parseGridSpec('budget.temperature=0.5,1')], workers: 1, liubaiVersion: 'x', now: fixedNow });
    expect(two.settings).toHaveLength(4);
    expect(two.settings.reduce((s, r) => s + r.probabilityBest, 0)).toBeCloseTo(1, 9);
    const html2 = renderSweepReport(two);
    expectSelfContained(html2);
    expect(count(html2, '<svg')).toBe(2);
    expect(html2).toContain('Mean reward by budget.share × budget.temperature');
    expect(html2).toContain('budget.share=0.3 budget.temperature=0.5');

    const one = await runSweep(base, { axes: [parseGridSpec('budget.share=0,0.3')], workers: 1, liubaiVersion: 'x', metric: 'regret', now: fixedNow });
    const html1 = renderSweepReport(one);
    expectSelfContained(html1);
    expect(count(html1, '<svg')).toBe(2);
    expect(html1).toContain('Regret by budget.share');
    expect(one.direction).toBe('lower');
  });
});
