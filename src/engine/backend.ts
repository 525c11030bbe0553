/**
 * Choosing the TensorFlow.js backend: native TensorFlow (tfjs-node or tfjs-node-gpu) when it
 * loads, else WebAssembly, else the pure-JavaScript cpu backend; where both native TensorFlow and
 * the wasm step split across cores can run, the one a short probe measured faster on this machine
 * (cached). The choice is reported, never silent.
 */
import * as tf from '@tensorflow/tfjs';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { DEFAULT_CONFIG } from '../core/config';
import { firstLine } from '../util/text';
import {
  defaultProbeCacheDir,
  measureEngines,
  PROBE_FILE,
  probeKey,
  readCachedProbe,
  writeCachedProbe,
  type EngineCandidate,
  type EngineProbe,
  type ProbeFigure,
  type ProbeSizes,
} from './engine-probe';
import { splitWorkersFor, workersFromEnvSet } from './workers';

/** A TensorFlow.js backend this package can run on: native TensorFlow (tfjs-node), WebAssembly or plain JavaScript. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/**
 * A backend to use, or `auto`: the fastest that starts (tensorflow > wasm > cpu), except that
 * where both native TensorFlow and the wasm step split across cores run, the faster of the two
 * on this machine (measured once, cached).
 */
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
  /** How `auto` chose between native TensorFlow and the split wasm step, when it measured them. */
  auto?: AutoChoice;
}

/** `auto`'s measured choice. */
export interface AutoChoice {
  /** The engine taken. */
  chosen: EngineCandidate;
  /** Each candidate's time per training step. */
  figures: ProbeFigure[];
  /** When they were measured (ISO date), and whether just now (false: read from the cache). */
  date: string;
  measuredNow: boolean;
  /** How long the probe took when it ran. */
  probeMs: number;
  /** The cache file, or null when it could not be written. */
  file: string | null;
  /** Why it could not be: the cache folder and the first line of the error. */
  notCached?: { dir: string; error: string };
}

/** Options of `setupBackend`: what `auto` measures, and how. */
export interface SetupOptions {
  /** Sizes of the run to come (default the tutorial's): `auto`'s probe trains at them. */
  config?: Partial<ProbeSizes>;
  /** Step threads given by the user (--workers): `auto` then takes the first backend that starts, unmeasured. */
  workers?: number;
  /** Measure again even when a probe is cached (also `MNIST_PROBE=again`). */
  reprobe?: boolean;
  /** The measurement (default `measureEngines`; tests pass a stand-in). */
  probe?: EngineProbe;
  /** Where the probe is cached (default `~/.cache/mnist-tfjs-tutorial`, or under `$XDG_CACHE_HOME`). */
  cacheDir?: string;
  /** The environment read for `MNIST_BACKEND`, `MNIST_WORKERS` and `MNIST_PROBE` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Environment variable for `auto`'s probe: `again` measures again, `off` takes the fixed order
 * (tensorflow > wasm > cpu) without measuring (the tests' child processes, for a known backend).
 */
export const PROBE_ENV = 'MNIST_PROBE';

/** Reads `MNIST_PROBE`: unset or empty is `cached` (measure once, then reuse). */
export function probeFromEnv(env: NodeJS.ProcessEnv = process.env): 'cached' | 'again' | 'off' {
  const value = env[PROBE_ENV]?.trim() ?? '';
  if (value === '') return 'cached';
  if (value === 'again' || value === 'off') return value;
  throw new BackendError(`${PROBE_ENV} must be "again", "off" or empty; got "${value}"`);
}

/**
 * A near tie goes to native TensorFlow: it also evaluates ~6x faster (15,000 images every 1,000
 * steps: ~70 ms against ~450 ms on wasm, about 0.4 ms a step), and a few percent are the probe's noise.
 */
export const AUTO_SPLIT_MARGIN = 0.05;

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

/** Loads a backend's package and makes it the current backend; returns the package's name. */
async function start(name: BackendName): Promise<string> {
  const provider = PROVIDERS[name]();
  if (!(await tf.setBackend(name))) throw new BackendError(`tf.setBackend("${name}") failed`);
  await tf.ready();
  silenceCpuBanner();
  return provider;
}

/**
 * Sets the TensorFlow.js backend and reports which one runs. `choice` (or the `MNIST_BACKEND`
 * environment variable when `choice` is undefined) forces one; `auto` takes the first of
 * tensorflow, wasm and cpu that works, but where native TensorFlow and the wasm step split across
 * cores both run (on the main thread, with no worker count given), the faster of the two as
 * measured by a short probe, cached on disk (see `AutoChoice`). A forced backend that fails is an error.
 */
export async function setupBackend(choice?: BackendChoice, options: SetupOptions = {}): Promise<BackendInfo> {
  const env = options.env ?? process.env;
  const wanted = choice ?? backendFromEnv(env) ?? 'auto';
  const candidates = wanted === 'auto' ? BACKENDS : [wanted];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of candidates) {
    let provider: string;
    try {
      provider = await start(name);
    } catch (error) {
      if (wanted !== 'auto') throw new BackendError(`backend "${name}" could not be started: ${firstLine(error)}`);
      skipped.push({ name, reason: firstLine(error) });
      continue;
    }
    if (wanted === 'auto' && name === 'tensorflow') {
      const auto = await measuredChoice(options, env, skipped);
      if (auto !== null) {
        const chosen = auto.chosen.backend;
        try {
          return { name: chosen, provider: await start(chosen), skipped, auto };
        } catch (error) {
          // The measured answer (perhaps cached) no longer starts: native TensorFlow, which did, runs.
          skipped.push({ name: chosen, reason: `auto's choice could not be started: ${firstLine(error)}` });
        }
      }
      await start(name);
    }
    return { name, provider, skipped };
  }
  throw new BackendError(`no backend could be started: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * `auto`'s measured choice between native TensorFlow (started) and the wasm step split across
 * cores; null when there is nothing to measure: in a worker thread, with a worker count given, on
 * one core, or when wasm does not start.
 */
async function measuredChoice(
  options: SetupOptions,
  env: NodeJS.ProcessEnv,
  skipped: BackendInfo['skipped'],
): Promise<AutoChoice | null> {
  const sizes: ProbeSizes = {
    inputNode: options.config?.inputNode ?? DEFAULT_CONFIG.inputNode,
    layer1Node: options.config?.layer1Node ?? DEFAULT_CONFIG.layer1Node,
    outputNode: options.config?.outputNode ?? DEFAULT_CONFIG.outputNode,
    batchSize: options.config?.batchSize ?? DEFAULT_CONFIG.batchSize,
  };
  const split = splitWorkersFor(sizes);
  const mode = probeFromEnv(env);
  if (mode === 'off' || !isMainThread || options.workers !== undefined || workersFromEnvSet(env) || split < 2)
    return null;
  const candidates: EngineCandidate[] = [
    { backend: 'tensorflow', workers: 1 },
    { backend: 'wasm', workers: split },
  ];
  const dir = options.cacheDir ?? defaultProbeCacheDir(env);
  const key = probeKey(sizes, candidates);
  const reprobe = options.reprobe === true || mode === 'again';
  const cached = reprobe ? null : readCachedProbe(dir, key);
  let measurement = cached?.measurement;
  let file: string | null = null;
  let notCached: AutoChoice['notCached'];
  const date = cached?.date ?? new Date().toISOString();
  if (measurement === undefined) {
    // Loaded only to measure (~0.3 s): a cached answer for native TensorFlow does without it.
    try {
      loadWasm();
    } catch {
      return null;
    }
    try {
      measurement = await (options.probe ?? measureEngines)(candidates, sizes);
    } catch (error) {
      // Native TensorFlow started: a failed measurement only loses the comparison.
      skipped.push({ name: 'wasm', reason: `auto's probe failed: ${firstLine(error)}` });
      return null;
    }
    const written = writeCachedProbe(dir, { key, measurement, date });
    file = written.file;
    if (written.file === null) notCached = { dir, error: written.error };
  } else file = join(dir, PROBE_FILE);
  return {
    chosen: fasterEngine(measurement.figures),
    figures: measurement.figures,
    date,
    measuredNow: cached === null,
    probeMs: measurement.probeMs,
    file,
    ...(notCached === undefined ? {} : { notCached }),
  };
}

/** The split wasm step when it is faster than native TensorFlow by more than `AUTO_SPLIT_MARGIN`, else native. */
export function fasterEngine(figures: readonly ProbeFigure[]): EngineCandidate {
  const native = figures.find((f) => f.backend === 'tensorflow');
  const split = figures.find((f) => f.backend === 'wasm');
  const pick = (f: ProbeFigure): EngineCandidate => ({ backend: f.backend, workers: f.workers });
  if (native === undefined || split === undefined) return pick(native ?? split ?? figures[0]);
  return split.msPerStep < native.msPerStep * (1 - AUTO_SPLIT_MARGIN) ? pick(split) : pick(native);
}

/** One line for logs: which backend runs, and why faster ones were passed over. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  const auto = info.auto === undefined ? '' : ` - ${describeAuto(info.auto)}`;
  return `backend: ${info.name} (${info.provider})${skipped ? ` - skipped ${skipped}` : ''}${auto}`;
}

/** `path` with the home folder written `~`: shorter, and no user's folder in saved notebook outputs. */
export function homeTilde(path: string, home: string = homedir()): string {
  return home !== '' && path.startsWith(home + sep) ? `~${path.slice(home.length)}` : path;
}

/** `text` (an error message) with every path under the home folder written `~/...`, as `homeTilde` does. */
function homeTildeIn(text: string, home: string = homedir()): string {
  return home === '' ? text : text.split(home + sep).join(`~${sep}`);
}

/** An engine's name in reports: `tensorflow`, `wasm`, `wasm split 2`. */
const engineName = (c: EngineCandidate) => (c.workers > 1 ? `${c.backend} split ${c.workers}` : c.backend);

/**
 * `auto: wasm split 2 (4.70 ms/step) faster than tensorflow (5.00 ms/step), measured now in 1.8 s,
 * cached in FILE (MNIST_PROBE=again measures again)`.
 */
export function describeAuto(auto: AutoChoice): string {
  const chosen = auto.figures.find((f) => f.backend === auto.chosen.backend);
  const others = auto.figures.filter((f) => f !== chosen);
  const figure = (f: ProbeFigure) => `${engineName(f)} (${f.msPerStep.toFixed(2)} ms/step)`;
  const faster = chosen !== undefined && others.every((o) => chosen.msPerStep <= o.msPerStep);
  const verdict =
    chosen === undefined
      ? engineName(auto.chosen)
      : `${figure(chosen)} ${faster ? 'faster than' : `within ${AUTO_SPLIT_MARGIN * 100} % of`} ${others.map(figure).join(', ')}`;
  const when = auto.measuredNow
    ? `measured now in ${(auto.probeMs / 1000).toFixed(1)} s`
    : `measured ${auto.date.slice(0, 16).replace('T', ' ')}`;
  const cache =
    auto.file !== null
      ? `cached in ${homeTilde(auto.file)}`
      : auto.notCached === undefined
        ? 'not cached'
        : `not cached (cannot write to ${homeTilde(auto.notCached.dir)}: ${homeTildeIn(auto.notCached.error)})`;
  return `auto: ${verdict}, ${when}, ${cache} (${PROBE_ENV}=again measures again)`;
}
