/**
 * Scenario files: which environment, which policies (model configs), which seeds, how long.
 * A scenario is JSON validated once by zod at the boundary (`.strict()` everywhere, a default
 * for every field); every problem is reported with its dotted field path
 * (`policies.1.config.budget.share: …`), so a typo in a 40-line file is found at once.
 *
 * ```json
 * { "name": "silence", "seeds": { "count": 10, "start": 1 },
 *   "environment": { "kind": "fatigue" },
 *   "policies": [{ "name": "default", "config": {} },
 *                { "name": "clicks-only", "config": { "feedback": { "learnSilence": false } } }],
 *   "horizon": 3000, "slots": 2, "stepMs": 60000 }
 * ```
 *
 * A policy's `config` is kept as written (a {@link ModelConfigInput}) after it was checked
 * against the model config schema: the engine parses it again, and a sweep can override dotted
 * paths of what the author wrote rather than of the filled-in defaults.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { modelConfigSchema, type ModelConfigInput } from '../engine/config.js';
import { createRng } from '../core/rng.js';
import { createEnvironment, environmentConfigSchema, type EnvironmentConfig } from './environments/index.js';
import type { Environment } from './environments/types.js';

/** A name usable as a directory name and a chart label: letters, digits, `.`, `_`, `-`. */
const slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (starting with a letter or digit)');

/** The headline metrics a report can show (every one is computed and saved anyway). */
export const METRICS = [
  'reward',
  'expectedReward',
  'regret',
  'clickThrough',
  'exploredShare',
  'topGroupShare',
  'groupGini',
  'ignoredShare',
] as const;
/** One headline metric: a field of the runner's totals. */
export type Metric = (typeof METRICS)[number];

/** Seeds as an explicit list, or `count` consecutive integers from `start`. */
export const seedsSchema = z.union([
  z
    .array(z.number().int().min(0).max(2 ** 31 - 1))
    .min(1)
    .max(10_000)
    .refine((xs) => new Set(xs).size === xs.length, 'seeds must be distinct'),
  z
    .object({
      count: z.number().int().min(1).max(10_000).default(10),
      start: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    })
    .strict(),
], { error: 'expected a list of distinct seeds or { "count": n, "start": s }' });

/** One policy of a scenario: a name (chart label) and a model config as written. */
export const scenarioPolicySchema = z
  .object({
    name: slug,
    /** A model config input (DESIGN.md); validated against the model config schema. */
    config: z.custom<ModelConfigInput>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object').default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    const parsed = modelConfigSchema.safeParse(p.config);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', path: ['config', ...issue.path], message: issue.message });
    }
  });

/**
 * A scenario file.
 * - `name` (slug, default `scenario`; the loader uses the file name when absent) — results go to
 *   `<out>/<name>/<timestamp>/`.
 * - `seeds` (default `{ count: 10, start: 1 }`): each (policy, seed) pair is one independent run;
 *   the same seed gives every policy the same population and arrival stream.
 * - `environment` (default `{ kind: "bernoulli" }`): any environment config.
 * - `policies` (1..20, default one engine with the default config), distinct names.
 * - `horizon` (decisions per run, 1..10⁷, default 2000), `slots` (1..100, default 3),
 *   `stepMs` (time between arrivals, default 60 000), `points` (points per series, 2..1000,
 *   default 100), `topItems` (items in the posterior-means chart, 0..50, default 5),
 *   `metrics` (headline metrics of the summary table, default all).
 */
export const scenarioSchema = z
  .object({
    name: slug.default('scenario'),
    description: z.string().max(4000).optional(),
    seeds: seedsSchema.default({ count: 10, start: 1 }),
    environment: environmentConfigSchema.prefault({ kind: 'bernoulli' }),
    policies: z
      .array(scenarioPolicySchema)
      .min(1)
      .max(20)
      .default([{ name: 'default', config: {} }])
      .superRefine((ps, ctx) => {
        const seen = new Set<string>();
        ps.forEach((p, i) => {
          if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate policy name ${JSON.stringify(p.name)}` });
          seen.add(p.name);
        });
      }),
    horizon: z.number().int().min(1).max(10_000_000).default(2000),
    slots: z.number().int().min(1).max(100).default(3),
    stepMs: z.number().positive().max(86_400_000 * 365).default(60_000),
    points: z.number().int().min(2).max(1000).default(100),
    topItems: z.number().int().min(0).max(50).default(5),
    metrics: z
      .array(z.enum(METRICS))
      .min(1)
      .default([...METRICS]),
  })
  .strict();

/** A parsed scenario (defaults filled in). */
export type Scenario = z.output<typeof scenarioSchema>;
/** A scenario as written in a file. */
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** One parsed policy entry. */
export type ScenarioPolicy = Scenario['policies'][number];

/** One problem of a scenario: the dotted path of the field and what is wrong with it. */
export interface ScenarioIssue {
  readonly path: string;
  readonly message: string;
}

/** A scenario that failed validation; `message` lists every issue, one per line. */
export class ScenarioError extends Error {
  readonly issues: readonly ScenarioIssue[];
  constructor(source: string, issues: readonly ScenarioIssue[]) {
    super(`invalid scenario ${source}:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
    this.name = 'ScenarioError';
    this.issues = issues;
  }
}

/** Dotted path of a zod issue path (`['policies', 1, 'config']` → `policies.1.config`). */
export function dottedPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

/**
 * Parse and validate a scenario.
 * @param source a label for error messages (e.g. the file path)
 * @throws ScenarioError listing every problem with its dotted field path
 */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) {
    throw new ScenarioError(
      source,
      parsed.error.issues.map((i) => ({ path: dottedPath(i.path), message: i.message })),
    );
  }
  return parsed.data;
}

/**
 * Read, parse and validate a scenario file. A missing `name` becomes the file's base name.
 * @throws ScenarioError on invalid JSON or an invalid scenario; Error when the file cannot be read
 */
export function loadScenario(path: string): Scenario {
  const text = readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(path, [{ path: '', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  if (typeof json === 'object' && json !== null && !Array.isArray(json) && !('name' in json)) {
    json = { ...json, name: basename(path, extname(path)) };
  }
  return parseScenario(json, path);
}

/** The seeds of a scenario, in order. */
export function resolveSeeds(seeds: Scenario['seeds']): number[] {
  return Array.isArray(seeds) ? [...seeds] : Array.from({ length: seeds.count }, (_, i) => seeds.start + i);
}

/**
 * Command-line overrides: `seeds` runs `n` consecutive seeds from the scenario's first seed;
 * `horizon` replaces the horizon. The result is validated again.
 * @throws ScenarioError when an override is out of range
 */
export function withOverrides(scenario: Scenario, overrides: { seeds?: number; horizon?: number }): Scenario {
  const first = resolveSeeds(scenario.seeds)[0] ?? 1;
  return parseScenario(
    {
      ...scenario,
      ...(overrides.seeds !== undefined ? { seeds: { count: overrides.seeds, start: first } } : {}),
      ...(overrides.horizon !== undefined ? { horizon: overrides.horizon } : {}),
    },
    'command-line overrides',
  );
}

/**
 * The environment of one run: built from the config with hidden parameters drawn from the seed's
 * `environment` stream (apart from the runner's `arrive` and `respond` streams), so every
 * policy run with the same seed meets the same population.
 */
export function environmentForSeed(config: EnvironmentConfig, seed: number): Environment {
  return createEnvironment(config, createRng(`simulation:${seed}`).fork('environment'));
}
