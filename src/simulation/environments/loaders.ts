/**
 * File loaders for the data-driven environments: the only files of the environments that touch
 * the file system. They read text with node:fs and return plain arrays (parsing lives in the
 * pure `csv.ts`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classificationFromCsv,
  obdFromCsv,
  type ClassificationCsvOptions,
  type ClassificationData,
  type ObdData,
  type ObdOptions,
} from './csv.js';

export type { ClassificationCsvOptions, ClassificationData, ObdData, ObdOptions } from './csv.js';

/**
 * Load a classification data set from a CSV file with a header row (features numeric; a string
 * label column is mapped to class indices in sorted order). Feed the result to `supervised`.
 * @throws Error when the file cannot be read or a cell is not a number (row and column named)
 */
export function loadCsvClassification(path: string, options: ClassificationCsvOptions): ClassificationData {
  return classificationFromCsv(readFileSync(path, 'utf8'), options);
}

/**
 * Load one Open Bandit Dataset log: `<root>/<behaviorPolicy>/<campaign>/<campaign>.csv` and the
 * `item_context.csv` next to it (`root` is the `obd` folder, e.g. `../shared/data/obd`).
 * Reference: Saito, Aihara, Matsutani & Narita 2021, "Open Bandit Dataset and Pipeline".
 * @throws Error when a file is missing (the small sample has no `all` logs) or malformed
 */
export function loadObd(root: string, options: ObdOptions): ObdData {
  const dir = join(root, options.behaviorPolicy, options.campaign);
  const logPath = join(dir, `${options.campaign}.csv`);
  const itemPath = join(dir, 'item_context.csv');
  for (const p of [logPath, itemPath]) {
    if (!existsSync(p)) {
      throw new Error(
        `OBD file not found: ${p}` +
          (options.campaign === 'all' ? ' (the small OBD sample ships no "all" logs; use men or women)' : ''),
      );
    }
  }
  return obdFromCsv(readFileSync(logPath, 'utf8'), readFileSync(itemPath, 'utf8'), options);
}
