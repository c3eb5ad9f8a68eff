/**
 * Body of the retrain worker thread (started through worker-entry.mjs): initializes its own
 * tensorflow.js with the backend the main thread uses (same numerics), then trains each job it
 * receives and posts the weights back (their buffers transferred, not copied).
 *
 * Messages: in `{ id, job }`; out `{ id, result }` or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initNeuralBackend, type NeuralBackendName } from './backend.js';
import { trainEncoder, type RetrainJob } from './train.js';
import { weightBuffers } from './weights.js';

interface JobMessage {
  readonly id: number;
  readonly job: RetrainJob;
}

const port = parentPort;
if (!port) throw new Error('neural-linear worker.ts must run in a worker thread');
const data = workerData as { backends?: NeuralBackendName[] };
const ready = initNeuralBackend({ ...(data.backends ? { backends: data.backends } : {}), log: () => {} });

port.on('message', (msg: JobMessage) => {
  ready
    .then(() => {
      const result = trainEncoder(msg.job);
      port.postMessage({ id: msg.id, result }, weightBuffers(result.weights));
    })
    .catch((error: unknown) => {
      const text = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
      port.postMessage({ id: msg.id, error: text });
    });
});
