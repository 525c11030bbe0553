/**
 * Checkpoints and weight files.
 *
 * A checkpoint is one file (`checkpoint.ckpt`), written atomically: a magic line, the length of
 * a JSON header, the header (config, global step, data order, history, weight specs), the
 * weights in TensorFlow.js's binary weight format (`tf.io.encodeWeights`), and the SHA-256 of
 * all that, so that a corrupt or truncated file is recognised instead of resumed from.
 * Final weights are written as TensorFlow.js's weight manifest (`weights.json`) plus
 * `weights.bin`, which `tf.io.loadWeights` reads.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SamplerState } from '../data/mnist';
import type { History } from '../core/history';
import { writeFileAtomic } from '../util/io';
import type { TrainingConfig } from '../core/config';
import { PARAM_NAMES, paramShapes, type ParamName } from '../core/model';
import type { TrainerState } from '../engine/step-engine';
import { sha256 } from '../util/bytes';
import { firstLine } from '../util/text';

export const CHECKPOINT_FILE = 'checkpoint.ckpt';
/**
 * Steps between the checkpoints that CLI runs and saved runs keep by default. A checkpoint of the
 * tutorial's network (parameters, averages and history, about 3.5 MB) takes tens of ms to encode
 * and write, a step about 10 ms on wasm: every 1,000 steps it costs well under 1 % of training
 * time (`npm run bench -- --checkpoint` measures it), and a killed run loses at most 1,000 steps.
 */
export const DEFAULT_CHECKPOINT_EVERY = 1000;
const MAGIC_PREFIX = 'MNIST-TFJS-CHECKPOINT ';
const MAGIC = `${MAGIC_PREFIX}2\n`;
const CHECKSUM_BYTES = 32;

/** A checkpoint or weight file could not be read. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}; resume from another checkpoint or start a fresh run`);
    this.name = 'CheckpointError';
  }
}

interface CheckpointHeader {
  config: TrainerState['config'];
  backend: string;
  globalStep: number;
  sampler: SamplerState;
  history: History;
  specs: tf.io.WeightsManifestEntry[];
}

type NamedArrays = Partial<Record<ParamName, Float32Array>>;

/** Encodes named float arrays with `prefix/` names, shaped as the network's parameters when `config` is given. */
function namedTensors(arrays: NamedArrays, prefix: string, config?: TrainingConfig): tf.NamedTensorMap {
  const shapes = config === undefined ? {} : paramShapes(config);
  const map: tf.NamedTensorMap = {};
  for (const [name, values] of Object.entries(arrays) as [ParamName, Float32Array][]) {
    const shape = shapes[name];
    map[`${prefix}/${name}`] =
      shape !== undefined && shape.reduce((a, b) => a * b, 1) === values.length
        ? tf.tensor(values, shape)
        : tf.tensor1d(values);
  }
  return map;
}

async function encode(
  groups: Record<string, NamedArrays>,
  config?: TrainingConfig,
): Promise<{ data: Uint8Array; specs: tf.io.WeightsManifestEntry[] }> {
  const tensors: tf.NamedTensorMap = {};
  for (const [prefix, arrays] of Object.entries(groups)) Object.assign(tensors, namedTensors(arrays, prefix, config));
  try {
    const { data, specs } = await tf.io.encodeWeights(tensors);
    return { data: new Uint8Array(data), specs };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/**
 * What is wrong with weight specs read from a file, or null: float32 `params/` or `averages/` entries of the network.
 */
function specsProblem(specs: unknown): string | null {
  if (!Array.isArray(specs)) return 'the weight specs are not a list';
  const seen = new Set<string>();
  for (const spec of specs as unknown[]) {
    if (!isObject(spec) || typeof spec.name !== 'string') return 'a weight spec has no name';
    const [prefix, name, ...rest] = spec.name.split('/');
    if (
      !['params', 'averages'].includes(prefix) ||
      !(PARAM_NAMES as readonly string[]).includes(name) ||
      rest.length > 0
    )
      return `unknown weight "${spec.name}"`;
    if (seen.has(spec.name)) return `weight "${spec.name}" appears twice`;
    seen.add(spec.name);
    if (spec.dtype !== 'float32') return `weight "${spec.name}" is not float32`;
    if (!Array.isArray(spec.shape) || !spec.shape.every(isCount)) return `weight "${spec.name}" has an invalid shape`;
  }
  return null;
}

/** Bytes the weights of `specs` take (all float32). */
function weightBytes(specs: tf.io.WeightsManifestEntry[]): number {
  return specs.reduce((sum, s) => sum + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Decodes weights after their specs have been checked; errors name `file`. */
function decode(data: Uint8Array, specs: tf.io.WeightsManifestEntry[], file: string): Record<string, NamedArrays> {
  const problem = specsProblem(specs);
  if (problem !== null) throw new CheckpointError(file, `corrupt weight specs: ${problem}`);
  const expected = weightBytes(specs);
  if (data.length !== expected)
    throw new CheckpointError(file, `weights are ${data.length} bytes, expected ${expected}`);
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  let tensors: tf.NamedTensorMap;
  try {
    tensors = tf.io.decodeWeights(buffer, specs);
  } catch (error) {
    throw new CheckpointError(file, `corrupt weights (${firstLine(error)})`);
  }
  const groups: Record<string, NamedArrays> = {};
  for (const [key, tensor] of Object.entries(tensors)) {
    const [prefix, name] = key.split('/') as [string, ParamName];
    (groups[prefix] ??= {})[name] = tensor.dataSync() as Float32Array;
    tensor.dispose();
  }
  return groups;
}

/** What is wrong with a checkpoint header, or null. The config itself is checked when a trainer resumes from it. */
function headerProblem(header: unknown): string | null {
  if (!isObject(header)) return 'not an object';
  if (!isObject(header.config)) return 'no config';
  if (typeof header.backend !== 'string') return 'no backend';
  if (!isCount(header.globalStep)) return 'no global step';
  const sampler = header.sampler;
  if (
    !isObject(sampler) ||
    !isCount(sampler.epochRandomState) ||
    !isCount(sampler.indexInEpoch) ||
    !isCount(sampler.epochsCompleted)
  )
    return 'no data order (sampler state)';
  const history = header.history;
  if (
    !isObject(history) ||
    !Array.isArray(history.evaluations) ||
    !Array.isArray(history.steps) ||
    typeof history.status !== 'string'
  )
    return 'no history';
  return null;
}

/** The bytes of a checkpoint file. */
export async function encodeCheckpoint(state: TrainerState): Promise<Uint8Array> {
  const { data, specs } = await encode({ params: state.params, averages: state.averages }, state.config);
  const header: CheckpointHeader = {
    config: state.config,
    backend: state.backend,
    globalStep: state.globalStep,
    sampler: state.sampler,
    history: state.history,
    specs,
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length);
  const body = Buffer.concat([Buffer.from(MAGIC), length, headerBytes, data]);
  const all = Buffer.concat([body, sha256(body)]);
  // A plain Uint8Array: Buffer's slice() shares memory, unlike Uint8Array's.
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Reads checkpoint bytes; `file` names them in errors. */
export function decodeCheckpoint(bytes: Uint8Array, file: string): TrainerState {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) {
    const firstLine = buffer.subarray(0, 40).toString('latin1').split('\n')[0];
    if (firstLine.startsWith(MAGIC_PREFIX) && buffer.length > firstLine.length) {
      throw new CheckpointError(
        file,
        `checkpoint format version ${JSON.stringify(firstLine.slice(MAGIC_PREFIX.length))} is not supported (this package reads version 2)`,
      );
    }
    throw new CheckpointError(file, 'not a checkpoint of this package');
  }
  const start = MAGIC.length + 4;
  if (buffer.length < start + CHECKSUM_BYTES) throw new CheckpointError(file, 'truncated');
  const body = buffer.subarray(0, buffer.length - CHECKSUM_BYTES);
  if (!sha256(body).equals(buffer.subarray(body.length))) {
    throw new CheckpointError(file, 'corrupt or truncated (checksum mismatch)');
  }
  const length = buffer.readUInt32LE(MAGIC.length);
  if (body.length < start + length) throw new CheckpointError(file, 'truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(body.subarray(start, start + length).toString()) as CheckpointHeader;
  } catch {
    throw new CheckpointError(file, 'corrupt header');
  }
  const problem = headerProblem(header);
  if (problem !== null) throw new CheckpointError(file, `corrupt header: ${problem}`);
  const groups = decode(body.subarray(start + length), header.specs, file);
  return {
    config: header.config,
    backend: header.backend,
    globalStep: header.globalStep,
    sampler: header.sampler,
    history: header.history,
    params: groups.params ?? {},
    averages: groups.averages ?? {},
  };
}

/** Writes `dir/checkpoint.ckpt` atomically: the previous checkpoint stays intact until the new one is complete. */
export async function saveCheckpoint(dir: string, state: TrainerState): Promise<string> {
  const path = join(dir, CHECKPOINT_FILE);
  await writeFileAtomic(path, await encodeCheckpoint(state));
  return path;
}

/** Reads a checkpoint from a file, or from `checkpoint.ckpt` in a folder. */
export async function loadCheckpoint(pathOrDir: string): Promise<TrainerState> {
  const candidates = pathOrDir.endsWith('.ckpt') ? [pathOrDir] : [join(pathOrDir, CHECKPOINT_FILE), pathOrDir];
  for (const path of candidates) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch {
      continue;
    }
    return decodeCheckpoint(bytes, path);
  }
  throw new CheckpointError(pathOrDir, `no checkpoint found (looked for ${candidates[0]})`);
}

export const WEIGHTS_MANIFEST = 'weights.json';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes parameters (and their moving averages) as a TensorFlow.js weight manifest plus binary
 * file, each tensor with its shape when `config` is given. The binary file is written first, the
 * manifest last, and `loadWeights` checks that their sizes agree.
 */
export async function saveWeights(
  dir: string,
  params: NamedArrays,
  averages: NamedArrays,
  config?: TrainingConfig,
): Promise<void> {
  const { data, specs } = await encode({ params, averages }, config);
  const manifest: tf.io.WeightsManifestConfig = [{ paths: [WEIGHTS_FILE], weights: specs }];
  await writeFileAtomic(join(dir, WEIGHTS_FILE), data);
  await writeFileAtomic(join(dir, WEIGHTS_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** Reads weights written by `saveWeights`. */
export async function loadWeights(dir: string): Promise<{ params: NamedArrays; averages: NamedArrays }> {
  const manifestPath = join(dir, WEIGHTS_MANIFEST);
  let manifest: unknown;
  let data: Uint8Array;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    data = await readFile(join(dir, WEIGHTS_FILE));
  } catch (error) {
    throw new CheckpointError(manifestPath, `cannot read the weights (${firstLine(error)})`);
  }
  const group = Array.isArray(manifest) ? (manifest[0] as unknown) : undefined;
  if (!isObject(group) || !Array.isArray(group.weights))
    throw new CheckpointError(manifestPath, 'not a weight manifest written by this package');
  const groups = decode(data, group.weights as tf.io.WeightsManifestEntry[], join(dir, WEIGHTS_FILE));
  return { params: groups.params ?? {}, averages: groups.averages ?? {} };
}
