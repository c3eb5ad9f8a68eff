/**
 * `liubai train --model <id>`: retrain a model's learned representation (neural-linear encoder)
 * from the learning log in the database, offline, and save the artifact under
 * `<models-dir>/<id>/<version>/`. Reads the database only (safe next to a running server, SQLite
 * WAL); a running server adopts the new encoder at its next start (or through its own retrain
 * trigger, which works the same way in-process).
 *
 * Exit codes: 0 trained and saved, 1 failure while training or saving, 2 bad usage (unknown flag,
 * missing database or model, a policy that does not retrain).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseModelConfig } from '../engine/config.js';
import { LiubaiError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { openSqliteStore } from '../storage/sqlite/index.js';

export const TRAIN_USAGE = `usage: liubai train --model <id> [--db file] [--models-dir dir] [--backend tensorflow|wasm|cpu] [--worker]
  --model       the model to retrain (its policy must retrain: neural-linear)
  --db          the database (default $LIUBAI_DB or ./data/liubai.db)
  --models-dir  where artifacts go (default $LIUBAI_MODELS or ./models)
  --backend     tensorflow.js backend to try first (default: tensorflow, wasm, cpu)
  --worker      train in a worker thread (default: this thread)`;

/** Where `trainCommand` writes (tests pass their own). */
export interface TrainIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

interface TrainArgs {
  model: string;
  db: string;
  modelsDir: string;
  backend: 'tensorflow' | 'wasm' | 'cpu' | null;
  worker: boolean;
}

function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): TrainArgs | string {
  const out: TrainArgs = {
    model: '',
    db: env['LIUBAI_DB'] ?? './data/liubai.db',
    modelsDir: env['LIUBAI_MODELS'] ?? './models',
    backend: null,
    worker: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    try {
      if (flag === '--model') out.model = value();
      else if (flag === '--db') out.db = value();
      else if (flag === '--models-dir') out.modelsDir = value();
      else if (flag === '--worker') out.worker = true;
      else if (flag === '--backend') {
        const b = value();
        if (b !== 'tensorflow' && b !== 'wasm' && b !== 'cpu') return `--backend must be tensorflow, wasm or cpu, got ${b}`;
        out.backend = b;
      } else return `unknown option ${flag}`;
    } catch (error) {
      return (error as Error).message;
    }
  }
  if (out.model === '') return '--model is required';
  return out;
}

/**
 * Run `liubai train`.
 * @param argv arguments after `train`
 * @returns the exit code
 */
export async function trainCommand(
  argv: readonly string[],
  io: TrainIo = { stdout: process.stdout, stderr: process.stderr },
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${TRAIN_USAGE}\n`);
    return 0;
  }
  const args = parseArgs(argv, env);
  if (typeof args === 'string') {
    io.stderr.write(`liubai train: ${args}\n${TRAIN_USAGE}\n`);
    return 2;
  }
  const dbPath = resolve(args.db);
  if (!existsSync(dbPath)) {
    io.stderr.write(`liubai train: no database at ${dbPath}\n`);
    return 2;
  }
  const store = openSqliteStore(dbPath);
  let runtime: Awaited<ReturnType<typeof import('../policies/neural-linear/runtime.js').createNeuralRuntime>> | null = null;
  try {
    const record = store.getModel(args.model);
    if (!record) {
      io.stderr.write(`liubai train: no model ${JSON.stringify(args.model)} in ${dbPath}\n`);
      return 2;
    }
    const config = parseModelConfig(record.config);
    if (config.policy.kind !== 'neural-linear') {
      io.stderr.write(`liubai train: model ${args.model} uses ${config.policy.kind}, which does not retrain\n`);
      return 2;
    }
    // Imported here: tensorflow.js loads only when a neural model is trained.
    const { initNeuralBackend } = await import('../policies/neural-linear/backend.js');
    const { createNeuralRuntime } = await import('../policies/neural-linear/runtime.js');
    const log = (line: string) => io.stderr.write(`${line}\n`);
    if (args.backend) await initNeuralBackend({ backends: [args.backend], log });
    runtime = await createNeuralRuntime({ modelsDir: resolve(args.modelsDir), worker: args.worker, clock: () => Date.now(), log });
    await runtime.preload([args.model]);
    const model = new Model(args.model, record.version, config, {
      store,
      clock: () => Date.now(),
      newEventId: () => randomUUID(),
      snapshotEvery: 0,
      retrain: runtime,
    });
    try {
      const summary = await model.retrain();
      io.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    } finally {
      model.close();
    }
  } catch (error) {
    const text = error instanceof LiubaiError || error instanceof Error ? error.message : String(error);
    io.stderr.write(`liubai train: ${text}\n`);
    return error instanceof LiubaiError ? 2 : 1;
  } finally {
    await runtime?.close();
    store.close();
  }
}
