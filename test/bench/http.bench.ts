/**
 * HTTP benchmark (`npm run bench:http`). Not a timed test: it prints figures.
 *
 * Setup: the server runs in a CHILD PROCESS (`node bin/liubai.mjs serve`, SQLite in a temporary
 * directory) and autocannon drives it from this process over loopback, so load generation and
 * serving each have a core of this 2-core machine. Model: linear-gaussian (shared, full
 * covariance over up to 256 seen dimensions), k = 50 candidates, slots = 5, features.bits = 12
 * with the interactions user×item and session×item, propensity.draws = 64, budget share 0.05
 * (rule `uncertain`), per-user token buckets (1,000 users).
 *
 * Phases, per durability mode (`process` = SQLite NORMAL, the default; `power` = plus the
 * shared asynchronous WAL fsync before every 2xx):
 *   1. 4,000 warm-up ranks (collect decisions), 2. batched feedback ingestion (batches of 100 events:
 *   the posterior learns), 3. maximum rank throughput (10 connections, --duration s),
 *   4. p50/p99 latency at fixed rates 100, 300 and 1,000 rank/s: with autocannon `overallRate`
 *   (latencies corrected for coordinated omission, but sent in per-second bursts, see `paced`),
 *   and with an evenly paced open-loop client.
 * Then the same-run baselines (phase `baselines`, test/bench/baseline-server.mjs): the HTTP floor
 * (node:http + JSON.parse) and the framework floor (express 5 + express.json) at saturation, and
 * an ideal server (node:http, a fixed amount of arithmetic per request, nothing else) at the paced
 * rates 100 and 300/s, so liubai's p99 can be read against what this host's scheduling alone does
 * to requests of a similar CPU cost; a summary compares the 300/s rows.
 * Then an in-process breakdown of one rank (medians over 2,000 ranks): JSON parse, validation,
 * featurize, posterior sd, sample, select, propensities, SQLite write, response JSON.
 *
 * Each combination of durability mode and `--decision-threads` value is its own server run
 * (rows `process-t1`, `process-t0`, …): t1 is what `liubai serve` runs (the policy half of each
 * rank on a replica thread), t0 decides in the main thread — the same-run baseline.
 *
 * Usage: npm run bench:http [-- --duration 10 --modes process,power --decision-threads 1,0 --phases feedback,max,rates,paced,baselines
 *                                --profile dir --covariance full|diagonal --dense 256
 *                                --policy linear-gaussian|uniform --reward-window s --server-node-args "flags"
 *                                --max-pending-ranks n --paced-client raw|node|raw,node
 *                                --baseline-work-ms 0,1 --baseline-paced-kinds http,express]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRng, decisionSeed } from '../../src/core/rng.js';
import { parseModelConfig } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createFeaturizer } from '../../src/features/index.js';
import { estimatePropensities } from '../../src/policies/explore/propensity.js';
import { selectSlate, type SelectionInput, type SelectionParams } from '../../src/policies/explore/select.js';
import { createPolicy } from '../../src/policies/registry.js';
import { rankRequestSchema } from '../../src/server/schemas.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';
import type { DecisionRecord, OpenImpression } from '../../src/storage/types.js';
import { argOf, SERVING_K, servingRankBodies } from './workload.js';

// ───────────────────────────── autocannon (untyped) ─────────────────────────────

interface Histogram {
  average: number;
  p50: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  ['2xx']: number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  requests: AutocannonRequest[];
}
const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: AutocannonOptions) => Promise<AutocannonResult>;

// ───────────────────────────── settings ─────────────────────────────

const DURATION = Number(argOf('--duration', '10'));
const MODES = argOf('--modes', 'process,power').split(',') as Array<'process' | 'power'>;
/**
 * `--decision-threads 1,0`: the server's policy-replica threads, one server run per value (the
 * default 1 is what `liubai serve` runs; 0 decides in the main thread: the same-run baseline).
 */
const THREADS = argOf('--decision-threads', '1,0').split(',').map(Number);
const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/liubai.mjs');
const MODEL = 'bench';
const K = SERVING_K;

/**
 * `--profile <dir>`: run the server under the V8 sampling profiler (`--cpu-prof`), one
 * .cpuprofile per server process in <dir> (open in Chrome DevTools, or summarize with
 * `node scripts/profile-summary.mjs <dir>`).
 */
const PROFILE_DIR = argOf('--profile', '');
/**
 * `--phases feedback,max,rates,paced,baselines` (default all; the warm-up always runs): e.g. to
 * profile one. `baselines` runs once, after the servers: see {@link benchBaselines}.
 */
const PHASES = new Set(argOf('--phases', 'feedback,max,rates,paced,baselines').split(','));
/** `--server-node-args "--flag --flag"`: extra node/V8 flags for the server process (e.g. GC settings). */
const SERVER_NODE_ARGS = argOf('--server-node-args', '').split(' ').filter((a) => a !== '');
/**
 * `--max-pending-ranks n`: the server's admission limit (default: the server's, 256). With a
 * small one the overloaded phases (paced 1,000/s) shed ranks as 503 OVERLOADED and the answered
 * ones keep a bounded latency; the paced rows count the shed ones apart.
 */
const MAX_PENDING_RANKS = argOf('--max-pending-ranks', '');
const PROFILE_ARGS = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
/** `--covariance full|diagonal`: the linear-gaussian posterior's covariance (default full). */
const COVARIANCE = argOf('--covariance', 'full');
/**
 * `--policy uniform` isolates the serving path (HTTP, validation, featurize, selection, SQLite):
 * its propensities have a closed form, so no Monte-Carlo draws.
 */
const POLICY = argOf('--policy', 'linear-gaussian');
/** `--dense N`: linear-gaussian maxDenseDims (default 256: the dense Cholesky block; later dimensions are a diagonal tail). */
const DENSE = Number(argOf('--dense', '256'));
/**
 * `--reward-window s`: the model's reward window (default: the config default, 1,800 s, so no
 * window comes due during a run). A short one (e.g. 2) measures the steady state of serving with
 * silence learned: every shown item's window closes as an ignored outcome that the server folds.
 */
const REWARD_WINDOW = argOf('--reward-window', '');
const modelConfig = {
  ...(REWARD_WINDOW !== '' ? { feedback: { rewardWindowSeconds: Number(REWARD_WINDOW) } } : {}),
  policy: POLICY === 'linear-gaussian' ? { kind: 'linear-gaussian', covariance: COVARIANCE, maxDenseDims: DENSE } : { kind: POLICY },
  features: { bits: 12, interactions: [['user', 'item'], ['session', 'item']] },
  propensity: { draws: 64 },
  budget: { share: 0.05, rule: 'uncertain', perUser: { ratePerHour: 2, burst: 2 } },
  slots: 5,
  seed: 1,
};

// ───────────────────────────── workload ─────────────────────────────

const rng = createRng('http-bench');
/** 256 distinct rank bodies (without eventId): a user, a situation, 50 candidates from the catalog. */
const bodies = servingRankBodies(rng);

/** Decisions answered by the server, for feedback. */
const decisions: Array<{ eventId: string; items: string[] }> = [];
let eventCounter = 0;

function rankRequest(prefix: string, record: boolean): AutocannonRequest {
  let i = 0;
  return {
    method: 'POST',
    path: `/v1/models/${MODEL}/rank`,
    headers: { 'content-type': 'application/json' },
    setupRequest(req) {
      const body = bodies[i++ % bodies.length]!;
      req.body = `{"eventId":"${prefix}${eventCounter++}",${body.slice(1)}`;
      return req;
    },
    onResponse(status, body) {
      if (!record || status !== 200) return;
      const r = JSON.parse(body) as { eventId: string; slate: Array<{ id: string }> };
      decisions.push({ eventId: r.eventId, items: r.slate.map((s) => s.id) });
    },
  };
}

/** Feedback batches of 100 events over the collected decisions: mostly silence, some clicks. */
function feedbackBatches(maxEvents: number): string[] {
  const events: string[] = [];
  const r = createRng('feedback-mix');
  for (const d of decisions) {
    for (const itemId of d.items) {
      const u = r.uniform();
      const kind = u < 0.1 ? 'click' : u < 0.15 ? 'dismiss' : 'ignore';
      events.push(`{"eventId":"${d.eventId}","itemId":"${itemId}","kind":"${kind}"}`);
    }
    if (events.length >= maxEvents) break;
  }
  const batches: string[] = [];
  for (let i = 0; i + 100 <= events.length; i += 100) batches.push(`{"events":[${events.slice(i, i + 100).join(',')}]}`);
  decisions.length = 0;
  return batches;
}

// ───────────────────────────── the server ─────────────────────────────

async function startServer(dir: string, durability: string, threads: number): Promise<{ child: ChildProcess; url: string }> {
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ models: { [MODEL]: modelConfig } }));
  const child = spawn(process.execPath, [...PROFILE_ARGS, ...SERVER_NODE_ARGS, BIN, 'serve', '--db', join(dir, 'bench.db'), '--port', '0', '--config', config, '--no-demo', '--durability', durability, '--decision-threads', String(threads), ...(MAX_PENDING_RANKS !== '' ? ['--max-pending-ranks', MAX_PENDING_RANKS] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^liubai listening on (http:\/\/\S+)$/.exec(l);
      if (m) resolve(m[1]!);
    });
  });
  return { child, url };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Requests the paced client lets be outstanding before it counts a send as dropped (overload). */
const MAX_IN_FLIGHT = 200;

/**
 * `--paced-client raw|node` (or `raw,node`: both, one after the other at each rate): how the
 * paced client sends. `raw` (default) writes each request's bytes on a pool of keep-alive TCP
 * connections and reads only the status line, Content-Length and body of the answer; `node` uses
 * node:http's client, which costs the shared cores more CPU per request (bench:http prints the
 * client's CPU per request).
 */
const PACED_CLIENTS = argOf('--paced-client', 'raw').split(',') as Array<'raw' | 'node'>;

/** One keep-alive connection of the raw paced client, with the answer it is reading. */
interface RawConnection {
  readonly socket: Socket;
  /** Bytes of the current answer so far. */
  received: Buffer;
  /** Called once with the answer's status (0 on a connection error). */
  done: ((status: number) => void) | null;
}

/** The status of the HTTP/1.1 answer in `buf` once all of it (headers and Content-Length bytes) is there, else null. */
function completeAnswer(buf: Buffer): number | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.toString('latin1', 0, end);
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return buf.length >= end + 4 + (m ? Number(m[1]) : 0) ? Number(head.slice(9, 12)) : null;
}

const EMPTY = Buffer.alloc(0);

/**
 * The raw paced client: `send` writes a rank request on an idle keep-alive connection (or a new
 * one, up to MAX_IN_FLIGHT; false when none is left) and calls `done` with the answer's status.
 */
function rawSender(url: string): { send: (body: string, done: (status: number) => void) => boolean; close: () => void } {
  const target = new URL(url);
  const port = Number(target.port);
  const idle: RawConnection[] = [];
  const all = new Set<RawConnection>();
  const head = `POST /v1/models/${MODEL}/rank HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: `;
  const finish = (c: RawConnection, status: number) => {
    const done = c.done;
    c.done = null;
    c.received = EMPTY;
    if (status > 0) idle.push(c);
    else {
      all.delete(c);
      c.socket.destroy();
    }
    done?.(status);
  };
  const connection = (): RawConnection => {
    const socket = connect(port, target.hostname);
    socket.setNoDelay(true);
    const c: RawConnection = { socket, received: EMPTY, done: null };
    socket.on('data', (chunk: Buffer) => {
      c.received = c.received.length === 0 ? chunk : Buffer.concat([c.received, chunk]);
      const status = completeAnswer(c.received);
      if (status !== null) finish(c, status);
    });
    socket.on('error', () => finish(c, 0));
    socket.on('close', () => {
      all.delete(c);
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      if (c.done) finish(c, 0);
    });
    all.add(c);
    return c;
  };
  return {
    send(body, done) {
      const c = idle.pop() ?? (all.size < MAX_IN_FLIGHT ? connection() : null);
      if (!c) return false;
      c.done = done;
      c.socket.write(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return true;
    },
    close() {
      for (const c of all) c.socket.destroy();
    },
  };
}

/**
 * An open-loop client at a fixed rate: request i is due at start + i/rate and sent then (a 1 ms
 * ticker), whatever the server is doing; its latency runs from the due time to the last byte of
 * the answer, so queueing at the client or server counts (no coordinated omission). autocannon's
 * `overallRate` instead gives each connection a per-second quota that it sends back to back at
 * the start of every second, so its latencies measure bursts, not a steady rate.
 */
async function paced(url: string, rate: number, seconds: number, prefix: string, client: 'raw' | 'node'): Promise<{ achieved: number; answered: number; p50: number; p99: number; errors: number; shed: number; dropped: number }> {
  const raw = client === 'raw' ? rawSender(url) : null;
  const agent = raw ? null : new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const target = new URL(`${url}/v1/models/${MODEL}/rank`);
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let shed = 0;
  let dropped = 0;
  let inFlight = 0;
  let sent = 0;
  const start = performance.now();
  let lastDone = start;
  await new Promise<void>((resolveAll) => {
    const finishIfDone = () => {
      if (sent === total && inFlight === 0) resolveAll();
    };
    const fire = (due: number) => {
      if (inFlight >= MAX_IN_FLIGHT) {
        dropped++;
        return;
      }
      const body = `{"eventId":"${prefix}${eventCounter++}",${bodies[sent % bodies.length]!.slice(1)}`;
      const answered = (status: number) => {
        const now = performance.now();
        lastDone = now;
        if (status === 200) latencies.push(now - due);
        else if (status === 503) shed++;
        else errors++;
        inFlight--;
        finishIfDone();
      };
      if (raw) {
        if (raw.send(body, answered)) inFlight++;
        else dropped++;
        return;
      }
      inFlight++;
      const req = httpRequest(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: agent ?? undefined, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => answered(res.statusCode ?? 0));
        },
      );
      req.on('error', () => answered(0));
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const due = start + (sent * 1000) / rate;
        sent++;
        fire(due);
      }
      if (sent < total) setTimeout(tick, 1);
      else finishIfDone();
    };
    tick();
  });
  agent?.destroy();
  raw?.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies.length > 0 ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! : NaN);
  return { achieved: latencies.length / ((lastDone - start) / 1000), answered: latencies.length, p50: q(0.5), p99: q(0.99), errors, shed, dropped };
}

/**
 * The server's own latency histogram of answered ranks (`liubai_http_request_duration_seconds`,
 * route rank, status 200): cumulative count per bucket bound `le` (seconds), read from /metrics.
 * It times a request from its first byte read to its last byte written, so the difference from
 * the client's figure is what happens outside the server's event loop: the client's own delays,
 * the kernel and loopback, and waiting to be read.
 */
async function rankLatencyBuckets(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('liubai_http_request_duration_seconds_bucket{') || !line.includes('/rank"') || !line.includes('status="200"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le !== undefined) buckets.set(le === '+Inf' ? Infinity : Number(le), count);
  }
  return buckets;
}

/**
 * p50 and p99 of the ranks answered between two histogram readings, as the bucket holding them
 * (e.g. "5–10": the histogram cannot say more), and the share answered within 10 ms.
 */
function bucketQuantiles(before: Map<number, number>, after: Map<number, number>): { p50: string; p99: string; within10: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => after.get(le)! - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const at = (q: number) => {
    const i = counts.findIndex((c) => c >= q * total);
    if (i < 0 || total === 0) return 'n/a';
    const ms = (x: number) => (Number.isFinite(x) ? String(x * 1000) : '∞');
    return `${i === 0 ? '0' : ms(bounds[i - 1]!)}–${ms(bounds[i]!)}`;
  };
  const i10 = bounds.indexOf(0.01);
  return { p50: at(0.5), p99: at(0.99), within10: total > 0 && i10 >= 0 ? counts[i10]! / total : NaN };
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

interface Row {
  mode: string;
  phase: string;
  rate: string;
  p50: string;
  p99: string;
  errors: string;
  cpu: string;
  /** Server + client CPU per answered request, ms (NaN when not measured). */
  cpuTotal?: number;
}

/** CPU time so far (ms) per thread of process `pid`, from /proc/<pid>/task/<tid>/schedstat; null off Linux. */
function threadCpu(pid: number | undefined): Map<number, number> | null {
  if (pid === undefined) return null;
  try {
    const out = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        out.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return out;
  } catch {
    return null;
  }
}

/** A CPU reading of the server's threads and of this process (the load generator), at one moment. */
interface CpuMark {
  readonly threads: Map<number, number> | null;
  readonly client: NodeJS.CpuUsage;
}

const cpuMark = (pid: number | undefined): CpuMark => ({ threads: threadCpu(pid), client: process.cpuUsage() });

/**
 * CPU per answered request between two marks, in ms: the server's main thread, its `replicas`
 * busiest other threads (the policy replicas when there are any), its remaining threads (V8's GC
 * and compiler helpers, the checkpointer, libuv), and this process, whose CPU is the load
 * generator's. Threads that ended meanwhile are not counted.
 */
function cpuPerRequest(pid: number | undefined, replicas: number, from: CpuMark, to: CpuMark, answered: number): { text: string; total: number } {
  if (answered === 0) return { text: '', total: NaN };
  const client = (to.client.user + to.client.system - from.client.user - from.client.system) / 1000 / answered;
  if (from.threads === null || to.threads === null || pid === undefined) return { text: `client ${fmt(client, 2)}`, total: NaN };
  const deltas: number[] = [];
  let main = 0;
  for (const [tid, ms] of to.threads) {
    const d = ms - (from.threads.get(tid) ?? 0);
    if (tid === pid) main = d;
    else deltas.push(d);
  }
  deltas.sort((a, b) => b - a);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const rep = sum(deltas.slice(0, replicas));
  const other = sum(deltas.slice(replicas));
  const per = (x: number) => fmt(x / answered, 2);
  return { text: `${per(main)} / ${per(rep)} / ${per(other)} = ${per(main + rep + other)}; client ${fmt(client, 2)}`, total: (main + rep + other) / answered + client };
}

/** The table row of a paced run (see {@link paced}) and its CPU per request. */
function pacedRow(mode: string, phase: string, unit: string, p: Awaited<ReturnType<typeof paced>>, cpu: { text: string; total: number }): Row {
  return {
    mode,
    phase,
    rate: `${fmt(p.achieved, 0)} ${unit}`,
    p50: fmt(p.p50, 2),
    p99: fmt(p.p99, 2),
    errors: `${p.errors}${p.shed > 0 ? ` (+${p.shed} shed: 503)` : ''}${p.dropped > 0 ? ` (+${p.dropped} not sent: >${MAX_IN_FLIGHT} in flight)` : ''}`,
    cpu: cpu.text,
    cpuTotal: cpu.total,
  };
}

async function benchMode(durability: 'process' | 'power', threads: number): Promise<Row[]> {
  const mode = `${durability}-t${threads}`;
  const dir = mkdtempSync(join(tmpdir(), 'liubai-http-bench-'));
  const rows: Row[] = [];
  const { child, url } = await startServer(dir, durability, threads);
  try {
    const run = async (phase: string, opts: Omit<AutocannonOptions, 'url'>, unit = 'rank/s', perRequest = 1) => {
      // With `amount`, autocannon ends a run at its next one-second tick, so its `duration` is
      // whole seconds (a 2.4 s phase reads 3 s): time those runs to their last answer instead.
      // Only those runs get the extra callback (it costs the client, which shares the cores).
      const start = performance.now();
      const mark = cpuMark(child.pid);
      let last = start;
      const timed = opts.amount !== undefined;
      const requests = timed
        ? opts.requests.map((q) => ({
            ...q,
            onResponse(status: number, body: string) {
              last = performance.now();
              q.onResponse?.(status, body);
            },
          }))
        : opts.requests;
      const r = await autocannon({ url, ...opts, requests });
      const seconds = timed && last > start ? (last - start) / 1000 : r.duration;
      const total = r['2xx'];
      rows.push({
        mode,
        phase,
        rate: `${fmt((total * perRequest) / seconds, 0)} ${unit}`,
        p50: fmt(r.latency.p50, 2),
        p99: fmt(r.latency.p99, 2),
        errors: `${r.non2xx + r.errors + r.timeouts}`,
        ...(({ text, total: cpuTotal }) => ({ cpu: text, cpuTotal }))(cpuPerRequest(child.pid, threads, mark, cpuMark(child.pid), total)),
      });
      process.stderr.write(`${mode} ${phase}: ${rows[rows.length - 1]!.rate} p50 ${rows[rows.length - 1]!.p50} ms p99 ${rows[rows.length - 1]!.p99} ms\n`);
      return r;
    };
    // 1. warm-up: JIT, SQLite pages, and decisions to give feedback on: 4,000 ranks of 5 slots,
    // enough for the 20,000 events of the feedback phase (several seconds of ingestion, not one).
    await run('warm-up (10 conn, 4,000 ranks)', { connections: 10, amount: 4000, requests: [rankRequest(`${mode}-w`, true)] });
    // 2. batched feedback ingestion: the posterior learns from up to 20k outcomes.
    const batches = feedbackBatches(20_000);
    let b = 0;
    if (PHASES.has('feedback')) await run(
      `feedback batches of 100 (${batches.length} batches, 4 conn)`,
      {
        connections: 4,
        amount: batches.length,
        requests: [
          {
            method: 'POST',
            path: `/v1/models/${MODEL}/feedback`,
            headers: { 'content-type': 'application/json' },
            setupRequest(req) {
              req.body = batches[b++ % batches.length]!;
              return req;
            },
          },
        ],
      },
      'events/s',
      100,
    );
    // 3. saturation, on the learned posterior.
    if (PHASES.has('max')) await run('max throughput (10 conn)', { connections: 10, duration: DURATION, requests: [rankRequest(`${mode}-s`, false)] });
    // 4. fixed rates: autocannon overallRate (as asked), then an evenly paced open-loop client.
    for (const rate of PHASES.has('rates') ? [100, 300, 1000] : []) {
      await run(`autocannon overallRate ${rate}/s (10 conn)`, { connections: 10, duration: DURATION, overallRate: rate, requests: [rankRequest(`${mode}-r${rate}-`, false)] });
    }
    for (const [rate, client] of (PHASES.has('paced') ? [100, 300, 1000] : []).flatMap((r) => PACED_CLIENTS.map((c) => [r, c] as const))) {
      const before = await rankLatencyBuckets(url);
      const mark = cpuMark(child.pid);
      const p = await paced(url, rate, DURATION, `${mode}-p${rate}${client}-`, client);
      const cpu = cpuPerRequest(child.pid, threads, mark, cpuMark(child.pid), p.answered);
      const server = bucketQuantiles(before, await rankLatencyBuckets(url));
      rows.push(pacedRow(mode, `paced open loop ${rate}/s${PACED_CLIENTS.length > 1 || client !== 'raw' ? ` (${client} client)` : ''}`, 'rank/s', p, cpu));
      rows.push({ mode, phase: `  same, server-side (its histogram)`, rate: `${fmt(server.within10 * 100, 1)}% ≤ 10 ms`, p50: server.p50, p99: server.p99, errors: '', cpu: '' });
      process.stderr.write(`${mode} paced ${rate}/s (${client}): ${fmt(p.achieved, 0)} rank/s p50 ${fmt(p.p50, 2)} ms p99 ${fmt(p.p99, 2)} ms dropped ${p.dropped}; server-side p50 ${server.p50} p99 ${server.p99} ms\n`);
    }
  } finally {
    await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// ───────────────────────────── in-process breakdown ─────────────────────────────

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Where the time of one rank goes, stage by stage, with the same functions the engine calls
 * (policy trained on 10,000 outcomes first, like the server after the feedback phase).
 */
function breakdown(): Array<{ stage: string; median: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'liubai-breakdown-'));
  const store = openSqliteStore(join(dir, 'b.db'), { synchronous: 'NORMAL' });
  try {
    const config = parseModelConfig(modelConfig);
    const featurizer = createFeaturizer(config.features);
    const policy = createPolicy(config.policy);
    const train = createRng('train');
    for (let i = 0; i < 2000; i++) {
      const body = JSON.parse(bodies[i % bodies.length]!) as { context: never; candidates: never[] };
      const df = featurizer.featurize(body.context, body.candidates);
      for (let j = 0; j < 5; j++) policy.update(featurizer.outcomeFeatures(df, train.int(K)), train.uniform() < 0.1 ? 1 : 0, 1);
    }
    const stages = ['JSON parse', 'validation (zod)', 'featurize', 'posterior sd (uncertain rule)', 'sample (1 TS draw)', 'select slate', 'propensities (64 draws)', 'SQLite write (1 tx)', 'response JSON', 'sum of stages', 'engine.rank total (in-process)'];
    const times = new Map<string, number[]>(stages.map((s) => [s, []]));
    const add = (stage: string, ms: number) => times.get(stage)!.push(ms);
    const mean = new Float64Array(K);
    const sd = new Float64Array(K);
    const scores = new Float64Array(K);
    const N = 2000;
    for (let i = 0; i < N; i++) {
      const text = `{"eventId":"bd-${i}",${bodies[i % bodies.length]!.slice(1)}`;
      let t = performance.now();
      const t0 = t;
      const raw: unknown = JSON.parse(text);
      add('JSON parse', -t + (t = performance.now()));
      const req = rankRequestSchema.parse(raw);
      add('validation (zod)', -t + (t = performance.now()));
      const features = featurizer.featurize(req.context, req.candidates);
      add('featurize', -t + (t = performance.now()));
      policy.summarize(features, mean, sd);
      add('posterior sd (uncertain rule)', -t + (t = performance.now()));
      const seed = decisionSeed(config.seed, 1, req.eventId!);
      const r = createRng(seed);
      // The engine's path: a prepared sampler (per-decision work resolved once) when the policy has one.
      const draw = policy.prepare ? policy.prepare(features, 1, 65) : (rr: typeof r, out: Float64Array) => policy.sample(features, rr, out, 1);
      draw(r, scores);
      add('sample (1 TS draw)', -t + (t = performance.now()));
      const input: SelectionInput = { groups: req.candidates.map((c) => c.group), cooledDown: new Uint8Array(K), recentGroups: new Set(), sd };
      const params: SelectionParams = { slots: 5, share: 0.05, exploreTokens: 2, floor: config.budget.floor, maxGroupShare: 1, rule: 'uncertain' };
      const choice = selectSlate(scores, input, params, r);
      add('select slate', -t + (t = performance.now()));
      const props = estimatePropensities(draw, input, params, choice, K, 64, r.fork('propensity'), {
        exchangeable: policy.exchangeable === true,
      });
      add('propensities (64 draws)', -t + (t = performance.now()));
      const slate = Array.from({ length: choice.length }, (_, p) => ({
        itemId: req.candidates[choice.items[p]!]!.id,
        position: p + 1,
        propensity: props.position[p]!,
        slatePropensity: props.slate[p]!,
        explored: choice.explored[p] === 1,
      }));
      const record: DecisionRecord = {
        modelId: MODEL,
        eventId: req.eventId!,
        modelVersion: 1,
        posteriorSeq: 0,
        seed,
        at: 1,
        userId: req.userId!,
        context: req.context,
        candidates: req.candidates,
        slate,
        draws: 64,
        exposedAt: 1,
      };
      const windows: OpenImpression[] = slate.map((s) => ({ modelId: MODEL, eventId: record.eventId, itemId: s.itemId, position: s.position, deadline: 2 }));
      store.transaction(() => {
        store.insertDecision(record);
        store.openWindows(windows);
        store.putUserState(MODEL, req.userId!, { fatigue: {}, bucket: null, recentGroups: [] });
      });
      add('SQLite write (1 tx)', -t + (t = performance.now()));
      JSON.stringify({ eventId: record.eventId, modelVersion: 1, posteriorSeq: 0, slate });
      add('response JSON', -t + (t = performance.now()));
      add('sum of stages', t - t0);
    }
    // The real thing, in-process: the engine on its own store, trained through feedback.
    const store2 = openSqliteStore(join(dir, 'e.db'), { synchronous: 'NORMAL' });
    try {
      const engine = new Engine({ store: store2, snapshotEvery: 0 });
      engine.putModel(MODEL, modelConfig);
      for (let i = 0; i < 2000; i++) {
        const req = rankRequestSchema.parse(JSON.parse(bodies[i % bodies.length]!));
        const res = engine.rank(MODEL, req);
        engine.feedbackBatch(
          MODEL,
          res.slate.map((s) => ({ eventId: res.eventId, itemId: s.id, kind: train.uniform() < 0.1 ? ('click' as const) : ('ignore' as const) })),
        );
      }
      for (let i = 0; i < N; i++) {
        const req = rankRequestSchema.parse(JSON.parse(bodies[i % bodies.length]!));
        const t = performance.now();
        engine.rank(MODEL, req);
        add('engine.rank total (in-process)', performance.now() - t);
      }
    } finally {
      store2.close();
    }
    return stages.map((stage) => ({ stage, median: median(times.get(stage)!) }));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ───────────────────────────── same-run baselines ─────────────────────────────

const BASELINE_SERVER = join(ROOT, 'test/bench/baseline-server.mjs');
/**
 * `--baseline-work-ms 0,1`: the CPU work per request of the ideal servers timed at the paced rates
 * (phase `baselines`, see baseline-server.mjs).
 */
const BASELINE_WORK = argOf('--baseline-work-ms', '0,1').split(',').map(Number);
/**
 * `--baseline-paced-kinds http,express`: the frameworks of the paced baseline servers (default
 * http: the ideal server); `express` runs the same work behind express 5 and express.json, the
 * framework the issue requires, to read how much of the latency budget the framework alone takes.
 */
const BASELINE_PACED_KINDS = argOf('--baseline-paced-kinds', 'http')
  .split(',')
  .map((k) => {
    if (k !== 'http' && k !== 'express') throw new Error(`--baseline-paced-kinds: http or express, got ${k}`);
    return k;
  });

/** Start a baseline server (see baseline-server.mjs); resolves once it listens. */
async function startBaseline(kind: 'http' | 'express', workMs: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BASELINE_SERVER, '--kind', kind, '--work-ms', String(workMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`baseline server exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      if (lines.length === 2) resolve();
    });
  });
  // Line 2: the calibration (units of work per ms at start), for the progress output.
  process.stderr.write(`baseline ${kind} server: ${lines[1]!}\n`);
  return { child, url: `http://127.0.0.1:${lines[0]!}` };
}

/**
 * What any server costs on this host, in the same run as liubai: the HTTP floor (node:http +
 * JSON.parse) and the framework floor (express 5 + express.json) at saturation, and an ideal
 * server (node:http, `w` ms of fixed arithmetic per request, no I/O, no threads) at the paced
 * rates — the tail latency this host's scheduling alone gives work of that size.
 */
async function benchBaselines(): Promise<Row[]> {
  const rows: Row[] = [];
  const floors: Array<['http' | 'express', string]> = [
    ['http', 'node:http + JSON.parse'],
    ['express', 'express 5 + express.json'],
  ];
  for (const [kind, label] of floors) {
    const { child, url } = await startBaseline(kind, 0);
    try {
      const request = rankRequest(`base-${kind}-`, false);
      await autocannon({ url, connections: 10, amount: 2000, requests: [request] });
      const mark = cpuMark(child.pid);
      const r = await autocannon({ url, connections: 10, duration: DURATION, requests: [request] });
      const cpu = cpuPerRequest(child.pid, 0, mark, cpuMark(child.pid), r['2xx']);
      rows.push({ mode: 'baseline', phase: `${label}: max (10 conn)`, rate: `${fmt(r['2xx'] / r.duration, 0)} req/s`, p50: fmt(r.latency.p50, 2), p99: fmt(r.latency.p99, 2), errors: `${r.non2xx + r.errors + r.timeouts}`, cpu: cpu.text, cpuTotal: cpu.total });
      process.stderr.write(`baseline ${label}: ${rows[rows.length - 1]!.rate}\n`);
    } finally {
      await stopServer(child);
    }
  }
  for (const [kind, work] of BASELINE_PACED_KINDS.flatMap((k) => BASELINE_WORK.map((w) => [k, w] as const))) {
    const { child, url } = await startBaseline(kind, work);
    const label = kind === 'http' ? 'ideal server' : 'express server';
    try {
      await paced(url, 300, 1, `base-warm-${kind}-${work}-`, 'raw');
      for (const rate of [100, 300]) {
        const mark = cpuMark(child.pid);
        const p = await paced(url, rate, DURATION, `base-${kind}-${work}-${rate}-`, 'raw');
        const cpu = cpuPerRequest(child.pid, 0, mark, cpuMark(child.pid), p.answered);
        rows.push(pacedRow('baseline', `${label}, ${work} ms work (calibrated): paced ${rate}/s`, 'req/s', p, cpu));
        process.stderr.write(`baseline ${label} ${work} ms at ${rate}/s: p50 ${fmt(p.p50, 2)} p99 ${fmt(p.p99, 2)} ms\n`);
      }
    } finally {
      await stopServer(child);
    }
  }
  return rows;
}

// ───────────────────────────── main ─────────────────────────────

const all: Row[] = [];
for (const mode of MODES) for (const threads of THREADS) all.push(...(await benchMode(mode, threads)));
if (PHASES.has('baselines')) all.push(...(await benchBaselines()));

const header: Row = {
  mode: 'server',
  phase: 'phase',
  rate: 'throughput',
  p50: 'p50 ms',
  p99: 'p99 ms',
  errors: 'non-2xx/err',
  cpu: 'CPU ms per request: main / replica / other = server; client',
};
const columns = ['mode', 'phase', 'rate', 'p50', 'p99', 'errors', 'cpu'] as const;
const widths = columns.map((k) => Math.max(...[header, ...all].map((r) => r[k].length)));
const line = (r: Row) => columns.map((k, i) => r[k].padEnd(widths[i]!)).join('  ');
console.log(`\nHTTP benchmark: server in a child process, autocannon in this one, loopback; ${POLICY === 'linear-gaussian' ? `linear-gaussian (${COVARIANCE} covariance${COVARIANCE === 'full' ? ` over ≤ ${DENSE} dims` : ''})` : POLICY}, k=${K}, slots=5, bits=12, 2 interactions, draws=64, ${DURATION}s per phase${REWARD_WINDOW !== '' ? `, reward window ${REWARD_WINDOW} s (silence learned during the run)` : ''}`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of all) console.log(line(r));
console.log('CPU: thread CPU time from /proc/<pid>/task/*/schedstat per answered request (a feedback request is a batch of 100 events); replica = the busiest non-main threads, one per decision thread; client = this process (the load generator).');
// What the CPU per rank allows at most: every core busy, with the load generator on the same cores.
const cores = availableParallelism();
for (const r of all) {
  if (r.phase.startsWith('max') && r.cpuTotal !== undefined && Number.isFinite(r.cpuTotal)) {
    console.log(`${r.mode}: at ${fmt(r.cpuTotal, 2)} ms of CPU per rank (server + client), ${cores} cores give at most ${fmt((1000 * cores) / r.cpuTotal, 0)} rank/s; measured ${r.rate}`);
  }
}

// The p99 at 300/s against the ideal servers of the same run (same host, client and moment).
const at300 = all.filter((r) => r.phase.startsWith('paced open loop 300/s') || (r.mode === 'baseline' && r.phase.endsWith('paced 300/s')));
if (at300.some((r) => r.mode === 'baseline')) {
  console.log('\nAt 300 requests/s, same run: p99 against CPU per request (server + client):');
  for (const r of at300) console.log(`  ${r.mode.padEnd(10)} ${r.phase.padEnd(52)} p99 ${r.p99.padStart(7)} ms at ${fmt(r.cpuTotal ?? NaN, 2)} ms CPU`);
}

const parts = breakdown();
console.log('\nIn-process breakdown of one rank (medians over 2,000 ranks, trained posterior):');
for (const p of parts) console.log(`  ${p.stage.padEnd(32)} ${p.median.toFixed(3)} ms`);
console.log('Targets: p99 ≤ 10 ms at 300 rank/s; ≥ 1,500 rank/s at saturation; ≥ 5,000 feedback events/s.');
