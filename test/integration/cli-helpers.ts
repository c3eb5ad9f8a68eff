/**
 * Helpers of the command-line tests: captured output of a command run in-process, the run
 * directory a command created, and logged traffic written into a store for `liubai evaluate`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CommandIo } from '../../src/cli/simulate.js';
import type { Rng } from '../../src/core/rng.js';
import type { Engine } from '../../src/engine/engine.js';
import type { Environment } from '../../src/simulation/environments/types.js';
import type { Store } from '../../src/storage/types.js';

/** Captures what a command writes. */
export function captureIo(): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t), isTTY: false },
    out: () => out,
    err: () => err,
  };
}

/** The single run directory under `<root>/<name>/`. */
export function runDir(root: string, name: string): string {
  const runs = readdirSync(join(root, name));
  expect(runs).toHaveLength(1);
  return join(root, name, runs[0]!);
}

/**
 * `steps` decisions of model `modelId`, one a minute, by the people of `env`, whose reactions are
 * reported at once; then a day passes, so every reward window closes. `clock` is the engine's
 * clock (`() => clock.now`), advanced here. One transaction (the engine's own nest as
 * savepoints), so a SQLite file is written once.
 */
export function logTraffic(store: Store, engine: Engine, modelId: string, env: Environment, rng: Rng, steps: number, clock: { now: number }): void {
  const arrive = rng.fork('arrive');
  const respond = rng.fork('respond');
  store.transaction(() => {
    for (let step = 0; step < steps; step++) {
      clock.now += 60_000;
      engine.tick(clock.now);
      const a = env.arrive(clock.now, arrive);
      const r = engine.rank(modelId, { context: a.context, candidates: a.candidates, userId: a.userId });
      const shown = r.slate.map((s) => ({ itemId: s.id, position: s.position }));
      for (const re of env.respond(a, shown, respond)) engine.feedback(modelId, { eventId: r.eventId, itemId: re.itemId, kind: re.kind });
    }
    clock.now += 86_400_000;
    engine.tick(clock.now);
  });
}
