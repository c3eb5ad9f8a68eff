/**
 * SQLite store benchmark (`npm run bench:store`): the store's side of a
 * rank and of a feedback event, timed for the current store and, in the same run, for a baseline
 * version of src/storage/sqlite/index.ts read from git (default: the commit before the write-path
 * work), so that both see the same machine load. The two alternate in blocks of iterations.
 *
 * Workload (as the engine writes it, see src/engine/model.ts):
 * - rank: `getUserState` (loadUser, outside the transaction), then one `transaction` with
 *   `insertDecision` (context, 50 logged candidates with fatigue extras, a slate of 5: ≈ 5 KB of
 *   JSON), `openWindows` (5), `appendLedger` (one explored slot, every 4th rank) and
 *   `putUserState` (the loaded fatigue memory passed on, a new bucket and recent groups); 1,000
 *   users, each starting with a history of `--fatigue` entries (default 40).
 * - feedback event: in a transaction, `insertFeedback`, `activeOutcome`, `isWindowOpen`,
 *   `appendOutcome`, `closeWindow`, `getUserState` + `putUserState` (fatigue folded with the
 *   engine's own `foldFatigue`); kinds 10 % click, 5 % dismiss, 85 % ignore, over the impressions
 *   of the ranks above. One event per transaction, and batches of 100 (the HTTP batch).
 * - grouped: `enableGroupCommit`, several transactions per event-loop turn, then the barrier (one
 *   COMMIT), as the server does; the time of a group divided by its transactions (or events).
 * - `getDecision`: the engine's decision lookup on a cache miss.
 *
 * Every store gets a fresh database file in a temporary directory; `synchronous` NORMAL (the
 * server's default durability) unless `--synchronous FULL`.
 *
 * Usage: npm run bench:store [-- --ranks 4000 --block 250
 *          --synchronous NORMAL|FULL --fatigue 40 --baseline <git rev>|none]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRng } from '../../src/core/rng.js';
import { fatigueConfigSchema } from '../../src/engine/config.js';
import { foldFatigue, type FatigueState } from '../../src/feedback/fatigue.js';
import * as current from '../../src/storage/sqlite/index.js';
import type { DecisionRecord, FeedbackKind, LedgerEntry, OpenImpression, OutcomeKind, Store } from '../../src/storage/types.js';
import { quantile, table, us } from './stats.js';
import { argOf, servingCatalog } from './workload.js';


/** src/storage/sqlite/index.ts before the write-path work (group commit, migration 2). */
const DEFAULT_BASELINE = '91a8b8c2412c2e02ae8b981af750e7e04abf3d07';
const BASELINE = argOf('--baseline', DEFAULT_BASELINE);
const RANKS = Number(argOf('--ranks', '4000'));
const BLOCK = Number(argOf('--block', '250'));
const SYNCHRONOUS = argOf('--synchronous', 'NORMAL') as 'NORMAL' | 'FULL';
/** Fatigue entries every user starts with (a server in steady state: users with a history). */
const FATIGUE = Number(argOf('--fatigue', '40'));
const GROUP_RANKS = 10;
const GROUP_EVENTS = 10;
const GROUP_BATCHES = 2;
const BATCH = 100;
const MODEL = 'bench';
const K = 50;
const SLOTS = 5;
const USERS = 1000;
const HALF_LIFE_MS = 7 * 86_400_000;
/** The engine's default per-user fatigue memory cap (config `fatigue.maxEntries`). */
const MAX_FATIGUE_ENTRIES = fatigueConfigSchema.parse({}).maxEntries;
const WINDOW_MS = 1_800_000;
const ROOT = new URL('../..', import.meta.url).pathname;

/** What the bench needs of a SQLite store module (the current one and the baseline). */
interface SqliteStoreLike extends Store {
  enableGroupCommit(): () => Promise<void>;
}
interface StoreModule {
  openSqliteStore(path: string, options: { synchronous?: 'FULL' | 'NORMAL' }): SqliteStoreLike;
}

/**
 * The baseline module: the file at `rev`, written to a temporary directory with its two imports
 * made absolute (better-sqlite3 from this project, the storage types of the working tree).
 */
async function loadBaseline(rev: string, dir: string): Promise<StoreModule> {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const require = createRequire(import.meta.url);
  const patch = (source: string) =>
    source
      .replace(/from 'better-sqlite3'/, `from ${JSON.stringify(pathToFileURL(require.resolve('better-sqlite3')).href)}`)
      .replace(/from '\.\.\/types\.js'/, `from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/storage/types.ts')).href)}`);
  // The store's sibling modules of that revision (frames.ts, state-json.ts, …) next to it, so its
  // './x.js' imports load them and not the working tree's.
  for (const name of git('ls-tree', '--name-only', `${rev}:src/storage/sqlite`).split('\n')) {
    if (name.endsWith('.ts') && name !== 'index.ts') writeFileSync(join(dir, name), patch(git('show', `${rev}:src/storage/sqlite/${name}`)));
  }
  const file = join(dir, 'baseline-store.mts');
  writeFileSync(file, patch(git('show', `${rev}:src/storage/sqlite/index.ts`)));
  return (await import(pathToFileURL(file).href)) as StoreModule;
}

// ───────────────────────────── workload ─────────────────────────────

const rng = createRng('store-bench');
const countries = ['fr', 'de', 'es', 'it', 'uk', 'us', 'br', 'jp', 'cn', 'in'];
const catalog = servingCatalog;

interface RankWork {
  readonly userId: string;
  readonly record: DecisionRecord;
  readonly windows: readonly OpenImpression[];
  readonly ledger: readonly LedgerEntry[];
  readonly recentGroups: readonly string[];
}

/** Rank i: a user, a situation, 50 candidates from the catalog (with fatigue extras), a slate of 5. */
function makeRank(i: number, prefix: string): RankWork {
  const userId = `user${rng.int(USERS)}`;
  const start = rng.int(catalog.length - K);
  const at = 1_700_000_000_000 + i * 10;
  const eventId = `${prefix}-${i.toString(36)}-${rng.int(1 << 30).toString(36)}`;
  const candidates = catalog.slice(start, start + K).map((c) => ({
    ...c,
    extra: { item: Math.round(rng.uniform() * 1e6) / 1e6, group: Math.round(rng.uniform() * 1e6) / 1e6 },
  }));
  const slate = Array.from({ length: SLOTS }, (_, p) => ({
    itemId: candidates[(p * 7 + i) % K]!.id,
    position: p + 1,
    propensity: rng.uniform(),
    slatePropensity: rng.uniform(),
    explored: p === 4 && i % 4 === 0,
  }));
  const record: DecisionRecord = {
    modelId: MODEL,
    eventId,
    modelVersion: 1,
    posteriorSeq: i,
    seed: rng.int(1 << 30).toString(16).padStart(16, '0'),
    at,
    userId,
    context: {
      user: { age: 18 + rng.int(60), country: countries[rng.int(10)]!, segment: `s${rng.int(5)}` },
      session: { hour: rng.int(24), device: ['ios', 'android', 'web'][i % 3]! },
    },
    candidates,
    slate,
    draws: 64,
    exposedAt: at,
  };
  const windows = slate.map((s) => ({ modelId: MODEL, eventId, itemId: s.itemId, position: s.position, deadline: at + WINDOW_MS }));
  const ledger = slate
    .filter((s) => s.explored)
    .map((s) => ({ modelId: MODEL, eventId, userId, itemId: s.itemId, position: s.position, rule: 'uncertain', cost: rng.uniform(), at }));
  const recentGroups = slate.map((s) => candidates.find((c) => c.id === s.itemId)!.group);
  return { userId, record, windows, ledger, recentGroups };
}

interface FeedbackWork {
  readonly eventId: string;
  readonly itemId: string;
  readonly position: number;
  readonly userId: string;
  readonly group: string;
  readonly kind: FeedbackKind;
  readonly at: number;
}

/** The impressions of the given ranks, each with one feedback event. */
function feedbackOf(ranks: readonly RankWork[]): FeedbackWork[] {
  const r = createRng('store-bench-feedback');
  const out: FeedbackWork[] = [];
  for (const w of ranks) {
    for (const s of w.record.slate) {
      const u = r.uniform();
      out.push({
        eventId: w.record.eventId,
        itemId: s.itemId,
        position: s.position,
        userId: w.userId,
        group: w.record.candidates.find((c) => c.id === s.itemId)!.group!,
        kind: u < 0.1 ? 'click' : u < 0.15 ? 'dismiss' : 'ignore',
        at: w.record.at + 60_000,
      });
    }
  }
  return out;
}

interface UserRecord {
  fatigue: FatigueState;
  bucket: { tokens: number; updatedAt: number } | null;
  recentGroups: readonly string[];
}
const EMPTY_USER: UserRecord = { fatigue: {}, bucket: null, recentGroups: [] };
const loadUser = (store: Store, userId: string): UserRecord => (store.getUserState(MODEL, userId) as UserRecord | undefined) ?? EMPTY_USER;

/** The store's side of one rank, as Model.rank: load the user, then one transaction. */
function rankWrite(store: Store, w: RankWork): void {
  rankTx(store, w, loadUser(store, w.userId));
}

/** Model.rank's write transaction, given the loaded user. */
function rankTx(store: Store, w: RankWork, user: UserRecord): void {
  const next: UserRecord = {
    fatigue: user.fatigue,
    bucket: { tokens: Math.max(0, (user.bucket?.tokens ?? 2) - w.ledger.length), updatedAt: w.record.at },
    recentGroups: w.recentGroups,
  };
  store.transaction(() => {
    store.insertDecision(w.record);
    store.openWindows(w.windows);
    if (w.ledger.length > 0) store.appendLedger(w.ledger);
    store.putUserState(MODEL, w.userId, next);
  });
}

const OUTCOME: Record<FeedbackKind, { kind: OutcomeKind; reward: number; weight: number }> = {
  click: { kind: 'click', reward: 1, weight: 1 },
  convert: { kind: 'convert', reward: 1, weight: 1 },
  dismiss: { kind: 'dismiss', reward: 0, weight: 3 },
  regret: { kind: 'regret', reward: 0, weight: 1 },
  ignore: { kind: 'ignored', reward: 0, weight: 1 },
};

/** The store calls of one feedback event inside Model.feedbackMany's transaction. */
function feedbackEvent(store: Store, e: FeedbackWork, ordinal: number): void {
  if (!store.insertFeedback({ modelId: MODEL, eventId: e.eventId, itemId: e.itemId, kind: e.kind, at: e.at })) return;
  const standing = store.activeOutcome(MODEL, e.eventId, e.itemId);
  const open = store.isWindowOpen(MODEL, e.eventId, e.itemId);
  if (standing === undefined && (open || e.kind !== 'ignore')) {
    const o = OUTCOME[e.kind];
    store.appendOutcome({
      modelId: MODEL,
      eventId: e.eventId,
      itemId: e.itemId,
      position: e.position,
      userId: e.userId,
      group: e.group,
      kind: o.kind,
      reward: o.reward,
      weight: o.weight,
      ordinal,
      at: e.at,
    });
  }
  store.closeWindow(MODEL, e.eventId, e.itemId);
  const user = loadUser(store, e.userId);
  const fatigue = foldFatigue(user.fatigue, { itemId: e.itemId, group: e.group, rejection: e.kind !== 'click', amount: 1, at: e.at }, HALF_LIFE_MS, MAX_FATIGUE_ENTRIES);
  store.putUserState(MODEL, e.userId, { ...user, fatigue });
}

// ───────────────────────────── timing ─────────────────────────────

interface Subject {
  readonly name: string;
  readonly plain: SqliteStoreLike;
  readonly grouped: SqliteStoreLike;
  readonly barrier: () => Promise<void>;
  ordinal: number;
}

const samples = new Map<string, number[]>();
const record = (row: string, subject: string, us: number): void => {
  const key = `${row}\u0000${subject}`;
  let xs = samples.get(key);
  if (!xs) samples.set(key, (xs = []));
  xs.push(us);
};

/**
 * Run `n` iterations of `step` for every subject, in blocks of `block` iterations that alternate
 * between the subjects (and which one goes first), so slow phases of a shared machine hit both.
 */
async function alternate(subjects: readonly Subject[], n: number, block: number, step: (s: Subject, i: number) => Promise<void> | void): Promise<void> {
  for (let b = 0; b * block < n; b++) {
    const order = b % 2 === 0 ? subjects : [...subjects].reverse();
    for (const s of order) {
      for (let i = b * block; i < Math.min(n, (b + 1) * block); i++) await step(s, i);
    }
  }
}

function now(): number {
  return performance.now();
}

// ───────────────────────────── main ─────────────────────────────

const dir = mkdtempSync(join(tmpdir(), 'liubai-store-bench-'));
try {
  const modules: Array<{ name: string; module: StoreModule }> = [];
  if (BASELINE !== 'none') {
    try {
      modules.push({ name: `before (${BASELINE.slice(0, 8)})`, module: await loadBaseline(BASELINE, dir) });
    } catch (error) {
      console.warn(`baseline ${BASELINE} not loaded (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): timing the current store only`);
    }
  }
  modules.push({ name: 'after (working tree)', module: current });

  const subjects: Subject[] = modules.map(({ name, module }, k) => {
    mkdirSync(join(dir, String(k)));
    const plain = module.openSqliteStore(join(dir, String(k), 'plain.db'), { synchronous: SYNCHRONOUS });
    const grouped = module.openSqliteStore(join(dir, String(k), 'grouped.db'), { synchronous: SYNCHRONOUS });
    return { name, plain, grouped, barrier: grouped.enableGroupCommit(), ordinal: 0 };
  });

  const warm = Math.min(500, RANKS);
  const ranks = Array.from({ length: RANKS + warm }, (_, i) => makeRank(i, 'r'));
  const groupedRanks = Array.from({ length: RANKS + warm }, (_, i) => makeRank(i, 'g'));

  // Warm-up (JIT, page cache): every user's history, then untimed ranks and feedback on each store.
  const warmFeedback = feedbackOf(ranks.slice(0, warm));
  const warmGroupedFeedback = feedbackOf(groupedRanks.slice(0, warm));
  const history = (u: number): UserRecord => {
    let fatigue: FatigueState = {};
    for (let j = 0; j < FATIGUE; j++) {
      const item = catalog[(u * 31 + j * 17) % catalog.length]!;
      fatigue = { ...fatigue, [`${j % 4 === 0 ? 'g' : 'i'}:${j % 4 === 0 ? item.group : item.id}`]: [1 + (j % 3) / 4, 1_699_999_000_000 + j * 1000] };
    }
    return { fatigue, bucket: { tokens: 2, updatedAt: 1_699_999_000_000 }, recentGroups: [`topic${u % 20}`] };
  };
  for (const s of subjects) {
    for (const store of [s.plain, s.grouped]) {
      store.transaction(() => {
        for (let u = 0; u < USERS; u++) store.putUserState(MODEL, `user${u}`, history(u));
      });
    }
    await s.barrier();
    for (let i = 0; i < warm; i++) rankWrite(s.plain, ranks[i]!);
    for (let i = 0; i < warm; i++) s.grouped.transaction(() => rankWrite(s.grouped, groupedRanks[i]!));
    await s.barrier();
    for (const e of warmFeedback) s.plain.transaction(() => feedbackEvent(s.plain, e, s.ordinal++));
    for (const e of warmGroupedFeedback) s.grouped.transaction(() => feedbackEvent(s.grouped, e, s.ordinal++));
    await s.barrier();
  }

  const timedRanks = ranks.slice(warm);
  const timedGroupedRanks = groupedRanks.slice(warm);

  // Ungrouped: load user + one transaction per rank (the read timed apart).
  await alternate(subjects, RANKS, BLOCK, (s, i) => {
    const w = timedRanks[i]!;
    const t0 = now();
    const user = loadUser(s.plain, w.userId);
    const t1 = now();
    rankTx(s.plain, w, user);
    const t2 = now();
    record('rank: getUserState (loadUser)', s.name, (t1 - t0) * 1000);
    record('rank: write tx', s.name, (t2 - t1) * 1000);
    record('rank: load user + write tx', s.name, (t2 - t0) * 1000);
  });

  // Grouped: GROUP_RANKS rank transactions per turn, then the barrier (one COMMIT).
  await alternate(subjects, RANKS / GROUP_RANKS, Math.max(1, BLOCK / GROUP_RANKS), async (s, g) => {
    const t0 = now();
    for (let j = 0; j < GROUP_RANKS; j++) rankWrite(s.grouped, timedGroupedRanks[g * GROUP_RANKS + j]!);
    await s.barrier();
    record(`grouped ×${GROUP_RANKS}: rank (load user + tx), per rank`, s.name, ((now() - t0) * 1000) / GROUP_RANKS);
  });

  // Feedback on the impressions of the timed ranks: first one event per transaction, then batches.
  const events = feedbackOf(timedRanks);
  const groupedEvents = feedbackOf(timedGroupedRanks);
  const singles = Math.min(5000, Math.floor(events.length / 3));
  await alternate(subjects, singles, BLOCK, (s, i) => {
    const t0 = now();
    s.plain.transaction(() => feedbackEvent(s.plain, events[i]!, s.ordinal++));
    record('feedback: 1 event per tx', s.name, (now() - t0) * 1000);
  });
  const batches = Math.floor((events.length - singles) / BATCH);
  await alternate(subjects, batches, Math.max(1, Math.floor(BLOCK / 25)), (s, b) => {
    const from = singles + b * BATCH;
    const t0 = now();
    s.plain.transaction(() => {
      for (let i = from; i < from + BATCH; i++) feedbackEvent(s.plain, events[i]!, s.ordinal++);
    });
    record(`feedback: batch of ${BATCH} in 1 tx, per event`, s.name, ((now() - t0) * 1000) / BATCH);
  });

  const groupedSingles = Math.floor(singles / GROUP_EVENTS);
  await alternate(subjects, groupedSingles, Math.max(1, BLOCK / GROUP_EVENTS), async (s, g) => {
    const t0 = now();
    for (let i = g * GROUP_EVENTS; i < (g + 1) * GROUP_EVENTS; i++) {
      s.grouped.transaction(() => feedbackEvent(s.grouped, groupedEvents[i]!, s.ordinal++));
    }
    await s.barrier();
    record(`grouped ×${GROUP_EVENTS}: feedback 1 event per tx, per event`, s.name, ((now() - t0) * 1000) / GROUP_EVENTS);
  });
  const groupedBatches = Math.floor((groupedEvents.length - singles) / (BATCH * GROUP_BATCHES));
  await alternate(subjects, groupedBatches, Math.max(1, Math.floor(BLOCK / 50)), async (s, g) => {
    const t0 = now();
    for (let b = 0; b < GROUP_BATCHES; b++) {
      const from = singles + (g * GROUP_BATCHES + b) * BATCH;
      s.grouped.transaction(() => {
        for (let i = from; i < from + BATCH; i++) feedbackEvent(s.grouped, groupedEvents[i]!, s.ordinal++);
      });
    }
    await s.barrier();
    record(`grouped ×${GROUP_BATCHES}: feedback batches of ${BATCH}, per event`, s.name, ((now() - t0) * 1000) / (BATCH * GROUP_BATCHES));
  });

  // The engine's decision lookup on a cache miss.
  await alternate(subjects, RANKS, BLOCK, (s, i) => {
    const w = timedRanks[(i * 7919) % RANKS]!;
    const t0 = now();
    s.plain.getDecision(MODEL, w.record.eventId);
    record('getDecision (cache miss)', s.name, (now() - t0) * 1000);
  });

  for (const s of subjects) {
    s.plain.close();
    s.grouped.close();
  }

  // ─────────────── report ───────────────
  const rowNames = [...new Set([...samples.keys()].map((k) => k.split('\u0000')[0]!))];
  const median = (row: string, subject: string): { median: number; p99: number; n: number } => {
    const xs = Float64Array.from(samples.get(`${row}\u0000${subject}`) ?? []).sort();
    return { median: quantile(xs, 0.5), p99: quantile(xs, 0.99), n: xs.length };
  };
  const names = subjects.map((s) => s.name);
  const header = ['operation', 'n', ...names.flatMap((n) => [`${n} p50`, 'p99'])];
  if (names.length === 2) header.push('p50 after/before');
  const rows = rowNames.map((row) => {
    const ms = names.map((n) => median(row, n));
    const out = [row, String(ms[0]!.n), ...ms.flatMap((m) => [us(m.median), us(m.p99)])];
    if (ms.length === 2) out.push((ms[1]!.median / ms[0]!.median).toFixed(2));
    return out;
  });
  console.log(
    `\nSQLite store write path (synchronous ${SYNCHRONOUS}, ${RANKS} ranks of k=${K}, slots=${SLOTS}, ${USERS} users ` +
      `starting with ${FATIGUE} fatigue entries each; ` +
      `blocks of ${BLOCK} alternate between stores). Times per operation:`,
  );
  table(header, rows);
  const fb = names.map((n) => median(`grouped ×${GROUP_BATCHES}: feedback batches of ${BATCH}, per event`, n).median);
  console.log(`\nStore-side ceiling of grouped batched feedback: ${names.map((n, i) => `${n}: ${Math.round(1e6 / fb[i]!)} events/s`).join(', ')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
