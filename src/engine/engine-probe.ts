/**
 * `auto`'s measurement: which engine trains faster on this machine, native TensorFlow's step on
 * this thread (TensorFlow uses every core itself) or the wasm step split across worker threads.
 * Neither always wins (it depends on the CPU, the load and the versions), so a short probe times
 * both, interleaved, on made-up data of the run's sizes; its answer is cached on disk and reused
 * until the machine, Node, the package or its engine code change.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root';
import { firstLine } from '../util/text';
import { decayStepsFor, makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData, DataSet } from '../data/mnist';
import { createEngine } from './engines';
import { timeSteps, type StepEngine } from './step-engine';

/** An engine `auto` can choose: a backend, and the threads a step is split across (1: this thread). */
export interface EngineCandidate {
  backend: 'tensorflow' | 'wasm';
  workers: number;
}

/** A candidate's measured time per training step. */
export interface ProbeFigure extends EngineCandidate {
  msPerStep: number;
}

/** What a probe measured. */
export interface ProbeMeasurement {
  figures: ProbeFigure[];
  /** Wall time of the probe, start-up of the engines included. */
  probeMs: number;
}

/** The sizes a probe is run at: those of the run to come (the tutorial's by default). */
export type ProbeSizes = Pick<TrainingConfig, 'inputNode' | 'layer1Node' | 'outputNode' | 'batchSize'>;

/** Measures the candidates (injectable: tests pass a stand-in). */
export type EngineProbe = (candidates: readonly EngineCandidate[], sizes: ProbeSizes) => Promise<ProbeMeasurement>;

/** Steps of each candidate before timing (the first steps after start-up are slow), rounds, and steps per round. */
const WARM_UP_STEPS = 20;
const ROUNDS = 5;
const STEPS_PER_ROUND = 20;
/** Training images of the made-up data: enough for the sampler, small to make and to copy to the workers. */
const PROBE_IMAGES = 2000;

/** The middle of the rounds' times (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Made-up data of the run's sizes: pixels and labels from a fixed generator (timing does not depend on them). */
function probeData(sizes: ProbeSizes): MnistData {
  let state = 0x9e3779b9;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const set = (count: number): DataSet => {
    const images = new Float32Array(count * sizes.inputNode);
    // About one pixel in five lit, as in MNIST.
    for (let i = 0; i < images.length; i++) images[i] = next() < 0.2 ? next() : 0;
    const labels = Uint8Array.from({ length: count }, () => Math.floor(next() * sizes.outputNode));
    return { images, labels, count, imageSize: sizes.inputNode, numClasses: sizes.outputNode };
  };
  return { train: set(PROBE_IMAGES), validation: set(1), test: set(1), description: 'made-up data of the probe' };
}

/**
 * Times the candidates' training loops, interleaved (round by round, in alternating order) so
 * that a change of the machine's load falls on all of them; the median round of each.
 * Leaves the backend of the last candidate set: the caller sets the one it chooses.
 */
export const measureEngines: EngineProbe = async (candidates, sizes) => {
  const start = performance.now();
  const config = makeConfig({ ...sizes, trainingSteps: 1_000_000 });
  const data = probeData(sizes);
  const setup = { data, config, decaySteps: decayStepsFor(config, data.train.count), divergenceThreshold: Infinity };
  const engines: StepEngine[] = [];
  try {
    const setBackend = async (backend: string) => {
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend("${backend}") failed`);
    };
    for (const candidate of candidates) {
      await setBackend(candidate.backend);
      engines.push(createEngine(setup, { workers: candidate.workers }));
    }
    const run = async (index: number, steps: number) => {
      await setBackend(candidates[index].backend);
      return timeSteps(engines[index], steps, config.recordEvery);
    };
    for (let i = 0; i < candidates.length; i++) await run(i, WARM_UP_STEPS);
    const times: number[][] = candidates.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const order = candidates.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) times[i].push(await run(i, STEPS_PER_ROUND));
    }
    return {
      figures: candidates.map((c, i) => ({ ...c, msPerStep: median(times[i]) })),
      probeMs: performance.now() - start,
    };
  } finally {
    for (const engine of engines) engine.dispose();
  }
};

/** What a cached probe is valid for: the machine, Node, the package and its engine code, and the sizes. */
export interface ProbeKey {
  cpu: string;
  cores: number;
  /** Node's version, with Deno's when Deno runs the code (its worker threads start differently). */
  node: string;
  package: string;
  /** A hash of the compiled engine and step code: a faster step is measured again. */
  code: string;
  sizes: ProbeSizes;
  candidates: EngineCandidate[];
}

/** The cache file's content. */
export interface CachedProbe {
  key: ProbeKey;
  measurement: ProbeMeasurement;
  /** When it was measured (ISO date). */
  date: string;
}

/** Where probes are cached: `$XDG_CACHE_HOME/mnist-tfjs-tutorial` (default `~/.cache/...`). */
export function defaultProbeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(base, 'mnist-tfjs-tutorial');
}

export const PROBE_FILE = 'engine-probe.json';

/** The package root's `package.json` version and a hash of the compiled `engine/` and `core/` code. */
function codeIdentity(): { version: string; code: string } {
  const root = packageRoot();
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // An unreadable package.json only makes the key less specific.
  }
  const hash = createHash('sha256');
  for (const folder of ['engine', 'core']) {
    const dir = resolve(__dirname, '..', folder);
    for (const name of readdirSync(dir)
      .filter((n) => n.endsWith('.js'))
      .sort()) {
      hash.update(name);
      hash.update(readFileSync(join(dir, name)));
    }
  }
  return { version, code: hash.digest('hex').slice(0, 16) };
}

/** `v20.19.0`, or `v22.x (deno 2.9.8)` under Deno. */
function runtimeVersion(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno;
  return deno === undefined ? process.version : `${process.version} (deno ${deno})`;
}

export function probeKey(sizes: ProbeSizes, candidates: readonly EngineCandidate[]): ProbeKey {
  const { version, code } = codeIdentity();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    node: runtimeVersion(),
    package: version,
    code,
    sizes: {
      inputNode: sizes.inputNode,
      layer1Node: sizes.layer1Node,
      outputNode: sizes.outputNode,
      batchSize: sizes.batchSize,
    },
    candidates: candidates.map((c) => ({ backend: c.backend, workers: c.workers })),
  };
}

/** The cached probe for `key` in `dir`, or null (none, another key, or unreadable: measured again). */
export function readCachedProbe(dir: string, key: ProbeKey): CachedProbe | null {
  try {
    const cached = JSON.parse(readFileSync(join(dir, PROBE_FILE), 'utf8')) as CachedProbe;
    if (JSON.stringify(cached.key) !== JSON.stringify(key)) return null;
    if (!Array.isArray(cached.measurement?.figures) || cached.measurement.figures.length !== key.candidates.length)
      return null;
    return cached;
  } catch {
    return null;
  }
}

/** What writing the cache gave: the file written, or why it could not be (the first line of the error). */
export type CacheWrite = { file: string; error: null } | { file: null; error: string };

/** Writes the probe (through a temporary file, so a reader never sees half of it); a failure only loses the cache. */
export function writeCachedProbe(dir: string, probe: CachedProbe): CacheWrite {
  const file = join(dir, PROBE_FILE);
  try {
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(probe, null, 2)}\n`);
    renameSync(temporary, file);
    return { file, error: null };
  } catch (error) {
    return { file: null, error: firstLine(error) };
  }
}
