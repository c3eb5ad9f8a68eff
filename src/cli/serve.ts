/**
 * `liubai serve`: parse the settings (exit code 2 listing every problem), open the database,
 * load the models, create the demo model when there is none, listen, print how to call it, and
 * shut down gracefully on SIGTERM/SIGINT.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiubaiError } from '../engine/errors.js';
import { jsonLogger } from '../server/logger.js';
import { exitOnSignals, startServer } from '../server/server.js';
import { SERVE_USAGE, parseServeSettings, type ServeSettings } from './settings.js';

/** The demo model preset shipped with the package. */
export const DEMO_PRESET = fileURLToPath(new URL('../../models/presets/demo.json', import.meta.url));
/** Id of the demo model created on an empty database. */
export const DEMO_MODEL_ID = 'demo';

/** The curl lines printed at startup (keys are never printed: `$LIUBAI_KEY` stands for one). */
export function howToCall(url: string, modelId: string, withKey: boolean): string {
  const auth = withKey ? ` -H "Authorization: Bearer $LIUBAI_KEY"` : '';
  const rank = JSON.stringify({
    eventId: 'hello-1',
    userId: 'u1',
    context: { user: { country: 'fr' }, session: { hour: 20, device: 'mobile' } },
    candidates: [
      { id: 'a', features: { item: { topic: 'news' } }, group: 'news' },
      { id: 'b', features: { item: { topic: 'sport' } }, group: 'sport' },
      { id: 'c', features: { item: { topic: 'music' } }, group: 'music' },
    ],
    slots: 3,
  });
  const feedback = JSON.stringify({ eventId: 'hello-1', itemId: 'a', kind: 'click' });
  const base = `${url}/v1/models/${modelId}`;
  return [
    `rank:      curl -s -X POST ${base}/rank -H 'Content-Type: application/json'${auth} -d '${rank}'`,
    `feedback:  curl -s -X POST ${base}/feedback -H 'Content-Type: application/json'${auth} -d '${feedback}'`,
    `model:     curl -s ${base}${auth}`,
    `api:       curl -s ${url}/openapi.json`,
  ].join('\n');
}

/**
 * Run `liubai serve`.
 * @param argv arguments after `serve`
 * @param env the environment
 */
export async function serve(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SERVE_USAGE);
    return;
  }
  const parsed = parseServeSettings(argv, env);
  if (!parsed.ok) {
    console.error(`liubai serve: ${parsed.problems.length} problem(s) with the settings:`);
    for (const p of parsed.problems) console.error(`  - ${p}`);
    console.error(SERVE_USAGE);
    process.exitCode = 2;
    return;
  }
  const s: Readonly<ServeSettings> = parsed.settings;
  const logger = jsonLogger();
  if (s.scoringKeys.length > 0 && s.adminKeys.length === 0) {
    logger.info('scoring keys without admin keys: admin routes (PUT/DELETE model) are closed');
  }
  const dbPath = resolve(s.db);
  let demo: { modelId: string; config: unknown } | null = null;
  try {
    mkdirSync(dirname(dbPath), { recursive: true });
    if (s.demo) demo = { modelId: DEMO_MODEL_ID, config: JSON.parse(readFileSync(DEMO_PRESET, 'utf8')) as unknown };
  } catch (error) {
    console.error(`liubai serve: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }

  let running;
  try {
    running = await startServer({
      host: s.host,
      port: s.port,
      dbPath,
      keys: { scoring: s.scoringKeys, admin: s.adminKeys },
      limits: { bodyBytes: s.bodyLimitBytes, maxFeedbackBatch: s.maxFeedbackBatch, maxPendingRanks: s.maxPendingRanks },
      snapshotEvery: s.snapshotEvery,
      snapshotIntervalMs: s.snapshotIntervalSeconds * 1000,
      sweepIntervalMs: s.sweepIntervalMs,
      shutdownTimeoutMs: s.shutdownTimeoutMs,
      durability: s.durability,
      checkpointIntervalMs: s.checkpointIntervalMs,
      decisionThreads: s.decisionThreads,
      maxLearningLag: s.maxLearningLag,
      neuralBackends: s.neuralBackends,
      models: s.models,
      fallbackModel: demo,
      logger,
    });
  } catch (error) {
    const message = error instanceof LiubaiError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    console.error(`liubai serve: cannot start: ${message}`);
    process.exitCode = 1;
    return;
  }
  exitOnSignals(running, logger);
  // Machine-readable first line (tests and scripts parse it), then how to call the API.
  console.log(`liubai listening on ${running.url}`);
  const modelIds = running.engine.modelIds();
  console.log(`database ${dbPath}; models: ${modelIds.join(', ') || '(none)'}${running.created.length > 0 ? ` (created: ${running.created.join(', ')})` : ''}`);
  const shown = modelIds.includes(DEMO_MODEL_ID) ? DEMO_MODEL_ID : modelIds[0];
  if (shown !== undefined) console.log(howToCall(running.url, shown, s.scoringKeys.length + s.adminKeys.length > 0));
}
