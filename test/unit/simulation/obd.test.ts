import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { createObdReplay } from '../../../src/simulation/environments/index.js';
import { loadObd } from '../../../src/simulation/environments/loaders.js';

// The Open Bandit Dataset sample is third-party data kept outside the repository.
const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const dataRoot = process.env.LIUBAI_DATA ?? join(repo, '..', 'shared', 'data');
const obdRoot = join(dataRoot, 'obd');
const present = existsSync(join(obdRoot, 'random', 'men', 'men.csv'));
if (!present) {
  console.warn(`OBD tests skipped: no Open Bandit Dataset sample at ${obdRoot} (set LIUBAI_DATA to the folder holding obd/)`);
}

describe.skipIf(!present)('Open Bandit Dataset (random/men, bts/men)', () => {
  const random = present ? loadObd(obdRoot, { behaviorPolicy: 'random', campaign: 'men' }) : undefined;

  test('loadObd reads the random/men sample: 10 000 rows, uniform propensities, positions 1..3', () => {
    const d = random!;
    expect(d.nItems).toBe(34);
    expect(d.itemIds.length).toBe(10_000);
    for (const col of [d.positions, d.clicks, d.propensities, d.timestamps, d.userFeatures, d.affinities]) {
      expect(col.length).toBe(10_000);
    }
    expect(new Set(d.positions)).toEqual(new Set([1, 2, 3]));
    expect(d.propensities.every((q) => q > 0 && q <= 1)).toBe(true);
    expect(d.propensities.every((q) => Math.abs(q - 1 / 34) < 1e-12)).toBe(true);
    expect(d.itemIds.every((i) => Number.isInteger(i) && i >= 0 && i < 34)).toBe(true);
    // SOURCES.md: 46 clicks, 10 / 22 / 14 by position; the week starts 2019-11-24 (UTC).
    expect(d.clicks.reduce((a, b) => a + b, 0)).toBe(46);
    expect([1, 2, 3].map((p) => d.clicks.filter((c, t) => c === 1 && d.positions[t] === p).length)).toEqual([10, 22, 14]);
    expect(d.timestamps[0]).toBe(Date.UTC(2019, 10, 24, 0, 3, 13, 442));
    expect(d.userFeatureNames).toEqual(['user_feature_0', 'user_feature_1', 'user_feature_2', 'user_feature_3']);
    expect(d.affinities[0]!.length).toBe(34);
    expect(d.itemFeatureNames).toEqual(['item_feature_0', 'item_feature_1', 'item_feature_2', 'item_feature_3']);
    expect(typeof d.itemFeatures[0]!.item_feature_0).toBe('number');
    expect(d.itemFeatures[0]!.item_feature_0).toBeCloseTo(-0.6771831139635117, 15);
    expect(typeof d.itemFeatures[0]!.item_feature_1).toBe('string');
  });

  test('bts/men: logged propensities in (0, 1], 69 clicks; limit keeps the first rows', () => {
    const d = loadObd(obdRoot, { behaviorPolicy: 'bts', campaign: 'men' });
    expect(d.propensities.every((q) => q > 0 && q <= 1)).toBe(true);
    expect(Math.min(...d.propensities)).toBeLessThan(0.001);
    expect(d.clicks.reduce((a, b) => a + b, 0)).toBe(69);
    const head = loadObd(obdRoot, { behaviorPolicy: 'bts', campaign: 'men', limit: 100 });
    expect(head.itemIds).toEqual(d.itemIds.slice(0, 100));
  });

  test('the "all" logs are absent from the sample: a clear error', () => {
    expect(() => loadObd(obdRoot, { behaviorPolicy: 'random', campaign: 'all' })).toThrow(/no "all" logs/);
  });

  test('replay: rounds carry the situation; a slate counts only with the logged item at the logged position', () => {
    const replay = createObdReplay(random!);
    expect(replay.name).toBe('obd-random-men');
    expect(replay.rounds.length).toBe(10_000);
    expect(replay.slots).toBe(3);
    expect(replay.uniformLogging).toBe(true);
    expect(replay.candidates.length).toBe(34);
    expect(new Set(replay.groups.values()).size).toBe(7);
    const r0 = replay.rounds[0]!;
    expect(r0).toMatchObject({ index: 0, itemId: '14', position: 3, click: 0 });
    expect(r0.propensity).toBeCloseTo(1 / 34, 15);
    expect(r0.arrival.context.user).toEqual({
      user_feature_0: 'cef3390ed299c09874189c387777674a',
      user_feature_1: '03a5648a76832f83c859d46bc06cb64a',
      user_feature_2: '7bc94a2da491829b777c49c4b5e480f2',
      user_feature_3: '9bde591ffaab8d54c457448e4dca6f53',
    });
    expect(r0.arrival.context.affinity).toEqual({});
    expect(replay.replayMatch(r0, [{ itemId: '1', position: 1 }, { itemId: '2', position: 2 }, { itemId: '14', position: 3 }])).toBe(true);
    expect(replay.replayMatch(r0, [{ itemId: '14', position: 1 }])).toBe(false);
    expect(createObdReplay(loadObd(obdRoot, { behaviorPolicy: 'bts', campaign: 'men', limit: 500 })).uniformLogging).toBe(false);
  });

  test('replay of a uniform-random slate policy matches about one round in 34 (5 SE)', () => {
    const replay = createObdReplay(random!);
    const rng = createRng('replay');
    let matched = 0;
    for (const round of replay.rounds) {
      const ids = round.arrival.candidates.map((c) => c.id);
      rng.shuffle(ids);
      const slate = ids.slice(0, replay.slots).map((itemId, i) => ({ itemId, position: i + 1 }));
      if (replay.replayMatch(round, slate)) matched++;
    }
    const n = replay.rounds.length;
    const q = 1 / 34;
    expect(Math.abs(matched - n * q)).toBeLessThan(5 * Math.sqrt(n * q * (1 - q)));
  });
});
