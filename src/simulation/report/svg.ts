/**
 * Small SVG chart helpers for the simulation reports: "nice" axis ticks, a line chart with
 * confidence bands, a stacked area chart and a heatmap. Each returns one self-contained
 * `<svg>` string (no scripts, no external fonts or images), styled for a system font stack, so a
 * report is one HTML file that opens anywhere. Pure string building: no I/O, no clock.
 */

/** Default palette (Tableau 10 order): distinct hues that stay readable on white. */
export const PALETTE: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Second palette (ColorBrewer Dark2) for things that are not policies (items), so they are not mistaken for one. */
export const ITEM_PALETTE: readonly string[] = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#666666'];

/** Pastel palette (ColorBrewer Set2) for stacked areas (groups). */
export const AREA_PALETTE: readonly string[] = ['#66c2a5', '#fc8d62', '#8da0cb', '#e78ac3', '#a6d854', '#ffd92f', '#e5c494', '#b3b3b3'];

/** Colour of the i-th series (cycles through `palette`, default {@link PALETTE}). */
export function colorAt(i: number, palette: readonly string[] = PALETTE): string {
  return palette[((i % palette.length) + palette.length) % palette.length]!;
}

/** Escape text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A "nice" number close to `x` > 0: 1, 2, 5 or 10 times a power of ten (Heckbert 1990,
 * "Nice numbers for graph labels", Graphics Gems I). With `round` the nearest such number
 * (thresholds 1.5, 3, 7), else the smallest one ≥ x.
 * @throws RangeError when x is not finite and positive
 */
export function niceNumber(x: number, round: boolean): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`niceNumber needs a finite x > 0, got ${x}`);
  const exponent = Math.floor(Math.log10(x));
  const power = Math.pow(10, exponent);
  // Snap ratios like 2.9999999999999996 (0.3 / 0.1) to the integer they stand for.
  const raw = x / power;
  const f = Math.abs(raw - Math.round(raw)) < 1e-9 ? Math.round(raw) : raw;
  let nice: number;
  if (round) nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * power;
}

/** Axis ticks: an extended range [min, max] and the tick values min, min + step, …, max. */
export interface Ticks {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly values: readonly number[];
  /** Decimals that show every tick exactly. */
  readonly decimals: number;
}

/**
 * Nice ticks covering [lo, hi] with about `count` ticks (Heckbert's loose labelling): the step
 * is a nice number (1, 2 or 5 × 10^k), min and max are multiples of it with min ≤ lo, max ≥ hi.
 * A degenerate range (lo = hi) is widened around the value. Values are rounded to the step's
 * decimals so they print without floating-point noise.
 * @param count desired number of ticks (≥ 2)
 * @throws RangeError when lo or hi is not finite
 */
export function niceTicks(lo: number, hi: number, count = 5): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`niceTicks needs finite bounds, got ${lo}, ${hi}`);
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const range = niceNumber(hi - lo, false);
  const step = niceNumber(range / Math.max(1, count - 1), true);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const round = (v: number) => Number(v.toFixed(decimals));
  const min = round(Math.floor(lo / step + 1e-9) * step);
  const max = round(Math.ceil(hi / step - 1e-9) * step);
  const values: number[] = [];
  const n = Math.round((max - min) / step);
  for (let i = 0; i <= n; i++) values.push(round(min + i * step));
  return { min, max, step, values, decimals };
}

/** How to print axis and cell values. */
export type ValueFormat = 'number' | 'percent';

/**
 * Print a number with `decimals` decimals and thousands separators (`12,500`); `percent`
 * prints 100·v with a `%` sign and two fewer decimals.
 */
export function formatValue(v: number, decimals: number, format: ValueFormat = 'number'): string {
  if (!Number.isFinite(v)) return '–';
  if (format === 'percent') {
    const d = Math.max(0, decimals - 2);
    return `${(v * 100).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })}%`;
  }
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Decimals that show a value of this magnitude with about `significant` significant digits. */
export function decimalsFor(v: number, significant = 3): number {
  if (v === 0 || !Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(6, significant - 1 - Math.floor(Math.log10(Math.abs(v)))));
}

/** One line of a {@link lineChart}, with an optional band (e.g. a 95% CI) around it. */
export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly lower?: readonly number[];
  readonly upper?: readonly number[];
  readonly dashed?: boolean;
}

/** Layout and labels shared by the charts. */
export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Force the y range to include these values (e.g. 0). */
  readonly yInclude?: readonly number[];
  readonly yFormat?: ValueFormat;
  /** Categorical x axis: ticks at these x values with these labels instead of nice numbers. */
  readonly xTicks?: ReadonlyArray<{ readonly value: number; readonly label: string }>;
  /** Draw a horizontal reference line at y = this value (e.g. 0 for differences). */
  readonly yReference?: number;
  /** Show a legend (default true when there is more than one series). */
  readonly legend?: boolean;
  /** Clip every value (lines and bands) to this range, e.g. [0, 1] for shares whose CI spills over. */
  readonly yClamp?: readonly [number, number];
}

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly top: number;
  readonly plotW: number;
  readonly plotH: number;
  readonly legendX: number;
}

const CHAR_W = 7; // generous average width of a 12 px system-ui glyph, for layout estimates
const LEGEND_PAD = 34; // swatch, gap and margins around a legend label

function frame(options: ChartOptions, legendNames: readonly string[]): Frame {
  const width = options.width ?? 640;
  const height = options.height ?? 300;
  const showLegend = options.legend ?? legendNames.length > 1;
  const legendW = showLegend ? Math.min(230, LEGEND_PAD + Math.max(0, ...legendNames.map((n) => n.length)) * CHAR_W) : 0;
  const left = 66;
  const top = 34;
  const right = 14 + legendW;
  const bottom = 48;
  return { width, height, left, top, plotW: width - left - right, plotH: height - top - bottom, legendX: width - legendW };
}

const f2 = (v: number) => (Math.round(v * 100) / 100).toString();

function open(fr: Frame, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${fr.width} ${fr.height}" width="${fr.width}" height="${fr.height}" ` +
    `role="img" aria-label="${escapeXml(title)}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif" font-size="12">` +
    `<title>${escapeXml(title)}</title>` +
    `<text x="${fr.left}" y="18" font-size="14" font-weight="600" fill="#222">${escapeXml(title)}</text>`
  );
}

interface Scales {
  readonly sx: (x: number) => number;
  readonly sy: (y: number) => number;
}

function axes(fr: Frame, xt: Ticks, yt: Ticks, options: ChartOptions): { svg: string; scales: Scales } {
  const sx = (x: number) => fr.left + ((x - xt.min) / (xt.max - xt.min || 1)) * fr.plotW;
  const sy = (y: number) => fr.top + fr.plotH - ((y - yt.min) / (yt.max - yt.min || 1)) * fr.plotH;
  const parts: string[] = [];
  // Grid and y ticks.
  for (const v of yt.values) {
    const y = f2(sy(v));
    parts.push(`<line x1="${fr.left}" x2="${fr.left + fr.plotW}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    parts.push(
      `<text x="${fr.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555">${formatValue(v, yt.decimals, options.yFormat)}</text>`,
    );
  }
  const xTicks = options.xTicks ?? xt.values.map((v) => ({ value: v, label: formatValue(v, xt.decimals) }));
  for (const t of xTicks) {
    const x = f2(sx(t.value));
    parts.push(`<line x1="${x}" x2="${x}" y1="${fr.top + fr.plotH}" y2="${fr.top + fr.plotH + 5}" stroke="#888"/>`);
    parts.push(`<text x="${x}" y="${fr.top + fr.plotH + 18}" text-anchor="middle" fill="#555">${escapeXml(t.label)}</text>`);
  }
  if (options.yReference !== undefined && options.yReference >= yt.min && options.yReference <= yt.max) {
    const y = f2(sy(options.yReference));
    parts.push(`<line x1="${fr.left}" x2="${fr.left + fr.plotW}" y1="${y}" y2="${y}" stroke="#777" stroke-dasharray="4 3"/>`);
  }
  // Axis lines and labels.
  parts.push(
    `<line x1="${fr.left}" x2="${fr.left}" y1="${fr.top}" y2="${fr.top + fr.plotH}" stroke="#888"/>` +
      `<line x1="${fr.left}" x2="${fr.left + fr.plotW}" y1="${fr.top + fr.plotH}" y2="${fr.top + fr.plotH}" stroke="#888"/>`,
  );
  parts.push(
    `<text x="${f2(fr.left + fr.plotW / 2)}" y="${fr.height - 8}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`,
  );
  const cy = f2(fr.top + fr.plotH / 2);
  parts.push(`<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.yLabel)}</text>`);
  return { svg: parts.join(''), scales: { sx, sy } };
}

function legend(fr: Frame, entries: ReadonlyArray<{ name: string; color: string; kind: 'line' | 'box'; dashed?: boolean }>): string {
  const parts: string[] = [];
  const maxChars = Math.floor((fr.width - fr.legendX - LEGEND_PAD) / CHAR_W);
  entries.forEach((e, i) => {
    const y = fr.top + 8 + i * 18;
    const x = fr.legendX + 6;
    parts.push(
      e.kind === 'line'
        ? `<line x1="${x}" x2="${x + 16}" y1="${y}" y2="${y}" stroke="${e.color}" stroke-width="2.5"${e.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
        : `<rect x="${x + 2}" y="${y - 6}" width="12" height="12" rx="2" fill="${e.color}"/>`,
    );
    const label = e.name.length > maxChars ? `${e.name.slice(0, Math.max(1, maxChars - 1))}…` : e.name;
    parts.push(`<text x="${x + 22}" y="${y}" dominant-baseline="middle" fill="#333">${escapeXml(label)}</text>`);
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

function finiteValues(...arrays: ReadonlyArray<readonly number[] | undefined>): number[] {
  const out: number[] = [];
  for (const a of arrays) if (a) for (const v of a) if (Number.isFinite(v)) out.push(v);
  return out;
}

function path(xs: readonly number[], ys: readonly number[], s: Scales): string {
  let d = '';
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i]!;
    if (!Number.isFinite(y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${f2(s.sx(xs[i]!))} ${f2(s.sy(y))}`;
    pen = true;
  }
  return d;
}

/**
 * A line chart: one line per series, each with an optional shaded band (`lower`…`upper`),
 * nice-number axes with grid lines, axis labels and a legend. Non-finite points break the line.
 */
export function lineChart(input: readonly LineSeries[], options: ChartOptions): string {
  const clamp = options.yClamp;
  const clip = (ys: readonly number[] | undefined) => (ys && clamp ? ys.map((v) => Math.min(clamp[1], Math.max(clamp[0], v))) : ys);
  const series: LineSeries[] = input.map((s) => {
    const lower = clip(s.lower);
    const upper = clip(s.upper);
    return { ...s, y: clip(s.y)!, ...(lower ? { lower } : {}), ...(upper ? { upper } : {}) };
  });
  const fr = frame(options, series.map((s) => s.name));
  const xs = finiteValues(...series.map((s) => s.x), options.xTicks?.map((t) => t.value));
  const ys = finiteValues(...series.flatMap((s) => [s.y, s.lower, s.upper]), options.yInclude, options.yReference === undefined ? undefined : [options.yReference]);
  const xt = niceTicksOrCategorical(xs, options);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const { svg: axisSvg, scales } = axes(fr, xt, yt, options);
  const parts = [open(fr, options.title), axisSvg];
  for (const s of series) {
    if (!s.lower || !s.upper) continue;
    const upper = path(s.x, s.upper, scales);
    const lowerPts: string[] = [];
    for (let i = s.x.length - 1; i >= 0; i--) {
      const v = s.lower[i]!;
      if (Number.isFinite(v) && Number.isFinite(s.upper[i]!)) lowerPts.push(`L${f2(scales.sx(s.x[i]!))} ${f2(scales.sy(v))}`);
    }
    if (upper && lowerPts.length > 0) parts.push(`<path d="${upper}${lowerPts.join('')}Z" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
  }
  for (const s of series) {
    const d = path(s.x, s.y, scales);
    if (d) {
      parts.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${escapeXml(s.name)}</title></path>`,
      );
    }
    if (s.x.length <= 12) {
      for (let i = 0; i < s.x.length; i++) {
        if (Number.isFinite(s.y[i]!)) parts.push(`<circle cx="${f2(scales.sx(s.x[i]!))}" cy="${f2(scales.sy(s.y[i]!))}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  if (options.legend ?? series.length > 1) {
    parts.push(legend(fr, series.map((s) => ({ name: s.name, color: s.color, kind: 'line' as const, ...(s.dashed ? { dashed: true } : {}) }))));
  }
  parts.push('</svg>');
  return parts.join('');
}

function niceTicksOrCategorical(xs: readonly number[], options: ChartOptions): Ticks {
  const lo = xs.length ? Math.min(...xs) : 0;
  const hi = xs.length ? Math.max(...xs) : 1;
  if (options.xTicks) {
    // Categorical: half a slot of padding on each side so the first and last points are not on the frame.
    const pad = options.xTicks.length > 1 ? 0.5 : 1;
    return { min: lo - pad, max: hi + pad, step: 1, values: [], decimals: 0 };
  }
  return niceTicks(lo, hi, 6);
}

/** One layer of a {@link stackedAreaChart}. */
export interface AreaLayer {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

/**
 * A stacked area chart: layer i fills between the cumulative sums of layers < i and ≤ i, in
 * order (first layer at the bottom); the legend lists the layers top-down as drawn.
 */
export function stackedAreaChart(x: readonly number[], layers: readonly AreaLayer[], options: ChartOptions): string {
  const fr = frame({ legend: true, ...options }, layers.map((l) => l.name));
  const n = x.length;
  const base = new Float64Array(n);
  const tops: Float64Array[] = layers.map((l) => {
    const top = new Float64Array(n);
    for (let i = 0; i < n; i++) top[i] = base[i]! + (Number.isFinite(l.values[i]!) ? l.values[i]! : 0);
    base.set(top);
    return top;
  });
  const maxTotal = n > 0 ? Math.max(...base) : 1;
  const xt = niceTicks(n ? Math.min(...x) : 0, n ? Math.max(...x) : 1, 6);
  const yt = niceTicks(0, Math.max(maxTotal, ...(options.yInclude ?? [])), 5);
  const { svg: axisSvg, scales } = axes(fr, xt, yt, options);
  const parts = [open(fr, options.title), axisSvg];
  layers.forEach((l, j) => {
    const top = tops[j]!;
    const bottom = j > 0 ? tops[j - 1]! : new Float64Array(n);
    if (n === 0) return;
    let d = '';
    for (let i = 0; i < n; i++) d += `${i === 0 ? 'M' : 'L'}${f2(scales.sx(x[i]!))} ${f2(scales.sy(top[i]!))}`;
    for (let i = n - 1; i >= 0; i--) d += `L${f2(scales.sx(x[i]!))} ${f2(scales.sy(bottom[i]!))}`;
    parts.push(`<path d="${d}Z" fill="${l.color}" fill-opacity="0.85" stroke="#fff" stroke-width="0.5"><title>${escapeXml(l.name)}</title></path>`);
  });
  parts.push(legend(fr, [...layers].reverse().map((l) => ({ name: l.name, color: l.color, kind: 'box' as const }))));
  parts.push('</svg>');
  return parts.join('');
}

/** Linear interpolation between colour stops (hex `#rrggbb`), t in [0, 1]. */
export function interpolateColor(stops: readonly string[], t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const a = hexRgb(stops[i]!);
  const b = hexRgb(stops[i + 1]!);
  const w = u - i;
  const mix = a.map((c, k) => Math.round(c + (b[k]! - c) * w));
  return `#${mix.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

function hexRgb(hex: string): number[] {
  const h = hex.replace('#', '');
  return [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16));
}

/** Relative luminance (sRGB, WCAG 2) of a `#rrggbb` colour, in [0, 1]. */
export function luminance(hex: string): number {
  const [r, g, b] = hexRgb(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** A perceptually ordered sequential scale (viridis-like stops), light = low is avoided for contrast. */
export const SEQUENTIAL: readonly string[] = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];

/** Heatmap cell: the value that sets the colour and the text printed in it. */
export interface HeatCell {
  readonly value: number;
  readonly label: string;
  /** Outline this cell (e.g. the best setting). */
  readonly highlight?: boolean;
}

/**
 * A heatmap: rows × columns of cells coloured by value on {@link SEQUENTIAL} (min → max of the
 * finite values), with each cell's label printed in a colour readable on it, axis labels for
 * both axes, and a colour bar with the value range.
 */
export function heatmap(
  columns: readonly string[],
  rows: readonly string[],
  cells: ReadonlyArray<ReadonlyArray<HeatCell | null>>,
  options: { title: string; xLabel: string; yLabel: string; width?: number; valueDecimals?: number; /** Unique within the page (gradient id). */ id?: string },
): string {
  const cellW = Math.max(70, Math.min(140, Math.floor(((options.width ?? 640) - 160) / Math.max(1, columns.length))));
  const cellH = 40;
  const left = 96;
  const top = 40;
  const width = left + cellW * columns.length + 90;
  const height = top + cellH * rows.length + 56;
  const fr: Frame = { width, height, left, top, plotW: cellW * columns.length, plotH: cellH * rows.length, legendX: width };
  const values = cells.flatMap((r) => r.map((c) => c?.value ?? Number.NaN)).filter(Number.isFinite);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const t = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const parts = [open(fr, options.title)];
  rows.forEach((rowLabel, r) => {
    const y = top + r * cellH;
    parts.push(`<text x="${left - 8}" y="${y + cellH / 2}" text-anchor="end" dominant-baseline="middle" fill="#333">${escapeXml(rowLabel)}</text>`);
    columns.forEach((_, c) => {
      const cell = cells[r]?.[c] ?? null;
      const x = left + c * cellW;
      if (!cell) {
        parts.push(`<rect x="${x}" y="${y}" width="${cellW}" height="${cellH}" fill="#f3f3f3" stroke="#fff"/>`);
        return;
      }
      const fill = interpolateColor(SEQUENTIAL, t(cell.value));
      const ink = luminance(fill) > 0.3 ? '#111' : '#fff';
      parts.push(
        `<rect x="${x}" y="${y}" width="${cellW}" height="${cellH}" fill="${fill}" stroke="#fff"><title>${escapeXml(`${rowLabel} × ${columns[c]}: ${cell.label}`)}</title></rect>`,
      );
      if (cell.highlight) parts.push(`<rect x="${x + 2}" y="${y + 2}" width="${cellW - 4}" height="${cellH - 4}" fill="none" stroke="#e15759" stroke-width="3"/>`);
      parts.push(
        `<text x="${x + cellW / 2}" y="${y + cellH / 2}" text-anchor="middle" dominant-baseline="middle" fill="${ink}" font-size="11">${escapeXml(cell.label)}</text>`,
      );
    });
  });
  columns.forEach((label, c) => {
    parts.push(`<text x="${left + c * cellW + cellW / 2}" y="${top + rows.length * cellH + 16}" text-anchor="middle" fill="#333">${escapeXml(label)}</text>`);
  });
  parts.push(`<text x="${left + (cellW * columns.length) / 2}" y="${height - 10}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${top + (cellH * rows.length) / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.yLabel)}</text>`);
  // Colour bar.
  const barX = left + cellW * columns.length + 24;
  const barH = cellH * rows.length;
  // Top of the bar = the highest value = the last stop.
  const last = SEQUENTIAL.length - 1;
  const stops = SEQUENTIAL.map((_, i) => `<stop offset="${((100 * i) / last).toFixed(0)}%" stop-color="${SEQUENTIAL[last - i]}"/>`).join('');
  const id = `heat-${options.id ?? 'scale'}`;
  parts.push(`<defs><linearGradient id="${id}" x1="0" x2="0" y1="0" y2="1">${stops}</linearGradient></defs>`);
  parts.push(`<rect x="${barX}" y="${top}" width="12" height="${barH}" fill="url(#${id})"/>`);
  const d = options.valueDecimals ?? decimalsFor(Math.max(Math.abs(lo), Math.abs(hi)));
  parts.push(`<text x="${barX + 16}" y="${top + 6}" dominant-baseline="middle" fill="#555">${formatValue(hi, d)}</text>`);
  parts.push(`<text x="${barX + 16}" y="${top + barH - 6}" dominant-baseline="middle" fill="#555">${formatValue(lo, d)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** One row of an {@link intervalChart}. */
export interface IntervalRow {
  readonly label: string;
  readonly mean: number;
  readonly lower: number;
  readonly upper: number;
  readonly highlight?: boolean;
}

/**
 * A dot-and-whisker chart ("forest plot"): one row per label, a dot at the mean and a whisker
 * over [lower, upper], on a shared nice-number axis; highlighted rows are drawn in the accent
 * colour. Non-finite bounds draw the dot alone.
 */
export function intervalChart(
  rows: readonly IntervalRow[],
  options: { title: string; xLabel: string; width?: number; xFormat?: ValueFormat; /** Dashed vertical line at this x (e.g. 0). */ xReference?: number },
): string {
  const rowH = 22;
  const labelW = Math.min(340, 16 + Math.max(8, ...rows.map((r) => r.label.length)) * CHAR_W);
  const width = options.width ?? 640;
  const top = 34;
  const height = top + rows.length * rowH + 46;
  const fr: Frame = { width, height, left: labelW, top, plotW: width - labelW - 24, plotH: rows.length * rowH, legendX: width };
  const xs = finiteValues(rows.map((r) => r.mean), rows.map((r) => r.lower), rows.map((r) => r.upper), options.xReference === undefined ? undefined : [options.xReference]);
  const xt = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 6);
  const sx = (x: number) => fr.left + ((x - xt.min) / (xt.max - xt.min || 1)) * fr.plotW;
  const parts = [open(fr, options.title)];
  for (const v of xt.values) {
    const x = f2(sx(v));
    parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + fr.plotH}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${x}" y="${top + fr.plotH + 16}" text-anchor="middle" fill="#555">${formatValue(v, xt.decimals, options.xFormat)}</text>`);
  }
  parts.push(`<line x1="${fr.left}" x2="${fr.left + fr.plotW}" y1="${top + fr.plotH}" y2="${top + fr.plotH}" stroke="#888"/>`);
  const stripes: string[] = [];
  const marks: string[] = [];
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    const color = r.highlight ? '#e15759' : '#4e79a7';
    if (i % 2 === 1) stripes.push(`<rect x="0" y="${top + i * rowH}" width="${width}" height="${rowH}" fill="#f6f8fa"/>`);
    marks.push(
      `<text x="${fr.left - 10}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#333"${r.highlight ? ' font-weight="600"' : ''}>${escapeXml(r.label)}</text>`,
    );
    if (Number.isFinite(r.lower) && Number.isFinite(r.upper)) {
      marks.push(`<line x1="${f2(sx(r.lower))}" x2="${f2(sx(r.upper))}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
      for (const b of [r.lower, r.upper]) marks.push(`<line x1="${f2(sx(b))}" x2="${f2(sx(b))}" y1="${y - 4}" y2="${y + 4}" stroke="${color}" stroke-width="2"/>`);
    }
    if (Number.isFinite(r.mean)) marks.push(`<circle cx="${f2(sx(r.mean))}" cy="${y}" r="4" fill="${color}"/>`);
  });
  // Stripes under the grid lines, marks over them.
  parts.splice(1, 0, ...stripes);
  if (options.xReference !== undefined) {
    const x = f2(sx(options.xReference));
    parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + fr.plotH}" stroke="#777" stroke-dasharray="4 3"/>`);
  }
  parts.push(...marks);
  parts.push(`<text x="${f2(fr.left + fr.plotW / 2)}" y="${height - 8}" text-anchor="middle" fill="#333">${escapeXml(options.xLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
