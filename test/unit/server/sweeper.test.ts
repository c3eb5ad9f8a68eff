/**
 * The reward-window sweeper (src/server/sweeper.ts): due windows are closed in chunks of at most
 * `chunk` per model per turn of the event loop, each chunk learned by the replica before the
 * next, sweeps never overlap, and stop() waits for the sweep in progress.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { PolicyReplicas } from '../../../src/engine/replicas.js';
import { startSweeper } from '../../../src/server/sweeper.js';
import { MemoryStore } from '../../../src/storage/memory/index.js';

const pools: PolicyReplicas[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

const candidates = Array.from({ length: 8 }, (_, i) => ({ id: `item${i}`, features: { item: { n: i } } }));

/** An engine whose model has `ranks` decisions of 5 slots, every window already due. */
async function withDueWindows(ranks: number, replicated = false) {
  let now = 1_700_000_000_000;
  let n = 0;
  const engine = new Engine({ store: new MemoryStore(), clock: () => now, newEventId: () => `e${++n}`, snapshotEvery: 0 });
  if (replicated) {
    const pool = new PolicyReplicas({ threads: 1 });
    pools.push(pool);
    engine.useReplicas(pool);
  }
  engine.putModel('m', { policy: { kind: 'linear-gaussian' }, feedback: { rewardWindowSeconds: 1 }, slots: 5, budget: { share: 0 } });
  for (let i = 0; i < ranks; i++) await engine.rankAsync('m', { userId: `u${i % 7}`, context: { user: { i: i % 3 } }, candidates });
  now += 2000;
  // Record what each tick closes (a wrapper around the engine's own tick).
  const ticks: Array<{ closed: number; max: number }> = [];
  const tick = engine.tick.bind(engine);
  engine.tick = (at?: number, max?: number) => {
    const closed = tick(at, max);
    ticks.push({ closed, max: max ?? Number.POSITIVE_INFINITY });
    return closed;
  };
  return { engine, ticks };
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('startSweeper', () => {
  test('closes every due window, at most `chunk` per turn, as silence outcomes', async () => {
    const { engine, ticks } = await withDueWindows(50);
    expect(engine.store.counts('m').openWindows).toBe(250);
    const sweeper = startSweeper(engine, { intervalMs: 5, chunk: 16, onError: (e) => { throw e; } });
    try {
      await until(() => sweeper.sweeps >= 1);
      expect(engine.store.counts('m').openWindows).toBe(0);
      const closing = ticks.filter((t) => t.closed > 0);
      // 250 windows in chunks of 16: 15 full chunks and one of 10, each its own tick.
      expect(closing.map((t) => t.closed)).toEqual([...Array(15).fill(16), 10]);
      expect(ticks.every((t) => t.max === 16)).toBe(true);
      expect(engine.model('m').posteriorSeq).toBe(250); // 250 ignored impressions learned
    } finally {
      await sweeper.stop();
    }
  });

  test('with a replica, each chunk is learned before the next: a finished sweep leaves no lag', async () => {
    const { engine, ticks } = await withDueWindows(20, true);
    const m = engine.model('m');
    expect(m.replicated).toBe(true);
    const lags: number[] = [];
    const tick = engine.tick.bind(engine);
    engine.tick = (at?: number, max?: number) => {
      lags.push(m.posteriorSeq - m.learnedSeq);
      return tick(at, max);
    };
    const sweeper = startSweeper(engine, { intervalMs: 5, chunk: 8, onError: (e) => { throw e; } });
    try {
      await until(() => sweeper.sweeps >= 1);
      expect(engine.store.counts('m').openWindows).toBe(0);
      expect(m.posteriorSeq).toBe(100);
      expect(m.learnedSeq).toBe(100);
      // Every tick after the first found the replica caught up with what the sweep had folded.
      expect(lags.slice(1).every((l) => l === 0)).toBe(true);
      expect(ticks.filter((t) => t.closed > 0).length).toBe(13); // 100 windows, chunks of 8
    } finally {
      await sweeper.stop();
    }
  });

  test('stop() waits for the sweep in progress and no tick runs after it', async () => {
    const { engine, ticks } = await withDueWindows(40);
    const sweeper = startSweeper(engine, { intervalMs: 1, chunk: 1, onError: (e) => { throw e; } });
    await until(() => ticks.length >= 3);
    await sweeper.stop();
    const after = ticks.length;
    const open = engine.store.counts('m').openWindows;
    expect(open).toBeGreaterThan(0); // stopped mid-sweep: 200 windows, one per turn
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(ticks.length).toBe(after);
    expect(engine.store.counts('m').openWindows).toBe(open);
  });

  test('sweeps do not overlap: a tick that finds one running leaves it to finish', async () => {
    const { engine, ticks } = await withDueWindows(30);
    let active = 0;
    let most = 0;
    const tick = engine.tick.bind(engine);
    engine.tick = (at?: number, max?: number) => {
      active++;
      most = Math.max(most, active);
      try {
        return tick(at, max);
      } finally {
        active--;
      }
    };
    const sweeper = startSweeper(engine, { intervalMs: 1, chunk: 2, onError: (e) => { throw e; } });
    try {
      await until(() => engine.store.counts('m').openWindows === 0);
      await until(() => sweeper.sweeps >= 1);
      expect(most).toBe(1);
      // One sweep closed all 150 windows in 75 chunks (interval ticks in between started none).
      expect(ticks.filter((t) => t.closed > 0).length).toBe(75);
    } finally {
      await sweeper.stop();
    }
  });

  test('bad options are refused', async () => {
    const { engine } = await withDueWindows(1);
    expect(() => startSweeper(engine, { intervalMs: 0, onError: () => {} })).toThrow(RangeError);
    expect(() => startSweeper(engine, { intervalMs: 10, chunk: 0, onError: () => {} })).toThrow(RangeError);
    expect(() => startSweeper(engine, { intervalMs: 10, chunk: 1.5, onError: () => {} })).toThrow(RangeError);
  });
});
