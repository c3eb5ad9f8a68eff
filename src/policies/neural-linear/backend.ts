/**
 * The tensorflow.js runtime of the neural-linear policy: loaded on demand (dynamic import), with
 * the fastest backend available. This file and the others of this folder are the only ones that
 * touch tfjs; nothing is loaded until {@link initNeuralBackend} runs, so a server without
 * neural-linear models never loads it.
 *
 * Backend order (the first that initializes wins):
 * 1. `tensorflow` — `@tensorflow/tfjs-node` (an optional dependency that downloads a native
 *    library at install; absent here), which registers itself when imported;
 * 2. `wasm` — `@tensorflow/tfjs-backend-wasm`, with the `.wasm` binaries read from its own
 *    `dist/` folder in node_modules (`setWasmPaths` with a file path: nothing is downloaded);
 * 3. `cpu` — the plain-JavaScript backend bundled with `@tensorflow/tfjs`.
 * A missing or failing optional backend is recorded in `fallbacks` and never throws.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The tensorflow.js module (types only here: the module itself is imported dynamically). */
export type Tf = typeof import('@tensorflow/tfjs');

/** A backend name liubai knows how to set up. */
export type NeuralBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** The default preference order. */
export const DEFAULT_BACKENDS: readonly NeuralBackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Every backend name, for validating a preference that comes from outside (flags, env). */
export const NEURAL_BACKEND_NAMES: readonly NeuralBackendName[] = DEFAULT_BACKENDS;

/** The order {@link initNeuralBackend} tries when its caller names none (set by the composition root). */
let preferred: readonly NeuralBackendName[] = DEFAULT_BACKENDS;

/**
 * Set the backends {@link initNeuralBackend} tries when called without `backends` (e.g. from
 * `LIUBAI_NEURAL_BACKEND`, validated by the command line): the process-wide setting, read here
 * instead of the environment so that bad values are refused where settings are parsed.
 * @throws RangeError when the list is empty
 */
export function setNeuralBackendPreference(backends: readonly NeuralBackendName[]): void {
  if (backends.length === 0) throw new RangeError('setNeuralBackendPreference: at least one backend');
  preferred = [...backends];
}

/** The current default preference (see {@link setNeuralBackendPreference}), e.g. to hand to a worker thread. */
export function neuralBackendPreference(): readonly NeuralBackendName[] {
  return preferred;
}

/** Which backend runs the encoders, and why the preferred ones before it were skipped. */
export interface NeuralBackendInfo {
  readonly backend: string;
  /** One line per skipped backend: `name: reason`. */
  readonly fallbacks: string[];
}

export interface NeuralBackendOptions {
  /**
   * Backends to try, in order (default: {@link neuralBackendPreference}, which is
   * {@link DEFAULT_BACKENDS} unless the command line set another). `cpu` is always tried last.
   */
  readonly backends?: readonly NeuralBackendName[];
  /** Where the one-line report goes (default: stderr). Called once per selection. */
  readonly log?: (line: string) => void;
}

let tfModule: Tf | null = null;
let info: NeuralBackendInfo | null = null;
let pending: Promise<NeuralBackendInfo> | null = null;
let selectedFor = '';

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}

function preference(options: NeuralBackendOptions): NeuralBackendName[] {
  const list = options.backends ?? preferred;
  const out = list.filter((b, i) => list.indexOf(b) === i);
  if (!out.includes('cpu')) out.push('cpu');
  return out;
}

async function trySetBackend(tf: Tf, name: NeuralBackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      if (tf.findBackendFactory('tensorflow') === null) {
        // A computed specifier: the optional package may be absent, and the type checker must not
        // require its types.
        const specifier = '@tensorflow/tfjs-node';
        await import(specifier);
      }
      if (tf.findBackendFactory('tensorflow') === null) {
        // Registered on another copy of tfjs-core (not deduplicated), which liubai does not use.
        return '@tensorflow/tfjs-node loaded but registered no "tensorflow" backend with this tfjs';
      }
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
      wasm.setWasmPaths(dist);
    }
    const ok = await tf.setBackend(name);
    if (!ok) return 'failed to initialize';
    await tf.ready();
    return tf.getBackend() === name ? null : `active backend is ${tf.getBackend()}`;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (name === 'tensorflow' && (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')) {
      return '@tensorflow/tfjs-node is not installed (optional dependency)';
    }
    return message(error);
  }
}

async function select(options: NeuralBackendOptions): Promise<NeuralBackendInfo> {
  if (!tfModule) {
    const tf = await import('@tensorflow/tfjs');
    // Silences tfjs' console banners ("looks like you are running TensorFlow.js in Node.js"):
    // we report the backend ourselves, once.
    tf.enableProdMode();
    tfModule = tf;
  }
  const tf = tfModule;
  const fallbacks: string[] = [];
  for (const name of preference(options)) {
    const problem = await trySetBackend(tf, name);
    if (problem === null) {
      const result: NeuralBackendInfo = { backend: name, fallbacks };
      const line =
        `liubai: neural-linear backend ${name}` + (fallbacks.length > 0 ? ` (skipped ${fallbacks.join('; ')})` : '');
      (options.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
      return result;
    }
    fallbacks.push(`${name}: ${problem}`);
  }
  throw new Error(`no tensorflow.js backend could be initialized: ${fallbacks.join('; ')}`);
}

/**
 * Load tensorflow.js and select its backend (see the module comment for the order). Idempotent:
 * later calls with the same preference return the first result without logging again; a call
 * with another `backends` list selects again (used by the benchmark to compare backends).
 * @returns the backend in use and the reasons the preferred ones were skipped
 * @throws Error when not even the `cpu` backend initializes
 */
export async function initNeuralBackend(options: NeuralBackendOptions = {}): Promise<NeuralBackendInfo> {
  const key = preference(options).join(',');
  if (pending && key === selectedFor) return pending;
  selectedFor = key;
  pending = select(options).then(
    (r) => {
      info = r;
      return r;
    },
    (error: unknown) => {
      pending = null;
      selectedFor = '';
      throw error;
    },
  );
  return pending;
}

/** The backend in use, or null before {@link initNeuralBackend} has completed. */
export function neuralBackendInfo(): NeuralBackendInfo | null {
  return info;
}

/**
 * The loaded tensorflow.js module, for the synchronous code of this folder.
 * @throws Error when {@link initNeuralBackend} has not completed yet
 */
export function loadedTf(): Tf {
  if (!tfModule || !info) {
    throw new Error('neural-linear needs tensorflow.js: await initNeuralBackend() (or preparePolicy) before creating the policy');
  }
  return tfModule;
}
