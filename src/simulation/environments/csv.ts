/**
 * Pure parsing of the data sets the file loaders read: a small RFC 4180 CSV reader, the
 * classification table used by `supervised`, and the Open Bandit Dataset log. No I/O here:
 * `loaders.ts` reads the files and hands their text to these functions.
 */

/**
 * Parse CSV text into rows of cells (RFC 4180: `,` separators, `"` quoting with `""` escapes,
 * LF or CRLF line ends). A final line end does not make an extra row; blank lines are skipped.
 * @throws Error on an unterminated quoted field
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  const n = text.length;
  let quoted = false;
  const endRow = (): void => {
    row.push(cell);
    cell = '';
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      endRow();
      if (ch === '\r' && text[i + 1] === '\n') i++;
    } else cell += ch;
    i++;
  }
  if (quoted) throw new Error('CSV: unterminated quoted field');
  if (cell !== '' || row.length > 0) endRow();
  return rows;
}

/** A classification data set as plain arrays (rows × features, one class index per row). */
export interface ClassificationData {
  readonly featureNames: string[];
  readonly features: number[][];
  /** Class index per row, into `classNames`. */
  readonly labels: number[];
  readonly classNames: string[];
}

/** Options of {@link classificationFromCsv}. */
export interface ClassificationCsvOptions {
  /** The label column, by header name or 0-based index. */
  readonly labelColumn: string | number;
  /** Columns to drop besides the label (e.g. an id column), by header name. */
  readonly ignoreColumns?: readonly string[];
}

function parseNumber(cell: string): number {
  const t = cell.trim();
  return t === '' ? Number.NaN : Number(t);
}

/**
 * A classification table from CSV text with a header row. Every column except the label (and
 * `ignoreColumns`) must hold finite numbers. Distinct label values become class indices in
 * sorted order — numerically when every label is a number (so `2 < 10`), else by UTF-16 code
 * units — so the mapping does not depend on row order; `classNames` keeps the original text.
 * @throws Error naming the row and column of the first non-numeric feature, or an unknown label
 *   column, or a row with the wrong number of cells
 */
export function classificationFromCsv(text: string, options: ClassificationCsvOptions): ClassificationData {
  const [header, ...body] = parseCsv(text);
  if (!header) throw new Error('CSV: empty file (a header row is required)');
  const names = header.map((h) => h.trim());
  const labelIndex = typeof options.labelColumn === 'number' ? options.labelColumn : names.indexOf(options.labelColumn);
  if (!(labelIndex >= 0 && labelIndex < names.length)) {
    throw new Error(`CSV: label column ${JSON.stringify(options.labelColumn)} not found in header [${names.join(', ')}]`);
  }
  const ignore = new Set(options.ignoreColumns ?? []);
  const featureIdx = names.map((_, j) => j).filter((j) => j !== labelIndex && !ignore.has(names[j]!));
  const features: number[][] = [];
  const rawLabels: string[] = [];
  body.forEach((cells, r) => {
    if (cells.length !== names.length) {
      throw new Error(`CSV: data row ${r + 1} has ${cells.length} cells, the header has ${names.length}`);
    }
    features.push(
      featureIdx.map((j) => {
        const v = parseNumber(cells[j]!);
        if (!Number.isFinite(v)) throw new Error(`CSV: data row ${r + 1}, column ${JSON.stringify(names[j])}: not a number: ${JSON.stringify(cells[j])}`);
        return v;
      }),
    );
    rawLabels.push(cells[labelIndex]!.trim());
  });
  const distinct = [...new Set(rawLabels)];
  const numeric = distinct.every((l) => Number.isFinite(parseNumber(l)));
  distinct.sort(numeric ? (a, b) => parseNumber(a) - parseNumber(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(distinct.map((l, c) => [l, c]));
  return {
    featureNames: featureIdx.map((j) => names[j]!),
    features,
    labels: rawLabels.map((l) => index.get(l)!),
    classNames: distinct,
  };
}

/** The logging policy of an Open Bandit Dataset log. */
export type ObdBehaviorPolicy = 'random' | 'bts';
/** The campaign (item catalogue) of an Open Bandit Dataset log. */
export type ObdCampaign = 'all' | 'men' | 'women';

/**
 * One Open Bandit Dataset log as column arrays: row t is one item shown at one position in one
 * impression (Saito et al. 2021). Item ids index `itemFeatures`.
 */
export interface ObdData {
  readonly behaviorPolicy: ObdBehaviorPolicy;
  readonly campaign: ObdCampaign;
  /** Number of items of the campaign (rows of item_context.csv). */
  readonly nItems: number;
  /** Impression time, ms since the Unix epoch (UTC; microseconds truncated). */
  readonly timestamps: number[];
  /** Item shown, in [0, nItems). */
  readonly itemIds: number[];
  /** 1-based position (1, 2 or 3: left, centre, right). */
  readonly positions: number[];
  /** 1 if clicked, else 0. */
  readonly clicks: number[];
  /** The logging policy's probability of this item at this position, in (0, 1]. */
  readonly propensities: number[];
  /** Names of the categorical user features (`user_feature_0…`). */
  readonly userFeatureNames: string[];
  /** Per row, the user feature values (anonymised hash strings), aligned with the names. */
  readonly userFeatures: string[][];
  /** Per row, `user-item_affinity_<j>` for j < nItems. */
  readonly affinities: number[][];
  /** Names of the item features (`item_feature_0…`). */
  readonly itemFeatureNames: string[];
  /** Per item id, its features: numbers for numeric columns, strings for the hashed categories. */
  readonly itemFeatures: Array<Record<string, number | string>>;
}

/** Options of {@link obdFromCsv} / `loadObd`. */
export interface ObdOptions {
  readonly behaviorPolicy: ObdBehaviorPolicy;
  readonly campaign: ObdCampaign;
  /** Keep only the first `limit` rows of the log (time order). */
  readonly limit?: number;
}

function columnIndex(names: readonly string[], name: string, file: string): number {
  const j = names.indexOf(name);
  if (j < 0) throw new Error(`OBD ${file}: column ${JSON.stringify(name)} missing`);
  return j;
}

/**
 * Parse an OBD log (`<campaign>.csv`) and its `item_context.csv`.
 * @throws Error on a missing column, a bad item id, position, click or propensity (row named)
 */
export function obdFromCsv(logText: string, itemContextText: string, options: ObdOptions): ObdData {
  const [itemHeader, ...itemRows] = parseCsv(itemContextText);
  if (!itemHeader) throw new Error('OBD item_context.csv: empty');
  const itemIdCol = columnIndex(itemHeader, 'item_id', 'item_context.csv');
  const itemFeatureCols = itemHeader.map((h, j) => [h, j] as const).filter(([h]) => h.startsWith('item_feature_'));
  const nItems = itemRows.length;
  const itemFeatures: Array<Record<string, number | string>> = new Array(nItems);
  const numericCol = itemFeatureCols.map(([, j]) => itemRows.every((r) => Number.isFinite(parseNumber(r[j] ?? ''))));
  for (const row of itemRows) {
    const id = Number(row[itemIdCol]);
    if (!(Number.isInteger(id) && id >= 0 && id < nItems)) throw new Error(`OBD item_context.csv: bad item_id ${row[itemIdCol]}`);
    itemFeatures[id] = Object.fromEntries(
      itemFeatureCols.map(([h, j], c) => [h, numericCol[c] ? parseNumber(row[j]!) : row[j]!]),
    );
  }

  const [header, ...allRows] = parseCsv(logText);
  if (!header) throw new Error('OBD log: empty');
  const file = `${options.campaign}.csv`;
  const col = (name: string): number => columnIndex(header, name, file);
  const cTime = col('timestamp');
  const cItem = col('item_id');
  const cPos = col('position');
  const cClick = col('click');
  const cProp = col('propensity_score');
  const userCols = header.map((h, j) => [h, j] as const).filter(([h]) => h.startsWith('user_feature_'));
  const affinityCols = Array.from({ length: nItems }, (_, i) => col(`user-item_affinity_${i}`));
  const rows = options.limit === undefined ? allRows : allRows.slice(0, Math.max(0, options.limit));

  const out = {
    timestamps: [] as number[],
    itemIds: [] as number[],
    positions: [] as number[],
    clicks: [] as number[],
    propensities: [] as number[],
    userFeatures: [] as string[][],
    affinities: [] as number[][],
  };
  rows.forEach((row, r) => {
    const where = `OBD ${file} data row ${r + 1}`;
    const at = Date.parse((row[cTime] ?? '').replace(' ', 'T'));
    const item = Number(row[cItem]);
    const position = Number(row[cPos]);
    const click = Number(row[cClick]);
    const propensity = Number(row[cProp]);
    if (!Number.isFinite(at)) throw new Error(`${where}: bad timestamp ${row[cTime]}`);
    if (!(Number.isInteger(item) && item >= 0 && item < nItems)) throw new Error(`${where}: bad item_id ${row[cItem]}`);
    if (!(Number.isInteger(position) && position >= 1)) throw new Error(`${where}: bad position ${row[cPos]}`);
    if (click !== 0 && click !== 1) throw new Error(`${where}: bad click ${row[cClick]}`);
    if (!(propensity > 0 && propensity <= 1)) throw new Error(`${where}: propensity ${row[cProp]} outside (0, 1]`);
    out.timestamps.push(at);
    out.itemIds.push(item);
    out.positions.push(position);
    out.clicks.push(click);
    out.propensities.push(propensity);
    out.userFeatures.push(userCols.map(([, j]) => row[j] ?? ''));
    out.affinities.push(affinityCols.map((j) => parseNumber(row[j] ?? '')));
  });
  return {
    behaviorPolicy: options.behaviorPolicy,
    campaign: options.campaign,
    nItems,
    ...out,
    userFeatureNames: userCols.map(([h]) => h),
    itemFeatureNames: itemFeatureCols.map(([h]) => h),
    itemFeatures,
  };
}
