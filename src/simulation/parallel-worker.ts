/**
 * The body of a simulation worker thread (loaded by `parallel-worker.mjs`): runs the jobs the
 * main thread sends, one at a time, and posts progress, then the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setNeuralBackendPreference, type NeuralBackendName } from '../policies/neural-linear/backend.js';
import { prepareJob, runJob, type FromWorker, type ToWorker } from './parallel.js';

const port = parentPort;
if (!port) throw new Error('parallel-worker must run in a worker thread');
const data = workerData as { neuralBackends?: NeuralBackendName[] } | null;
if (data?.neuralBackends) setNeuralBackendPreference(data.neuralBackends);

port.on('message', async (m: ToWorker) => {
  const post = (msg: FromWorker) => port.postMessage(msg);
  try {
    await prepareJob(m.job);
    const result = runJob(m.job, (decisions) => post({ type: 'progress', id: m.id, decisions }), m.progressEvery);
    post({ type: 'result', id: m.id, result });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ type: 'error', id: m.id, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) });
  }
});
