#!/usr/bin/env node
// The `liubai` command. Runs the TypeScript sources through tsx (a runtime dependency), so a
// fresh clone works after `npm install` with no build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const entry = new URL('../src/cli/main.ts', import.meta.url);
const { main } = await import(fileURLToPath(entry));
await main(process.argv.slice(2));
