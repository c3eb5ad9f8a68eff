/**
 * The body of a policy replica worker (loaded by `replica-worker.mjs`, see replicas.ts): holds a
 * copy of each attached model's policy, applies the posterior operations the model sends, in
 * order, and answers decisions with {@link decide}. Messages on one port arrive in the order they
 * were posted, so a decision sees exactly the operations posted before it.
 */
import { parentPort } from 'node:worker_threads';
import { createFeaturizer, FeatureError, type Featurizer } from '../features/index.js';
import { createPolicy } from '../policies/registry.js';
import type { Policy } from '../policies/types.js';
import { applyOps, decide, loggedCandidates, sourceOf } from './decide.js';
import type { FromReplica, FromReplicaBatch, ToReplica, ToReplicaBatch } from './replicas.js';

const port = parentPort;
if (!port) throw new Error('replica-worker must run in a worker thread');

const replicas = new Map<number, Policy>();
const featurizers = new Map<number, Featurizer>();
/** Replicas whose operations failed: they no longer mirror their model. */
const broken = new Map<number, string>();
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Answer request `id` with `run` on the replica `key`: its answer, or `rejected` (invalid
 * features), or `failed` (no such replica, or any other error).
 */
function answer(key: number, id: number, out: FromReplica[], run: (policy: Policy) => FromReplica): void {
  const policy = replicas.get(key);
  if (!policy) {
    out.push({ type: 'failed', id, message: broken.get(key) ?? `no replica ${key}` });
    return;
  }
  try {
    out.push(run(policy));
  } catch (error) {
    if (error instanceof FeatureError) out.push({ type: 'rejected', id, path: error.path, message: error.message });
    else out.push({ type: 'failed', id, message: messageOf(error) });
  }
}

/** Carry out one instruction; answers go to `out`. */
function handle(m: ToReplica, out: FromReplica[]): void {
  switch (m.type) {
    case 'init':
      try {
        replicas.set(m.key, createPolicy(m.policy, m.snapshot));
        featurizers.set(m.key, createFeaturizer(m.features));
      } catch (error) {
        broken.set(m.key, messageOf(error));
        out.push({ type: 'broken', key: m.key, message: messageOf(error) });
      }
      return;
    case 'ops': {
      const policy = replicas.get(m.key);
      if (!policy) return;
      try {
        applyOps(policy, m.ops);
        if (m.ops.seq > 0) out.push({ type: 'applied', key: m.key, seq: m.ops.seq });
      } catch (error) {
        replicas.delete(m.key);
        broken.set(m.key, messageOf(error));
        out.push({ type: 'broken', key: m.key, message: messageOf(error) });
      }
      return;
    }
    case 'decide':
      answer(m.key, m.id, out, (policy) => {
        const { source, ...job } = m.job;
        const { context, candidates } = sourceOf(source);
        const features = featurizers.get(m.key)!.featurize(context, candidates, source.extras);
        const outcome = decide(policy, { ...job, features });
        // The decision record's candidates, serialized here rather than in the serving thread.
        const candidatesJson = JSON.stringify(loggedCandidates(candidates, source.extras));
        return { type: 'decided', id: m.id, outcome: { ...outcome, candidatesJson } };
      });
      return;
    case 'snapshot':
      answer(m.key, m.id, out, (policy) => ({ type: 'snapshotted', id: m.id, snapshot: policy.snapshot() }));
      return;
    case 'drop':
      replicas.delete(m.key);
      featurizers.delete(m.key);
      broken.delete(m.key);
      return;
  }
}

port.on('message', (batch: ToReplicaBatch) => {
  const out: FromReplica[] = [];
  for (const m of batch) handle(m, out);
  if (out.length > 0) port.postMessage(out satisfies FromReplicaBatch);
});
