/**
 * The human-readable report of a scenario run (`report.html`): one self-contained page — inline
 * CSS and inline SVG, no scripts, no fonts or images from the network — with the summary table,
 * learning curves with 95% CI bands, exploration over time, group shares and the posterior means
 * of the top items. Each policy keeps one colour on every chart.
 */
import type { MeanCi } from '../../core/stats.js';
import type { Metric } from '../scenario.js';
import type { PolicyResults, SimulationResults } from './results.js';
import { AREA_PALETTE, colorAt, decimalsFor, ITEM_PALETTE, escapeXml, formatValue, lineChart, stackedAreaChart, type LineSeries, type ValueFormat } from './svg.js';

/** Display name and format of each metric, and which direction is better (for bolding the best). */
export const METRIC_INFO: Readonly<Record<Metric, { label: string; format: ValueFormat; better: 'higher' | 'lower' | null; help: string }>> = {
  reward: { label: 'Reward', format: 'number', better: 'higher', help: 'realised clicks and conversion values per run' },
  expectedReward: { label: 'Expected reward', format: 'number', better: 'higher', help: 'sum of the exact expected reward of each slate' },
  regret: { label: 'Regret', format: 'number', better: 'lower', help: 'expected reward lost to the best slate, summed' },
  clickThrough: { label: 'Click-through', format: 'percent', better: 'higher', help: 'reward per shown impression' },
  exploredShare: { label: 'Explored', format: 'percent', better: null, help: 'share of slots given to the exploration budget' },
  topGroupShare: { label: 'Top group', format: 'percent', better: null, help: 'share of shown items from the most-shown group' },
  groupGini: { label: 'Group Gini', format: 'number', better: null, help: 'Gini coefficient of group shares (0 = even)' },
  ignoredShare: { label: 'Ignored', format: 'percent', better: null, help: 'shown impressions met with silence' },
};

/** The page's stylesheet (system font stack, light theme, print friendly). */
export const REPORT_CSS = `
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #ffffff; --soft: #f6f8fa; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 28px 32px 48px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 22px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h1 small { font-size: 14px; color: var(--muted); font-weight: 400; margin-left: 8px; }
h2 { font-size: 19px; margin: 30px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; }
.lead { color: var(--muted); max-width: 920px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 26px; margin: 12px 0 0; padding: 0; list-style: none; color: var(--muted); }
.facts b { color: var(--ink); font-weight: 600; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; font-size: 13.5px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-weight: 600; background: var(--soft); }
th:first-child, td:first-child { text-align: left; }
td .ci { color: var(--muted); font-size: 12px; }
td.best { font-weight: 700; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 7px; vertical-align: -1px; }
.sig-pos { color: #1a7f37; font-weight: 600; } .sig-neg { color: #cf222e; font-weight: 600; } .sig-diff { font-weight: 600; } .sig-none { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 18px 26px; }
figure { margin: 0; padding: 10px 12px 8px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
figure svg { display: block; width: 100%; height: auto; }
figure.wide { grid-column: 1 / -1; }
figure.wide svg { width: auto; max-width: 100%; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.note { color: var(--muted); font-size: 12.5px; }
details { margin: 6px 0; } summary { cursor: pointer; }
pre { background: var(--soft); padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print { main { padding: 0; } figure { break-inside: avoid; } }
`;

/**
 * `mean ± halfWidth`, both rounded to the CI's precision: one significant digit of the half-width
 * (two when it starts with a 1, so 0.14 does not become 0.1); the mean alone when n < 2.
 */
export function formatMeanCi(ci: MeanCi, format: ValueFormat = 'number'): string {
  const scale = format === 'percent' ? 100 : 1;
  const width = Number.isFinite(ci.halfWidth) && ci.halfWidth > 0 ? ci.halfWidth * scale : Math.abs(ci.mean * scale) / 100;
  const leading = width > 0 ? width / 10 ** Math.floor(Math.log10(width)) : 0;
  const d = Math.max(0, Math.min(4, decimalsFor(width, leading < 2 ? 2 : 1))) + (format === 'percent' ? 2 : 0);
  const m = formatValue(ci.mean, d, format);
  if (!Number.isFinite(ci.halfWidth)) return m;
  return `${m} ± ${formatValue(ci.halfWidth, d, format)}`;
}

function cell(ci: MeanCi, format: ValueFormat, best: boolean): string {
  const [m, h] = formatMeanCi(ci, format).split(' ± ');
  return `<td${best ? ' class="best"' : ''}>${m}${h !== undefined ? ` <span class="ci">± ${h}</span>` : ''}</td>`;
}

function swatch(color: string): string {
  return `<span class="swatch" style="background:${color}"></span>`;
}

function summaryTable(results: SimulationResults): string {
  const metrics = results.scenario.metrics;
  const best = new Map<Metric, number>();
  for (const m of metrics) {
    const dir = METRIC_INFO[m].better;
    if (!dir || results.policies.length < 2) continue;
    let bi = 0;
    results.policies.forEach((p, i) => {
      const a = p.summary[m].mean;
      const b = results.policies[bi]!.summary[m].mean;
      if (dir === 'higher' ? a > b : a < b) bi = i;
    });
    best.set(m, bi);
  }
  const head = `<tr><th>Policy</th>${metrics.map((m) => `<th title="${escapeXml(METRIC_INFO[m].help)}">${METRIC_INFO[m].label}</th>`).join('')}</tr>`;
  const rows = results.policies
    .map(
      (p, i) =>
        `<tr><td>${swatch(colorAt(i))}${escapeXml(p.name)}</td>${metrics.map((m) => cell(p.summary[m], METRIC_INFO[m].format, best.get(m) === i)).join('')}</tr>`,
    )
    .join('');
  return `<div class="table-wrap"><table class="summary">${head}${rows}</table></div>`;
}

function differenceCell(ci: MeanCi, metric: Metric): string {
  const { format, better } = METRIC_INFO[metric];
  const text = formatMeanCi(ci, format);
  const above = ci.lower > 0;
  const below = ci.upper < 0;
  // Green = clearly better, red = clearly worse; for metrics with no better direction, bold = clearly different.
  let cls = 'sig-none';
  if (above || below) cls = better === null ? 'sig-diff' : (better === 'higher') === above ? 'sig-pos' : 'sig-neg';
  const sign = ci.mean > 0 ? '+' : '';
  return `<td class="${cls}">${sign}${text}</td>`;
}

function pairedTable(results: SimulationResults): string {
  const [first, ...rest] = results.policies;
  if (!first || rest.length === 0) return '';
  const metrics = results.scenario.metrics;
  const head = `<tr><th>Policy − ${escapeXml(first.name)}</th>${metrics.map((m) => `<th>${METRIC_INFO[m].label}</th>`).join('')}</tr>`;
  const rows = rest
    .map(
      (p, j) =>
        `<tr><td>${swatch(colorAt(j + 1))}${escapeXml(p.name)}</td>${metrics.map((m) => differenceCell(p.versusFirst![m], m)).join('')}</tr>`,
    )
    .join('');
  return (
    `<h3>Paired differences to ${escapeXml(first.name)}</h3>` +
    `<div class="table-wrap"><table class="paired">${head}${rows}</table></div>` +
    `<p class="note">Per seed, policy minus ${escapeXml(first.name)} (both met the same population and arrivals), then mean ± 95% CI over seeds. ` +
    `<span class="sig-pos">Green</span>: clearly better (the whole interval is on the better side of 0); <span class="sig-neg">red</span>: clearly worse; ` +
    `<span class="sig-diff">bold</span>: clearly different where neither direction is better.</p>`
  );
}

function bandLine(p: PolicyResults, i: number, band: { mean: number[]; lower: number[]; upper: number[] }): LineSeries {
  return { name: p.name, color: colorAt(i), x: p.series.step, y: band.mean, lower: band.lower, upper: band.upper };
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${caption}</figcaption></figure>`;
}

/** Group names ordered by overall share (largest first), the rest folded into "other". */
function topGroups(results: SimulationResults, max: number): { shown: string[]; other: boolean } {
  const total = new Map<string, number>();
  for (const p of results.policies) {
    for (const [g, arr] of Object.entries(p.series.groupShares)) total.set(g, (total.get(g) ?? 0) + arr.reduce((s, x) => s + x, 0));
  }
  const order = [...total.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([g]) => g);
  if (order.length <= max + 1) return { shown: order, other: false };
  return { shown: order.slice(0, max), other: true };
}

function groupCharts(results: SimulationResults): string {
  const { shown, other } = topGroups(results, 7);
  const colorOf = new Map(shown.map((g, i) => [g, colorAt(i, AREA_PALETTE)]));
  return results.policies
    .map((p) => {
      const layers = shown.map((g) => ({ name: g, color: colorOf.get(g)!, values: p.series.groupShares[g] ?? p.series.step.map(() => 0) }));
      if (other) {
        const rest = p.series.step.map((_, i) =>
          Object.entries(p.series.groupShares).reduce((s, [g, arr]) => (colorOf.has(g) ? s : s + (arr[i] ?? 0)), 0),
        );
        layers.push({ name: 'other', color: '#d4d4d4', values: rest });
      }
      const svg = stackedAreaChart(p.series.step, layers, {
        title: `Group shares — ${p.name}`,
        xLabel: 'decision',
        yLabel: 'share of shown items',
        yFormat: 'percent',
        width: 640,
        height: 280,
      });
      return figure(svg, `Share of shown items per group in each window (mean over seeds), ${escapeXml(p.name)}. A stack dominated by one colour is a concentrated policy.`);
    })
    .join('');
}

function itemCharts(results: SimulationResults): string {
  const n = results.scenario.topItems;
  if (n === 0) return '';
  return results.policies
    .map((p) => {
      // One seed: every seed draws its own population, so an item id need not mean the same item across seeds.
      const run = p.perSeed[0];
      if (!run) return '';
      const ids = Object.keys(run.series.topItemMeans).slice(0, n);
      if (ids.length === 0) return '';
      const series: LineSeries[] = ids.map((id, j) => ({ name: id, color: colorAt(j, ITEM_PALETTE), x: run.series.step, y: run.series.topItemMeans[id]! }));
      const svg = lineChart(series, { title: `Posterior means of the top items — ${p.name}`, xLabel: 'decision', yLabel: 'posterior mean score', width: 640, height: 280, legend: true });
      return figure(
        svg,
        `Seed ${run.seed}: posterior mean score of the ${ids.length} items with the highest final mean, in the context of the first arrival, as the model learned (and forgot). Colours identify items within this chart only; results.json also has the mean over seeds.`,
      );
    })
    .join('');
}

function curveCharts(results: SimulationResults): string {
  const ps = results.policies;
  const nSeeds = results.seeds.length;
  const out: string[] = [];
  out.push(
    figure(
      lineChart(ps.map((p, i) => bandLine(p, i, p.series.cumulativeReward)), { title: 'Cumulative reward', xLabel: 'decision', yLabel: 'reward', yInclude: [0] }),
      `Realised reward so far; line = mean over ${nSeeds} seeds, band = 95% CI of the mean.`,
    ),
  );
  out.push(
    figure(
      lineChart(ps.map((p, i) => bandLine(p, i, p.series.cumulativeRegret)), { title: 'Cumulative regret', xLabel: 'decision', yLabel: 'regret', yInclude: [0] }),
      'Expected reward lost to the best possible slate (exact, from the environment’s ground truth); lower is better.',
    ),
  );
  if (ps.length > 1) {
    const first = ps[0]!;
    out.push(
      figure(
        lineChart(
          ps.slice(1).map((p, j) => bandLine(p, j + 1, p.rewardVersusFirst!)),
          { title: `Reward relative to ${first.name}`, xLabel: 'decision', yLabel: `cumulative reward − ${first.name}`, yReference: 0, legend: true },
        ),
        `Paired by seed: each policy’s cumulative reward minus ${escapeXml(first.name)}’s on the same population; a band clear of the dashed zero line is a real difference.`,
      ),
    );
  }
  out.push(
    figure(
      lineChart(ps.map((p, i) => bandLine(p, i, p.series.exploredShare)), { title: 'Explored share', xLabel: 'decision', yLabel: 'explored slots', yFormat: 'percent', yInclude: [0], yClamp: [0, 1] }),
      'Share of the slots of each window given to the exploration budget (serendipity slots), mean ± 95% CI.',
    ),
  );
  return out.join('');
}

function configs(results: SimulationResults): string {
  return results.policies
    .map((p, i) => `<details><summary>${swatch(colorAt(i))}${escapeXml(p.name)}</summary><pre>${escapeXml(JSON.stringify(p.config, null, 2))}</pre></details>`)
    .join('');
}

/** The whole report page. */
export function renderReport(results: SimulationResults): string {
  const s = results.scenario;
  const env = results.environment;
  const decisions = s.horizon * results.seeds.length * s.policies.length;
  const seedText =
    results.seeds.length <= 8 ? results.seeds.join(', ') : `${results.seeds.slice(0, 3).join(', ')}, …, ${results.seeds[results.seeds.length - 1]}`;
  const facts = [
    `environment <b>${escapeXml(env.kind)}</b> (${env.items} items in ${env.groups} groups)`,
    `<b>${results.seeds.length}</b> seeds (${escapeXml(seedText)})`,
    `<b>${formatValue(s.horizon, 0)}</b> decisions × <b>${s.slots}</b> slots per run`,
    `one arrival every <b>${formatValue(s.stepMs / 1000, s.stepMs % 1000 === 0 ? 0 : 1)}</b> s`,
    `<b>${formatValue(decisions, 0)}</b> decisions in ${formatValue(results.run.elapsedMs / 1000, 1)} s on ${results.run.workers} worker${results.run.workers === 1 ? '' : 's'}`,
    `liubai <b>${escapeXml(results.liubaiVersion)}</b>`,
    ...(results.tfBackend !== null ? [`tfjs backend <b>${escapeXml(results.tfBackend)}</b>`] : []),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(s.name)} · liubai simulation</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
<header>
<h1>${escapeXml(s.name)}<small>liubai simulation report</small></h1>
${s.description ? `<p class="lead">${escapeXml(s.description)}</p>` : ''}
<ul class="facts">${facts.map((f) => `<li>${f}</li>`).join('')}</ul>
</header>
<section>
<h2>Summary</h2>
${summaryTable(results)}
<p class="note">Mean ± 95% CI half-width over ${results.seeds.length} seeds (Student t). Bold: best mean where higher (or lower) is better.</p>
${pairedTable(results)}
</section>
<section>
<h2>Learning curves</h2>
<div class="grid">${curveCharts(results)}</div>
</section>
<section>
<h2>Group shares</h2>
<div class="grid">${groupCharts(results)}</div>
</section>
${
  s.topItems > 0
    ? `<section>
<h2>Posterior means of the top items</h2>
<div class="grid">${itemCharts(results)}</div>
</section>`
    : ''
}
<section>
<h2>Configurations</h2>
${configs(results)}
</section>
<footer>Generated ${escapeXml(results.run.startedAt)} by liubai ${escapeXml(results.liubaiVersion)}. The numbers behind every chart are in results.json next to this file.</footer>
</main>
</body>
</html>
`;
}
