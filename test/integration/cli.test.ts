/**
 * `liubai serve` settings (flags > environment > config file > defaults, every problem listed at
 * once) and the command itself in a child process: exit code 2 on bad settings, the demo model
 * and the curl lines on a fresh database, a graceful exit 0 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, test } from 'vitest';
import { parseServeSettings } from '../../src/cli/settings.js';
import { parseModelConfig, posteriorKey } from '../../src/engine/config.js';
import { openSqliteStore } from '../../src/storage/sqlite/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/liubai.mjs');
const dir = mkdtempSync(join(tmpdir(), 'liubai-cli-'));
/** Children still running when the file ends (a failed test) are killed, never leaked. */
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const noFile = (p: string): string => {
  throw new Error(`ENOENT: no such file ${p}`);
};
const files =
  (map: Record<string, string>) =>
  (p: string): string => {
    const text = map[p];
    if (text === undefined) throw new Error(`ENOENT: no such file ${p}`);
    return text;
  };

function ok(result: ReturnType<typeof parseServeSettings>) {
  if (!result.ok) throw new Error(`unexpected problems: ${result.problems.join('; ')}`);
  return result.settings;
}

describe('parseServeSettings', () => {
  test('defaults: 127.0.0.1:8080, ./data/liubai.db, no keys, demo on; the result is frozen', () => {
    const s = ok(parseServeSettings([], {}, noFile));
    expect(s).toMatchObject({ host: '127.0.0.1', port: 8080, db: './data/liubai.db', scoringKeys: [], adminKeys: [], demo: true, durability: 'process' });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.scoringKeys)).toBe(true);
  });

  test('the environment sets port, host, db and comma-separated keys', () => {
    const s = ok(
      parseServeSettings([], { LIUBAI_PORT: '9000', LIUBAI_HOST: '0.0.0.0', LIUBAI_DB: '/tmp/x.db', LIUBAI_SCORING_KEYS: 'sk-11111111, sk-22222222', LIUBAI_ADMIN_KEYS: 'ak-33333333' }, noFile),
    );
    expect(s).toMatchObject({ port: 9000, host: '0.0.0.0', db: '/tmp/x.db', scoringKeys: ['sk-11111111', 'sk-22222222'], adminKeys: ['ak-33333333'] });
  });

  test('flags win over the environment, which wins over the config file', () => {
    const read = files({ 'c.json': JSON.stringify({ port: 7000, host: '10.0.0.1', db: 'file.db', snapshotEvery: 50 }) });
    const env = { LIUBAI_PORT: '9000', LIUBAI_HOST: '0.0.0.0' };
    const s = ok(parseServeSettings(['--config', 'c.json', '--port', '9100', '--scoring-key=sk-aaaaaaaa', '--scoring-key', 'sk-bbbbbbbb'], env, read));
    expect(s.port).toBe(9100); // flag
    expect(s.host).toBe('0.0.0.0'); // env over file
    expect(s.db).toBe('file.db'); // file
    expect(s.snapshotEvery).toBe(50);
    expect(s.scoringKeys).toEqual(['sk-aaaaaaaa', 'sk-bbbbbbbb']);
    expect(ok(parseServeSettings(['--no-demo'], {}, noFile)).demo).toBe(false);
  });

  test('neural backends: tensorflow, wasm, cpu by default; --neural-backend (repeated) or LIUBAI_NEURAL_BACKEND; unknown names are problems', () => {
    expect(ok(parseServeSettings([], {}, noFile)).neuralBackends).toEqual(['tensorflow', 'wasm', 'cpu']);
    expect(ok(parseServeSettings(['--neural-backend', 'wasm', '--neural-backend=cpu'], { LIUBAI_NEURAL_BACKEND: 'tensorflow' }, noFile)).neuralBackends).toEqual(['wasm', 'cpu']);
    expect(ok(parseServeSettings([], { LIUBAI_NEURAL_BACKEND: ' cpu , wasm ' }, noFile)).neuralBackends).toEqual(['cpu', 'wasm']);
    const r = parseServeSettings(['--port', 'x'], { LIUBAI_NEURAL_BACKEND: 'wasm,gpu' }, noFile);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(2);
    expect(r.problems.join('\n')).toMatch(/^LIUBAI_NEURAL_BACKEND \(1\): .*"tensorflow"\|"wasm"\|"cpu"/m);
  });

  test('--max-pending-ranks: 256 by default, a positive integer', () => {
    expect(ok(parseServeSettings([], {}, noFile)).maxPendingRanks).toBe(256);
    expect(ok(parseServeSettings(['--max-pending-ranks', '32'], {}, noFile)).maxPendingRanks).toBe(32);
    const r = parseServeSettings(['--max-pending-ranks', '0'], {}, noFile);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('\n')).toMatch(/maxPendingRanks|max-pending-ranks/);
  });

  test('the config file creates models, validated with the model config schema', () => {
    const read = files({ 'm.json': JSON.stringify({ models: { news: { policy: { kind: 'beta-bernoulli' } } } }) });
    const s = ok(parseServeSettings(['--config', 'm.json'], {}, read));
    expect(s.models['news']?.policy.kind).toBe('beta-bernoulli');
    expect(s.models['news']?.slots).toBe(5);
  });

  test('every problem is listed at once, each naming its source', () => {
    const read = files({ 'bad.json': JSON.stringify({ sweepIntervalMs: 1, colour: 'red', models: { news: { policy: { kind: 'magic' } }, '-x': {} } }) });
    const r = parseServeSettings(
      ['--port', '70000', '--prot', '1', 'stray', '--host', '--config', 'bad.json', '--admin-key', 'short', '--durability', 'maybe'],
      { LIUBAI_DB: '', LIUBAI_SCORING_KEYS: 'has space key' },
      read,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.problems.join('\n');
    expect(text).toMatch(/^--port: .*65535/m);
    expect(text).toContain('unknown flag --prot');
    expect(text).toContain('unexpected argument "stray"');
    expect(text).toContain('--host: a value is required');
    expect(text).toMatch(/--admin-key.*at least 8/);
    expect(text).toMatch(/--durability: .*process.*power/);
    expect(text).toMatch(/LIUBAI_SCORING_KEYS.*whitespace/);
    expect(text).toMatch(/bad\.json: sweepIntervalMs: .*10/);
    expect(text).toContain('unknown setting colour');
    expect(text).toMatch(/models \(news\.policy\.kind\)/);
    expect(text).toMatch(/models \(-x\): Invalid key/);
    expect(r.problems.length).toBeGreaterThanOrEqual(11);
    // A second value after a key flag is reported without being shown (it may be a key).
    const keys = parseServeSettings(['--scoring-key', 'first-key-123', 'second-key-456', '--admin-key=admin-key-789', 'third-key-000'], {}, read);
    expect(keys.ok).toBe(false);
    if (keys.ok) return;
    expect(keys.problems).toEqual([
      'unexpected argument after --scoring-key (not shown: it may be a key; give --scoring-key once per key)',
      'unexpected argument after --admin-key (not shown: it may be a key; give --admin-key once per key)',
    ]);
  });

  test('an unreadable or non-JSON config file is a problem, listed with the others', () => {
    const r = parseServeSettings(['--config', 'missing.json', '--port', 'abc'], {}, noFile);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.some((p) => p.startsWith('--config missing.json: ENOENT'))).toBe(true);
    expect(r.problems.some((p) => p.startsWith('--port: '))).toBe(true);
    const j = parseServeSettings(['--config', 'x.json'], {}, files({ 'x.json': '{ nope' }));
    expect(!j.ok && j.problems[0]).toMatch(/^--config x\.json: .*JSON/);
  });
});

// ───────────────────────────── the command ─────────────────────────────

interface Child {
  lines: string[];
  stderr: string[];
  exit: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
}

function run(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    lines,
    stderr,
    exit,
    kill: (signal) => child.kill(signal),
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}; stdout: ${lines.join('\n')}; stderr: ${stderr.join('\n')}`)), ms);
        const check = () => {
          for (const l of lines) {
            const m = re.exec(l);
            if (m) {
              clearTimeout(timer);
              resolve(m);
              return;
            }
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
}

describe('liubai serve (child process)', () => {
  test('SIGTERM with output to a file: the whole shutdown runs (threads stopped, store closed), then exit 0', async () => {
    // No pipes: nothing but the server's own handles keeps the process alive, and the shutdown
    // must still run to its end (decision threads stopped, snapshot saved, store closed).
    const db = join(dir, 'file-logged.db');
    const log = join(dir, 'file-logged.log');
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', '--decision-threads', '1'], { cwd: dir, stdio: ['ignore', fd, fd] });
    children.push(child);
    closeSync(fd);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    let url: string | undefined;
    while (url === undefined && Date.now() < deadline) {
      url = /^liubai listening on (http:\S+)$/m.exec(readFileSync(log, 'utf8'))?.[1];
      if (url === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(url).toBeDefined();
    const r = await fetch(`${url!}/v1/models/demo/rank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u', context: {}, candidates: [{ id: 'a' }, { id: 'b' }], slots: 1 }),
    });
    expect(r.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('"msg":"stopped"');
    // The last connection's close checkpoints the WAL and removes it.
    expect(existsSync(`${db}-wal`)).toBe(false);
  });

  test('bad settings: exit code 2 and every problem on stderr', async () => {
    const c = run(['serve', '--port', 'x', '--bogus'], { LIUBAI_HOST: '' });
    expect(await c.exit).toBe(2);
    const err = c.stderr.join('\n');
    expect(err).toContain('2 problem(s)');
    expect(err).toContain('--port');
    expect(err).toContain('unknown flag --bogus');
  });

  test('the other commands refuse an unknown LIUBAI_NEURAL_BACKEND with exit code 2, naming it', async () => {
    const c = run(['simulate', '--help'], { LIUBAI_NEURAL_BACKEND: 'wasm,gpu' });
    expect(await c.exit).toBe(2);
    expect(c.stderr.join('\n')).toMatch(/LIUBAI_NEURAL_BACKEND: .*"tensorflow"\|"wasm"\|"cpu"/);
  });

  test('a fresh database gets the demo model, the curl lines are printed, they work, and SIGTERM exits 0', async () => {
    const db = join(dir, 'sub', 'demo.db');
    const c = run(['serve', '--db', db, '--port', '0']);
    const [, url] = (await c.waitFor(/^liubai listening on (http:\/\/127\.0\.0\.1:\d+)$/)) as unknown as [string, string];
    await c.waitFor(/^rank: +curl .*\/v1\/models\/demo\/rank/);
    await c.waitFor(/^feedback: +curl .*\/v1\/models\/demo\/feedback/);
    expect(c.lines.join('\n')).toContain('created: demo');
    // The printed rank body is valid and works as printed.
    const rankLine = c.lines.find((l) => l.startsWith('rank:'))!;
    const body = /-d '(.*)'$/.exec(rankLine)![1]!;
    const r = await fetch(`${url}/v1/models/demo/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200);
    const feedbackLine = c.lines.find((l) => l.startsWith('feedback:'))!;
    const fb = await fetch(`${url}/v1/models/demo/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: /-d '(.*)'$/.exec(feedbackLine)![1]!,
    });
    expect(await fb.json()).toEqual({ accepted: 1, duplicates: 0, outcomes: 1 });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    c.kill('SIGTERM');
    expect(await c.exit).toBe(0);
    expect(existsSync(db)).toBe(true);
    const store = openSqliteStore(db);
    try {
      expect(store.listModels().map((m) => m.modelId)).toEqual(['demo']);
      expect(store.counts('demo').decisions).toBe(1);
      // The shutdown took a final snapshot of the demo model's posterior (one click folded).
      const demoConfig = parseModelConfig(JSON.parse(readFileSync(join(ROOT, 'models/presets/demo.json'), 'utf8')));
      expect(store.latestSnapshot('demo', posteriorKey(demoConfig))?.seq).toBe(store.lastSeq('demo'));
    } finally {
      store.close();
    }
  });

  test('LIUBAI_PORT/LIUBAI_DB from the environment, --port wins; keys are required and never printed', async () => {
    const db = join(dir, 'env.db');
    const config = join(dir, 'env-config.json');
    writeFileSync(config, JSON.stringify({ models: { news: { policy: { kind: 'beta-bernoulli' } } } }));
    const c = run(['serve', '--port', '0', '--config', config, '--admin-key', 'admin-secret-1'], {
      LIUBAI_PORT: '1',
      LIUBAI_DB: db,
      LIUBAI_SCORING_KEYS: 'scoring-secret-1',
    });
    const [, url] = (await c.waitFor(/^liubai listening on (http:\/\/127\.0\.0\.1:\d+)$/)) as unknown as [string, string];
    await c.waitFor(/^rank: .*Authorization: Bearer \$LIUBAI_KEY/);
    const printed = [...c.lines, ...c.stderr].join('\n');
    expect(printed).not.toContain('admin-secret-1');
    expect(printed).not.toContain('scoring-secret-1');
    expect(c.lines.join('\n')).toContain('models: news');
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    const list = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer scoring-secret-1' } });
    expect(((await list.json()) as { models: Array<{ modelId: string }> }).models.map((m) => m.modelId)).toEqual(['news']);
    c.kill('SIGINT');
    expect(await c.exit).toBe(0);
    expect(existsSync(db)).toBe(true);
  });
});
