/**
 * The body of a simulation worker thread (loaded by `parallel-worker.mjs`): runs the jobs the
 * main thread sends, one at a time, and posts progress, then the result or the error.
 */
import { parentPort } from 'node:worker_threads';
import { prepareJob, runJob, type FromWorker, type ToWorker } from './parallel.js';

const port = parentPort;
if (!port) throw new Error('parallel-worker must run in a worker thread');

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
