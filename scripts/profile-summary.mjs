#!/usr/bin/env node
/**
 * Summarize V8 .cpuprofile files (from `node --cpu-prof`, e.g. `npm run bench:http -- --profile
 * <dir>`): self time per function (top N) and per area of the code base (src/<area>/, a
 * dependency under node_modules, node internals, GC, idle).
 *
 * Usage: node scripts/profile-summary.mjs <file-or-dir> [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const target = args[0];
if (!target) {
  console.error('usage: node scripts/profile-summary.mjs <file.cpuprofile | dir> [--top N]');
  process.exit(2);
}
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];

/** The area a script URL belongs to. */
function areaOf(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)') return name;
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `src/${src[1]}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1];
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfById = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map();
  const byArea = new Map();
  let total = 0;
  for (const [id, t] of selfById) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url.split('/').slice(-2).join('/');
    const key = `${name}  ${where}:${callFrame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + t);
    const area = areaOf(callFrame.url, name);
    byArea.set(area, (byArea.get(area) ?? 0) + t);
    total += t;
  }
  const busy = total - (byArea.get('(idle)') ?? 0);
  const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)`);
  console.log('\nby area:');
  for (const [area, t] of [...byArea].filter(([a]) => a !== '(idle)').sort((a, b) => b[1] - a[1])) console.log(`  ${pct(t)}  ${area}`);
  console.log(`\ntop ${top} functions (self time):`);
  for (const [key, t] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${pct(t)}  ${key}`);
  }
  console.log('');
}
