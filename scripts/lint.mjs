#!/usr/bin/env node
// Project lint: rules that the type checker does not enforce.
// - no Math.random anywhere in src/ (every draw takes the injected seeded Rng);
// - no `any` in exported signatures of src/ (boundaries are typed; zod parses unknown input);
// - no Date.now()/new Date() in the pure layers (core, features, policies, feedback, ope): inject a clock.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pure = ['src/core', 'src/features', 'src/policies', 'src/feedback', 'src/ope'];
const problems = [];

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

for (const file of walk(join(root, 'src'))) {
  const rel = relative(root, file);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    const where = `${rel}:${i + 1}`;
    if (/Math\.random\s*\(/.test(code)) problems.push(`${where}: Math.random (use the injected Rng)`);
    if (/^\s*export\s/.test(code) && /(:\s*any\b|<any>|\bany\[\]|as any\b)/.test(code)) {
      problems.push(`${where}: 'any' in an exported declaration`);
    }
    if (pure.some((d) => rel.startsWith(d)) && /(Date\.now\s*\(|new Date\s*\(|performance\.now\s*\()/.test(code)) {
      problems.push(`${where}: reads the clock in a pure layer (inject a clock)`);
    }
  });
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`lint: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('lint: ok');
