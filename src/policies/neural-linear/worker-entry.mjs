// Bootstrap of the retrain worker thread. A worker is a fresh module graph, so a TypeScript entry
// needs tsx's loader registered first, as bin/liubai.mjs does for the main thread; a compiled .js
// entry is imported as is.
import { workerData } from 'node:worker_threads';

const entry = String(workerData.entry);
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
