/**
 * kill -9 under load. A child `liubai serve` takes concurrent rank + feedback traffic on loopback
 * and is killed with SIGKILL after a seeded number of acknowledged operations, with requests in
 * flight. After a restart on the same database:
 * - every acknowledged decision is there with its slate and reward windows, every acknowledged
 *   feedback with its outcome;
 * - nothing unacknowledged is half-written: a decision is present with all its windows or
 *   absent, a feedback with its outcome and closed window or not at all, and no window, feedback
 *   or ledger row lacks its decision;
 * - the restarted server's posterior (latest snapshot + replay of the log after it) equals the
 *   posterior rebuilt from the whole log with snapshots ignored.
 * The seed is LIUBAI_CRASH_SEED (default "crash-1"), printed on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, expect, test } from 'vitest';
import { createRng } from '../../src/core/rng.js';
import { parseModelConfig, posteriorKey } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import type { Store } from '../../src/storage/types.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/liubai.mjs');
const SEED = process.env['LIUBAI_CRASH_SEED'] ?? 'crash-1';
const dir = mkdtempSync(join(tmpdir(), 'liubai-crash-'));
/** Children still running when the file ends (a failed test) are killed, never leaked. */
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const MODEL = 'm';
const modelConfig = {
  policy: { kind: 'linear-gaussian' },
  features: { bits: 10, interactions: [['user', 'item']] },
  budget: { share: 0.2, perUser: { ratePerHour: 100, burst: 3 } },
  decay: { halfLifeOutcomes: 500 },
  slots: 3,
  seed: 11,
};

function startChild(db: string, config: string): { child: ChildProcess; url: Promise<string>; exit: Promise<number | null>; stderr: string[] } {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--config', config, '--no-demo', '--snapshot-every', '25'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^liubai listening on (http:\/\/\S+)$/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  return { child, url, exit, stderr };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

/** The store with its snapshots hidden: an engine over it rebuilds every posterior from the log. */
function withoutSnapshots(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'latestSnapshot') return () => undefined;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const fbKey = (eventId: string, itemId: string) => `${eventId}\u0000${itemId}`;

test(`acknowledged writes survive kill -9; nothing is half-written; restart = replay from scratch (seed ${SEED})`, async () => {
  const rng = createRng(SEED);
  const killAfter = 120 + rng.int(240);
  const db = join(dir, 'crash.db');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ models: { [MODEL]: modelConfig } }));

  // ── load, then SIGKILL ──
  const first = startChild(db, config);
  const base = `${await first.url}/v1/models/${MODEL}`;
  const ackedRanks = new Map<string, string[]>();
  const sentRanks = new Set<string>();
  const ackedFeedback = new Map<string, string>();
  const sentFeedback = new Map<string, string>();
  let done = 0;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    first.child.kill('SIGKILL');
  };

  const worker = async (w: number) => {
    const r = rng.fork(`worker-${w}`);
    for (let i = 0; !killed; i++) {
      const eventId = `w${w}-e${i}`;
      const candidates = Array.from({ length: 8 }, (_, j) => ({ id: `item${(i + j * 3) % 20}`, features: { item: { kind: `k${j % 4}`, price: j + 1 } }, group: `g${j % 3}` }));
      sentRanks.add(eventId);
      let slate: string[];
      try {
        const a = await post(`${base}/rank`, { eventId, userId: `u${r.int(30)}`, context: { user: { age: 20 + r.int(40) } }, candidates });
        if (a.status !== 200) throw new Error(`rank answered ${a.status}: ${JSON.stringify(a.json)}`);
        slate = a.json.slate.map((s: { id: string }) => s.id);
        ackedRanks.set(eventId, slate);
      } catch (error) {
        if (killed) return;
        throw error;
      }
      if (++done >= killAfter) kill();
      if (killed || r.uniform() < 0.3) continue;
      const chosen = slate.filter(() => r.uniform() < 0.5);
      const events = (chosen.length > 0 ? chosen : [slate[0]!]).map((itemId) => ({ eventId, itemId, kind: r.uniform() < 0.8 ? 'click' : 'dismiss' }));
      for (const e of events) sentFeedback.set(fbKey(e.eventId, e.itemId), e.kind);
      try {
        const a = await post(`${base}/feedback`, events.length === 1 ? events[0] : { events });
        if (a.status !== 200) throw new Error(`feedback answered ${a.status}: ${JSON.stringify(a.json)}`);
        expect(a.json.accepted).toBe(events.length);
        for (const e of events) ackedFeedback.set(fbKey(e.eventId, e.itemId), e.kind);
      } catch (error) {
        if (killed) return;
        throw error;
      }
      if (++done >= killAfter) kill();
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
  expect(await first.exit).toBeNull(); // killed by the signal
  expect(ackedRanks.size).toBeGreaterThan(50);

  // The log has a snapshot before its end, so the restart goes through snapshot + replay.
  const key = posteriorKey(parseModelConfig(modelConfig));
  {
    const store = openSqliteStore(db);
    try {
      const snap = store.latestSnapshot(MODEL, key);
      expect(snap, 'a snapshot was taken under load').toBeDefined();
      expect(snap!.seq).toBeGreaterThan(0);
      expect(store.lastSeq(MODEL)).toBeGreaterThanOrEqual(snap!.seq);
    } finally {
      store.close();
    }
  }

  // ── restart on the same database ──
  const second = startChild(db, config);
  const url2 = await second.url;
  const view = (await (await fetch(`${url2}/v1/models/${MODEL}?posterior=full`)).json()) as { version: number; posteriorState: unknown };
  expect(view.version).toBe(1);
  // An acknowledged feedback is known after the restart: the same event again is a duplicate.
  const [someFeedback] = [...ackedFeedback.entries()];
  if (someFeedback) {
    const [eventId, itemId] = someFeedback[0].split('\u0000') as [string, string];
    const again = await post(`${url2}/v1/models/${MODEL}/feedback`, { eventId, itemId, kind: someFeedback[1] });
    expect(again.json).toEqual({ accepted: 0, duplicates: 1, outcomes: 0 });
  }
  second.child.kill('SIGTERM');
  expect(await second.exit).toBe(0);

  // ── what the database holds ──
  const store = openSqliteStore(db);
  try {
    for (const [eventId, slate] of ackedRanks) {
      const d = store.getDecision(MODEL, eventId);
      expect(d, `acknowledged decision ${eventId}`).toBeDefined();
      expect(d!.slate.map((s) => s.itemId)).toEqual(slate);
    }
    let present = 0;
    for (const eventId of sentRanks) {
      const d = store.getDecision(MODEL, eventId);
      if (!d) {
        expect(ackedRanks.has(eventId)).toBe(false);
        continue;
      }
      present++;
      // Whole: every slate item has an open window, or its window was closed by a recorded feedback.
      for (const s of d.slate) {
        const k = fbKey(eventId, s.itemId);
        const outcome = store.activeOutcome(MODEL, eventId, s.itemId);
        const open = store.isWindowOpen(MODEL, eventId, s.itemId);
        if (ackedFeedback.has(k)) {
          expect(outcome?.kind, `acknowledged feedback on ${eventId}/${s.itemId}`).toBe(ackedFeedback.get(k));
          expect(open).toBe(false);
        } else if (sentFeedback.has(k)) {
          // In flight at the kill: all of it or nothing.
          expect(open ? outcome : outcome?.kind).toBe(open ? undefined : sentFeedback.get(k));
        } else {
          expect(open, `window of ${eventId}/${s.itemId}`).toBe(true);
          expect(outcome).toBeUndefined();
        }
      }
    }
    const counts = store.counts(MODEL);
    expect(counts.decisions).toBe(present);
    expect(counts.decisions).toBeGreaterThanOrEqual(ackedRanks.size);

    // ── posterior: restarted server (snapshot + replay) = rebuilt from the whole log ──
    const fromScratch = new Engine({ store: withoutSnapshots(store), snapshotEvery: 0 });
    const rebuilt = JSON.parse(JSON.stringify(fromScratch.model(MODEL).posteriorSnapshot())) as unknown;
    expect(view.posteriorState).toEqual(rebuilt);
    expect(fromScratch.model(MODEL).posteriorSeq).toBe(store.lastSeq(MODEL));
  } finally {
    store.close();
  }

  // ── no orphans: raw rows, read-only ──
  const raw = new Database(db, { readonly: true });
  try {
    const orphans = (sql: string) => (raw.prepare(sql).get() as { n: number }).n;
    expect(orphans('SELECT count(*) AS n FROM windows w WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.model_id = w.model_id AND d.event_id = w.event_id)')).toBe(0);
    expect(orphans('SELECT count(*) AS n FROM feedback f WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.model_id = f.model_id AND d.event_id = f.event_id)')).toBe(0);
    expect(orphans('SELECT count(*) AS n FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.model_id = l.model_id AND d.event_id = l.event_id)')).toBe(0);
    // Each feedback row has its outcome and vice versa (no silence closes windows in this run).
    expect(orphans('SELECT count(*) AS n FROM feedback f WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.model_id = f.model_id AND o.event_id = f.event_id AND o.item_id = f.item_id)')).toBe(0);
    expect(orphans('SELECT count(*) AS n FROM outcomes o WHERE NOT EXISTS (SELECT 1 FROM feedback f WHERE f.model_id = o.model_id AND f.event_id = o.event_id AND f.item_id = o.item_id)')).toBe(0);
    // Windows: open + closed-by-feedback = slate length, for every decision.
    expect(
      orphans(`SELECT count(*) AS n FROM decisions d WHERE d.slate_len !=
        (SELECT count(*) FROM windows w WHERE w.model_id = d.model_id AND w.event_id = d.event_id) +
        (SELECT count(DISTINCT f.item_id) FROM feedback f WHERE f.model_id = d.model_id AND f.event_id = d.event_id)`),
    ).toBe(0);
  } finally {
    raw.close();
  }
});
