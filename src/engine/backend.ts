/**
 * Choosing the TensorFlow.js backend: native TensorFlow (tfjs-node or tfjs-node-gpu) when it
 * loads, else WebAssembly, else the pure-JavaScript cpu backend. The choice is reported, never
 * silent.
 */
import * as tf from '@tensorflow/tfjs';
import { firstLine } from '../util/text';

/** A TensorFlow.js backend this package can run on: native TensorFlow (tfjs-node), WebAssembly or plain JavaScript. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** A backend to use, or `auto`: the fastest that starts (tensorflow > wasm > cpu). */
export type BackendChoice = BackendName | 'auto';

/** The backends, fastest first: the order `auto` tries them in. */
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Which backend `setupBackend` chose, and why. */
export interface BackendInfo {
  /** The backend in use. */
  name: BackendName;
  /** The package that provides it. */
  provider: string;
  /** Backends tried before it and why each was passed over. */
  skipped: { name: BackendName; reason: string }[];
}

/** The backend could not be set up as asked. */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

/** Packages that provide the native `tensorflow` backend, in order of preference. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/** Loads tfjs-node (or -gpu), which registers the `tensorflow` backend; returns its package name. */
function loadNative(): string {
  const failures: string[] = [];
  // libtensorflow's C++ start-up notices (CPU features, XLA) are noise in notebooks and logs.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // tfjs-node 4.22 calls util.isNullOrUndefined, which Deno's node:util (and Node 23+) no longer has.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const util = require('node:util') as { isNullOrUndefined?: (value: unknown) => boolean };
  util.isNullOrUndefined ??= (value) => value === null || value === undefined;
  for (const name of NATIVE_PACKAGES) {
    try {
      // The native addon registers the backend as a side effect of loading.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(name);
      if (tf.findBackendFactory('tensorflow') !== null) return name;
      failures.push(`${name} loaded but registered no backend`);
    } catch (error) {
      const missing =
        (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && firstLine(error).includes(`'${name}'`);
      failures.push(missing ? `${name} not installed` : `${name}: ${firstLine(error)}`);
    }
  }
  throw new BackendError(`${failures.join(', ')} (see README: native TensorFlow)`);
}

function loadWasm(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  return '@tensorflow/tfjs-backend-wasm';
}

const PROVIDERS: Record<BackendName, () => string> = {
  tensorflow: loadNative,
  wasm: loadWasm,
  cpu: () => '@tensorflow/tfjs-backend-cpu',
};

/** Quiets tfjs's one-time "install the node backend" banner: the choice is reported by us. */
function silenceCpuBanner(): void {
  const backend = tf.engine().findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (backend !== null && 'firstUse' in backend) backend.firstUse = false;
}

/** Reads the `MNIST_BACKEND` environment variable; undefined when unset or empty. */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendChoice | undefined {
  const value = env.MNIST_BACKEND?.trim();
  if (value === undefined || value === '') return undefined;
  return parseBackendChoice(value, 'MNIST_BACKEND');
}

/** Checks a backend name given by a user; `source` names where it came from. */
export function parseBackendChoice(value: string, source = 'backend'): BackendChoice {
  if (value === 'auto' || (BACKENDS as readonly string[]).includes(value)) return value as BackendChoice;
  throw new BackendError(`${source} must be one of auto, ${BACKENDS.join(', ')}; got "${value}"`);
}

/**
 * Sets the TensorFlow.js backend and reports which one runs. `choice` (or the `MNIST_BACKEND`
 * environment variable when `choice` is undefined) forces one; `auto` takes the first of
 * tensorflow, wasm and cpu that works. A forced backend that fails is an error.
 */
export async function setupBackend(choice?: BackendChoice): Promise<BackendInfo> {
  const wanted = choice ?? backendFromEnv() ?? 'auto';
  const candidates = wanted === 'auto' ? BACKENDS : [wanted];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of candidates) {
    try {
      const provider = PROVIDERS[name]();
      if (!(await tf.setBackend(name))) throw new BackendError(`tf.setBackend("${name}") failed`);
      await tf.ready();
      silenceCpuBanner();
      return { name, provider, skipped };
    } catch (error) {
      if (wanted !== 'auto') throw new BackendError(`backend "${name}" could not be started: ${firstLine(error)}`);
      skipped.push({ name, reason: firstLine(error) });
    }
  }
  throw new BackendError(`no backend could be started: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** One line for logs: which backend runs, and why faster ones were passed over. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return `backend: ${info.name} (${info.provider})${skipped ? ` - skipped ${skipped}` : ''}`;
}
