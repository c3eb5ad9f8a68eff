/**
 * Settings of `liubai serve`, from (lowest to highest precedence) the schema defaults, a JSON
 * config file (`--config`), the environment (`LIUBAI_*`) and flags. Parsed once with zod and
 * frozen; parsing never stops at the first problem: it returns every problem, each naming where
 * the bad value came from (`--port`, `LIUBAI_PORT`, `config.json: models.news.policy.kind`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { deepFreeze, modelConfigSchema } from '../engine/config.js';
import { formatPath } from '../engine/errors.js';
import { DEFAULT_BACKENDS, NEURAL_BACKEND_NAMES, type NeuralBackendName } from '../policies/neural-linear/backend.js';

/** tensorflow.js backends to try for neural-linear models, in order (`cpu` is always tried last). */
export const neuralBackendsSchema = z
  .array(z.enum(NEURAL_BACKEND_NAMES as [NeuralBackendName, ...NeuralBackendName[]]))
  .min(1)
  .default([...DEFAULT_BACKENDS]);

/** An API key: at least 8 characters, no whitespace or commas (env lists are comma-separated). */
const apiKeySchema = z
  .string()
  .min(8, 'an API key needs at least 8 characters')
  .max(512)
  .regex(/^[^\s,]+$/, 'an API key may not contain whitespace or commas');

/** Numbers from flags and env arrive as text: a numeric string becomes a number, anything else stays. */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), schema);
const flag = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), schema);

/** The settings of `liubai serve`; every field has a default. */
export const serveSettingsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: numeric(z.number().int().min(0).max(65_535)).default(8080),
    /** SQLite file; its directory is created. */
    db: z.string().min(1).default('./data/liubai.db'),
    scoringKeys: z.array(apiKeySchema).default([]),
    adminKeys: z.array(apiKeySchema).default([]),
    bodyLimitBytes: numeric(z.number().int().min(1024).max(1024 * 1024 * 1024)).default(1024 * 1024),
    maxFeedbackBatch: numeric(z.number().int().min(1).max(1_000_000)).default(10_000),
    /** Ranks in progress at once; one more is answered 503 OVERLOADED with Retry-After (load shedding). */
    maxPendingRanks: numeric(z.number().int().min(1).max(1_000_000)).default(256),
    /** Start a sweep of due reward windows this often (each closes them in chunks between requests). */
    sweepIntervalMs: numeric(z.number().int().min(10).max(3_600_000)).default(250),
    /** Periodic snapshots of models whose posterior moved; 0 = only at shutdown. */
    snapshotIntervalSeconds: numeric(z.number().min(0).max(86_400)).default(60),
    /** The engine also snapshots a model every this many folded outcomes (0 = never). */
    snapshotEvery: numeric(z.number().int().min(0).max(100_000_000)).default(1000),
    /** SQLite WAL checkpoints in a worker thread this often; 0 = SQLite's own (on the event loop). */
    checkpointIntervalMs: numeric(z.number().int().min(0).max(3_600_000)).default(200),
    /** What a 2xx survives: `process` (kill -9) or `power` (also power loss; group fsync). */
    durability: z.enum(['process', 'power']).default('process'),
    shutdownTimeoutMs: numeric(z.number().int().min(0).max(600_000)).default(10_000),
    /** Worker threads deciding on posterior replicas (policy draws and propensities); 0 = in the main thread. */
    decisionThreads: numeric(z.number().int().min(0).max(64)).default(1),
    /**
     * Feedback is acknowledged only once the decision threads' replica lags at most this many
     * learning-log entries behind (backpressure; bounds the work queued ahead of decisions).
     */
    maxLearningLag: numeric(z.number().int().min(0).max(100_000_000)).default(500),
    /** tensorflow.js backends for neural-linear models, in order of preference. */
    neuralBackends: neuralBackendsSchema,
    /** Create the demo model from models/presets/demo.json when the store holds no model. */
    demo: flag(z.boolean()).default(true),
    /** Models to create (or reconfigure) at startup, by id. */
    models: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'invalid model id'), modelConfigSchema)
      .default({}),
  })
  .strict();

/** Parsed settings of `liubai serve` (frozen once parsed). */
export type ServeSettings = z.output<typeof serveSettingsSchema>;
type SettingKey = keyof ServeSettings;

/** Flags of `liubai serve` and the setting each sets. */
const FLAGS: Readonly<Record<string, { key: SettingKey; kind: 'value' | 'list' | 'boolean' }>> = {
  '--db': { key: 'db', kind: 'value' },
  '--port': { key: 'port', kind: 'value' },
  '--host': { key: 'host', kind: 'value' },
  '--scoring-key': { key: 'scoringKeys', kind: 'list' },
  '--admin-key': { key: 'adminKeys', kind: 'list' },
  '--body-limit': { key: 'bodyLimitBytes', kind: 'value' },
  '--max-feedback-batch': { key: 'maxFeedbackBatch', kind: 'value' },
  '--max-pending-ranks': { key: 'maxPendingRanks', kind: 'value' },
  '--sweep-interval-ms': { key: 'sweepIntervalMs', kind: 'value' },
  '--snapshot-interval': { key: 'snapshotIntervalSeconds', kind: 'value' },
  '--snapshot-every': { key: 'snapshotEvery', kind: 'value' },
  '--shutdown-timeout-ms': { key: 'shutdownTimeoutMs', kind: 'value' },
  '--durability': { key: 'durability', kind: 'value' },
  '--checkpoint-interval-ms': { key: 'checkpointIntervalMs', kind: 'value' },
  '--decision-threads': { key: 'decisionThreads', kind: 'value' },
  '--max-learning-lag': { key: 'maxLearningLag', kind: 'value' },
  '--demo': { key: 'demo', kind: 'boolean' },
  '--neural-backend': { key: 'neuralBackends', kind: 'list' },
};

/** Environment variables and the setting each sets (lists are comma-separated). */
const ENV: Readonly<Record<string, { key: SettingKey; list?: true }>> = {
  LIUBAI_PORT: { key: 'port' },
  LIUBAI_HOST: { key: 'host' },
  LIUBAI_DB: { key: 'db' },
  LIUBAI_SCORING_KEYS: { key: 'scoringKeys', list: true },
  LIUBAI_ADMIN_KEYS: { key: 'adminKeys', list: true },
  LIUBAI_DURABILITY: { key: 'durability' },
  LIUBAI_DECISION_THREADS: { key: 'decisionThreads' },
  LIUBAI_NEURAL_BACKEND: { key: 'neuralBackends', list: true },
};

/** Usage text of `liubai serve`. */
export const SERVE_USAGE = `usage: liubai serve [--db file] [--port n] [--host addr] [--config file.json]
                    [--scoring-key k]... [--admin-key k]... [--body-limit bytes]
                    [--max-feedback-batch n] [--max-pending-ranks n] [--sweep-interval-ms ms] [--snapshot-interval s]
                    [--snapshot-every n] [--shutdown-timeout-ms ms] [--durability process|power]
                    [--checkpoint-interval-ms ms] [--decision-threads n] [--max-learning-lag n]
                    [--neural-backend tensorflow|wasm|cpu]... [--no-demo]
environment: LIUBAI_PORT, LIUBAI_HOST, LIUBAI_DB, LIUBAI_SCORING_KEYS, LIUBAI_ADMIN_KEYS (comma-separated),
             LIUBAI_DURABILITY, LIUBAI_DECISION_THREADS, LIUBAI_NEURAL_BACKEND (comma-separated)
precedence: flags > environment > --config file > defaults`;

/** The outcome of {@link parseServeSettings}. */
export type SettingsResult =
  | { readonly ok: true; readonly settings: Readonly<ServeSettings> }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The items of a comma-separated setting (`LIUBAI_SCORING_KEYS`, `LIUBAI_NEURAL_BACKEND`), trimmed, empty ones dropped. */
export function commaList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Flags whose values are API keys, which no message may show. */
const KEY_FLAGS = new Set(['--scoring-key', '--admin-key']);

/**
 * Parse the settings of `liubai serve` from its arguments, the environment and the config file.
 * @param argv arguments after `serve`
 * @param env the environment (only `LIUBAI_*` is read)
 * @param readFile reads the `--config` file (injected for tests)
 * @returns the frozen settings, or every problem found
 */
export function parseServeSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): SettingsResult {
  const problems: string[] = [];
  const fromFlags: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  let configPath: string | undefined;
  /** The key flag whose value came last, while only stray arguments follow it. */
  let afterKey: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      // Strays right after a key flag's value are likely more keys: say where they are, not what.
      problems.push(
        afterKey !== undefined
          ? `unexpected argument after ${afterKey} (not shown: it may be a key; give ${afterKey} once per key)`
          : `unexpected argument ${JSON.stringify(arg)}`,
      );
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    afterKey = KEY_FLAGS.has(name) ? name : undefined;
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (name === '--no-demo' && inline === undefined) {
      fromFlags['demo'] = false;
      sources.set('demo', '--no-demo');
      continue;
    }
    const spec = name === '--config' ? null : FLAGS[name];
    if (name !== '--config' && !spec) {
      problems.push(`unknown flag ${name}`);
      // Its value, if any, is not a stray argument of its own.
      if (inline === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) i++;
      continue;
    }
    let value = inline;
    if (spec?.kind === 'boolean' && value === undefined) value = 'true';
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`${name}: a value is required`);
        continue;
      }
      value = next;
      i++;
    }
    if (!spec) {
      configPath = value;
      continue;
    }
    if (spec.kind === 'list') {
      const before = fromFlags[spec.key];
      fromFlags[spec.key] = [...(Array.isArray(before) ? before : []), value];
    } else {
      if (fromFlags[spec.key] !== undefined) problems.push(`${name}: given more than once`);
      fromFlags[spec.key] = value;
    }
    sources.set(spec.key, name);
  }

  const fromEnv: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    fromEnv[spec.key] = spec.list ? commaList(raw) : raw;
  }

  let fromFile: Record<string, unknown> = {};
  if (configPath !== undefined) {
    try {
      const parsed: unknown = JSON.parse(readFile(configPath));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) fromFile = parsed as Record<string, unknown>;
      else problems.push(`--config ${configPath}: the file must hold a JSON object`);
    } catch (error) {
      problems.push(`--config ${configPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // Precedence per setting; remember where each effective value came from, to name it in problems.
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fromFile)) {
    merged[key] = value;
    sources.set(key, sources.get(key) ?? `${configPath}: ${key}`);
  }
  for (const [key, value] of Object.entries(fromEnv)) {
    merged[key] = value;
    if (fromFlags[key] === undefined) {
      const name = Object.entries(ENV).find(([, s]) => s.key === key)?.[0];
      sources.set(key, name ?? key);
    }
  }
  Object.assign(merged, fromFlags);

  const result = serveSettingsSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`${configPath ?? 'settings'}: unknown setting ${formatPath([...path, key])}`);
        continue;
      }
      const top = String(path[0] ?? '');
      const source = sources.get(top) ?? top;
      const rest = formatPath(path.slice(1));
      problems.push(`${source}${rest ? ` (${rest})` : ''}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) return { ok: false, problems };
  return { ok: true, settings: deepFreeze(result.data) };
}
