/**
 * Simulation benchmark (issue "Offline"): throughput of the silence scenario (fatigue
 * population, 3 policies, 3,000 decisions × 2 slots per run) with 1 worker (in this thread) and
 * with 2 worker threads, in decisions per second, and the speed-up from the second worker. Also
 * checks that both give the same results (apart from timing).
 *
 * Worker threads start by registering tsx and compiling the sources (~1 s each), which the
 * 2-worker figure includes: it is what `liubai simulate` costs end to end.
 *
 * Also prints the CPU time of the process (all threads) and the cores it kept busy (CPU / wall):
 * on a shared machine whose other load already fills the cores, the second worker cannot help,
 * and "cores used" shows it.
 *
 * Run: npm run bench:sim [-- --seeds n]   (default 6 seeds = 18 runs = 54,000 decisions)
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runScenario } from '../../src/simulation/parallel.js';
import { toJson } from '../../src/simulation/report/results.js';
import { loadScenario, withOverrides } from '../../src/simulation/scenario.js';
import { table } from './stats.js';

const { values } = parseArgs({ args: process.argv.slice(2), options: { seeds: { type: 'string' } } });
const seeds = Number(values.seeds ?? 6);
const scenario = withOverrides(loadScenario(new URL('../../simulations/silence.json', import.meta.url).pathname), { seeds });
const decisions = scenario.horizon * seeds * scenario.policies.length;

console.log(
  `simulation bench: ${scenario.name}, ${scenario.policies.length} policies × ${seeds} seeds × ${scenario.horizon} decisions ` +
    `(${decisions.toLocaleString('en-US')} decisions), ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}, node ${process.version}`,
);

const rows: string[][] = [];
const timings: Record<number, number> = {};
let reference: string | null = null;
for (const workers of [1, 2]) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const results = await runScenario(scenario, { workers, liubaiVersion: 'bench' });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  timings[workers] = seconds;
  const { run: _run, ...rest } = results;
  const text = toJson(rest);
  if (reference === null) reference = text;
  else if (text !== reference) throw new Error('results differ between 1 and 2 workers');
  rows.push([
    String(workers),
    seconds.toFixed(1),
    Math.round(decisions / seconds).toLocaleString('en-US'),
    cpuSeconds.toFixed(1),
    (cpuSeconds / seconds).toFixed(2),
    Math.round(decisions / cpuSeconds).toLocaleString('en-US'),
  ]);
}
table(['workers', 'wall s', 'decisions/s', 'CPU s', 'cores used', 'decisions/CPU-s'], rows);
console.log(`speed-up from the second worker: ×${(timings[1]! / timings[2]!).toFixed(2)} (results identical)`);
