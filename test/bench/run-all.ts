/**
 * Run every benchmark (`npm run bench`): core, engine, then store, http, simulation and neural when
 * their files exist — each in its own child process (`node bin/run-ts.mjs <file>`), one after
 * the other, so they never compete for the machine's cores or share a warmed-up JIT.
 *
 * Extra arguments are not forwarded (each benchmark has its own; run it alone to pass them).
 * Exits with the first non-zero exit code of a benchmark, after running all of them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const BENCHES = ['core', 'engine', 'store', 'http', 'simulation', 'neural'];

function run(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), file], { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

let status = 0;
const summary: string[] = [];
for (const name of BENCHES) {
  const file = join('test/bench', `${name}.bench.ts`);
  if (!existsSync(join(ROOT, file))) {
    summary.push(`${name}: skipped (no ${file})`);
    continue;
  }
  console.log(`\n━━━━━━━━━━ ${file} ━━━━━━━━━━\n`);
  const started = performance.now();
  const code = await run(file);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  summary.push(`${name}: ${code === 0 ? 'ok' : `exit ${code}`} (${seconds} s)`);
  if (code !== 0 && status === 0) status = code;
}
console.log(`\n━━━━━━━━━━ summary ━━━━━━━━━━\n${summary.join('\n')}`);
process.exitCode = status;
