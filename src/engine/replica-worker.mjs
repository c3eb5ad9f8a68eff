// Entry of a policy replica worker thread: register tsx (as bin/liubai.mjs does), then load the
// TypeScript worker module, which answers the main thread's messages (see replicas.ts).
import { register } from 'tsx/esm/api';

register();
await import(new URL('./replica-worker.ts', import.meta.url).href);
