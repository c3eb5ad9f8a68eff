// Entry of a simulation worker thread: register tsx (as bin/liubai.mjs does), then load the
// TypeScript worker module, which answers the main thread's `run` messages.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./parallel-worker.ts', import.meta.url).href);
