/**
 * The human-readable report of a sweep (`sweep.html`): the best setting and how sure we are,
 * a heatmap of the metric over two grid axes (a line with its CI band for one axis), the
 * settings ranked with their CIs, and a table. Self-contained like `report.html`.
 */
import type { SweepResults } from '../sweep.js';
import { formatMeanCi, METRIC_INFO, REPORT_CSS } from './html.js';
import { escapeXml, formatValue, heatmap, intervalChart, lineChart, type HeatCell } from './svg.js';

function valueLabel(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function percent(p: number): string {
  return p >= 0.995 ? '> 99%' : p > 0 && p < 0.005 ? '< 1%' : `${Math.round(p * 100)}%`;
}

/** The headline: best setting, P(best) and the paired advantage over the runner-up. */
export function sweepVerdict(results: SweepResults): string {
  const info = METRIC_INFO[results.metric];
  const best = results.settings[results.best.index]!;
  const n = results.seeds.length;
  const lines = [
    `best: ${best.label} — ${info.label.toLowerCase()} ${formatMeanCi(best.summary[results.metric], info.format)} (mean ± 95% CI over ${n} seeds)`,
    `P(best) = ${percent(results.best.probabilityBest)} (${results.best.resamples} bootstrap resamples of the seeds)`,
  ];
  const adv = results.best.advantageOverRunnerUp;
  if (results.best.runnerUp && adv) {
    const clear = adv.lower > 0 ? 'clearly better' : 'not clearly better: the interval includes 0';
    const verb = results.direction === 'higher' ? 'ahead of' : 'below';
    lines.push(
      `${verb} the runner-up (${results.best.runnerUp.label}) by ${formatMeanCi(adv, info.format)} (paired 95% CI over seeds) — ${clear}`,
    );
  }
  return lines.join('\n');
}

function chartFor(results: SweepResults): string {
  const info = METRIC_INFO[results.metric];
  const axes = results.axes;
  const metricLabel = info.label.toLowerCase();
  if (axes.length === 1) {
    const axis = axes[0]!;
    const numeric = axis.values.every((v) => typeof v === 'number');
    const x = axis.values.map((v, i) => (numeric ? (v as number) : i));
    const s = results.settings.map((r) => r.summary[results.metric]);
    return lineChart(
      [{ name: metricLabel, color: '#4e79a7', x, y: s.map((c) => c.mean), lower: s.map((c) => c.lower), upper: s.map((c) => c.upper) }],
      {
        title: `${info.label} by ${axis.key}`,
        xLabel: axis.key,
        yLabel: `${metricLabel} (mean ± 95% CI)`,
        yFormat: info.format,
        legend: false,
        ...(numeric ? {} : { xTicks: axis.values.map((v, i) => ({ value: i, label: valueLabel(v) })) }),
      },
    );
  }
  if (axes.length === 2) {
    const [a, b] = axes as [SweepResults['axes'][number], SweepResults['axes'][number]];
    // Settings are in grid order: axis a slowest, so setting index = i·|b| + j.
    const cells: HeatCell[][] = b.values.map((_, j) =>
      a.values.map((_, i) => {
        const idx = i * b.values.length + j;
        const r = results.settings[idx]!;
        return { value: r.summary[results.metric].mean, label: formatMeanCi(r.summary[results.metric], info.format), highlight: idx === results.best.index };
      }),
    );
    return heatmap(a.values.map(valueLabel), b.values.map(valueLabel), cells, {
      title: `Mean ${metricLabel} by ${a.key} × ${b.key}`,
      xLabel: a.key,
      yLabel: b.key,
      id: 'sweep',
    });
  }
  return '';
}

/** The whole sweep page. */
export function renderSweepReport(results: SweepResults): string {
  const info = METRIC_INFO[results.metric];
  const m = results.metric;
  const ranked = results.settings
    .map((r, i) => ({ r, i }))
    .sort((x, y) => (results.direction === 'higher' ? 1 : -1) * (y.r.summary[m].mean - x.r.summary[m].mean) || x.i - y.i);
  const forest = intervalChart(
    ranked.map(({ r, i }) => {
      const d = r.versusBest;
      return { label: r.label, mean: d?.mean ?? 0, lower: d?.lower ?? Number.NaN, upper: d?.upper ?? Number.NaN, highlight: i === results.best.index };
    }),
    {
      title: `Each setting against the best, paired by seed (mean ± 95% CI)`,
      xLabel: `${info.label.toLowerCase()} − best${results.direction === 'lower' ? ' (sign flipped: lower is better)' : ''}; below 0 is worse`,
      width: 1000,
      xFormat: info.format,
      xReference: 0,
    },
  );
  const main = chartFor(results);
  const extra: Array<'reward' | 'regret' | 'exploredShare' | 'topGroupShare'> = ['reward', 'regret', 'exploredShare', 'topGroupShare'];
  const cols = extra.filter((c) => c !== m);
  const head =
    `<tr>${results.axes.map((a) => `<th>${escapeXml(a.key)}</th>`).join('')}<th>${info.label}</th><th>vs best (paired)</th><th>P(best)</th>` +
    `${cols.map((c) => `<th>${METRIC_INFO[c].label}</th>`).join('')}</tr>`;
  const rows = results.settings
    .map((r, i) => {
      const vs = r.versusBest;
      const vsText = vs ? `${vs.mean > 0 ? '+' : ''}${formatMeanCi(vs, info.format)}` : 'best';
      return (
        `<tr${i === results.best.index ? ' class="best-row"' : ''}>` +
        results.axes.map((a) => `<td>${escapeXml(valueLabel(r.setting[a.key]))}</td>`).join('') +
        `<td>${formatMeanCi(r.summary[m], info.format)}</td><td class="${vs && vs.upper < 0 ? 'sig-neg' : 'sig-none'}">${vsText}</td>` +
        `<td>${percent(r.probabilityBest)}</td>` +
        cols.map((c) => `<td>${formatMeanCi(r.summary[c], METRIC_INFO[c].format)}</td>`).join('') +
        '</tr>'
      );
    })
    .join('');
  const s = results.scenario;
  const verdict = sweepVerdict(results)
    .split('\n')
    .map((l) => `<li>${escapeXml(l)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(s.name)} sweep · liubai</title>
<style>${REPORT_CSS}
.verdict { font-size: 15px; padding-left: 20px; } .verdict li { margin: 3px 0; }
tr.best-row td { font-weight: 700; background: #fff5f5; }
</style>
</head>
<body>
<main>
<header>
<h1>${escapeXml(s.name)} — sweep of ${escapeXml(results.policy)}<small>liubai sweep report</small></h1>
${s.description ? `<p class="lead">${escapeXml(s.description)}</p>` : ''}
<ul class="facts">
<li>grid <b>${escapeXml(results.axes.map((a) => `${a.key} ∈ {${a.values.map(valueLabel).join(', ')}}`).join(' × '))}</b></li>
<li><b>${results.settings.length}</b> settings × <b>${results.seeds.length}</b> seeds × <b>${formatValue(s.horizon, 0)}</b> decisions</li>
<li>environment <b>${escapeXml(results.environment.kind)}</b></li>
<li>optimising <b>${escapeXml(info.label.toLowerCase())}</b> (${results.direction} is better)</li>
<li>${formatValue(results.run.decisions, 0)} decisions in ${formatValue(results.run.elapsedMs / 1000, 1)} s on ${results.run.workers} worker${results.run.workers === 1 ? '' : 's'}</li>
<li>liubai <b>${escapeXml(results.liubaiVersion)}</b></li>
</ul>
</header>
<section>
<h2>Verdict</h2>
<ul class="verdict">${verdict}</ul>
<p class="note">Every setting ran on the same seeds (same population and arrivals), so differences are paired by seed. P(best) is the share of bootstrap resamples of the seeds in which the setting has the best mean; with many settings and few seeds it flatters the winner, so read it with the paired interval.</p>
</section>
<section>
<h2>Charts</h2>
<div class="grid">${main ? `<figure>${main}<figcaption>Mean over seeds${results.axes.length === 2 ? '; the outlined cell is the best setting' : ', band = 95% CI'}.</figcaption></figure>` : ''}<figure class="wide">${forest}<figcaption>Settings ranked by mean; each one’s difference to the best on the same seeds. A whisker that reaches 0 means the data cannot tell that setting from the best; red = best.</figcaption></figure></div>
</section>
<section>
<h2>Settings</h2>
<div class="table-wrap"><table>${head}${rows}</table></div>
<p class="note">vs best: this setting minus the best on the same seeds (mean ± 95% CI), oriented so that negative is worse.</p>
</section>
<section>
<h2>Base configuration (${escapeXml(results.policy)})</h2>
<pre>${escapeXml(JSON.stringify(results.baseConfig, null, 2))}</pre>
</section>
<footer>Generated ${escapeXml(results.run.startedAt)} by liubai ${escapeXml(results.liubaiVersion)}. The numbers are in sweep.json next to this file.</footer>
</main>
</body>
</html>
`;
}
