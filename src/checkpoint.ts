/**
 * Checkpoints and weight files.
 *
 * A checkpoint is one file (`checkpoint.ckpt`), written atomically: a magic line, the length of
 * a JSON header, the header (config, global step, data order, history, weight specs), then the
 * weights in TensorFlow.js's binary weight format (`tf.io.encodeWeights`).
 * Final weights are written as TensorFlow.js's weight manifest (`weights.json`) plus
 * `weights.bin`, which `tf.io.loadWeights` reads.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SamplerState } from './data/mnist';
import type { History } from './history';
import { writeFileAtomic } from './io';
import type { ParamName } from './model';
import type { TrainerState } from './train';

export const CHECKPOINT_FILE = 'checkpoint.ckpt';
const MAGIC = 'MNIST-TFJS-CHECKPOINT 1\n';

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

/** Encodes named float arrays with `prefix/` names. */
function namedTensors(arrays: NamedArrays, prefix: string): tf.NamedTensorMap {
  const map: tf.NamedTensorMap = {};
  for (const [name, values] of Object.entries(arrays)) map[`${prefix}/${name}`] = tf.tensor1d(values!);
  return map;
}

async function encode(groups: Record<string, NamedArrays>): Promise<{ data: Uint8Array; specs: tf.io.WeightsManifestEntry[] }> {
  const tensors: tf.NamedTensorMap = {};
  for (const [prefix, arrays] of Object.entries(groups)) Object.assign(tensors, namedTensors(arrays, prefix));
  try {
    const { data, specs } = await tf.io.encodeWeights(tensors);
    return { data: new Uint8Array(data), specs };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

function decode(data: Uint8Array, specs: tf.io.WeightsManifestEntry[]): Record<string, NamedArrays> {
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const tensors = tf.io.decodeWeights(buffer, specs);
  const groups: Record<string, NamedArrays> = {};
  for (const [key, tensor] of Object.entries(tensors)) {
    const [prefix, name] = key.split('/') as [string, ParamName];
    (groups[prefix] ??= {})[name] = tensor.dataSync() as Float32Array;
    tensor.dispose();
  }
  return groups;
}

/** The bytes of a checkpoint file. */
export async function encodeCheckpoint(state: TrainerState): Promise<Uint8Array> {
  const { data, specs } = await encode({ params: state.params, averages: state.averages });
  const header: CheckpointHeader = { config: state.config, backend: state.backend, globalStep: state.globalStep, sampler: state.sampler, history: state.history, specs };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length);
  return Buffer.concat([Buffer.from(MAGIC), length, headerBytes, data]);
}

/** Reads checkpoint bytes; `file` names them in errors. */
export function decodeCheckpoint(bytes: Uint8Array, file: string): TrainerState {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.subarray(0, MAGIC.length).toString() !== MAGIC) throw new CheckpointError(file, 'not a checkpoint of this package');
  const start = MAGIC.length + 4;
  if (buffer.length < start) throw new CheckpointError(file, 'truncated header');
  const length = buffer.readUInt32LE(MAGIC.length);
  if (buffer.length < start + length) throw new CheckpointError(file, 'truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buffer.subarray(start, start + length).toString()) as CheckpointHeader;
  } catch {
    throw new CheckpointError(file, 'corrupt header');
  }
  const weights = buffer.subarray(start + length);
  const expected = header.specs.reduce((sum, s) => sum + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (weights.length !== expected) throw new CheckpointError(file, `weights are ${weights.length} bytes, expected ${expected}`);
  const groups = decode(weights, header.specs);
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

/** Writes parameters (and their moving averages) as a TensorFlow.js weight manifest plus binary file. */
export async function saveWeights(dir: string, params: NamedArrays, averages: NamedArrays): Promise<void> {
  const { data, specs } = await encode({ params, averages });
  const manifest: tf.io.WeightsManifestConfig = [{ paths: [WEIGHTS_FILE], weights: specs }];
  await writeFileAtomic(join(dir, WEIGHTS_FILE), data);
  await writeFileAtomic(join(dir, WEIGHTS_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** Reads weights written by `saveWeights`. */
export async function loadWeights(dir: string): Promise<{ params: NamedArrays; averages: NamedArrays }> {
  const manifestPath = join(dir, WEIGHTS_MANIFEST);
  let manifest: tf.io.WeightsManifestConfig;
  let data: Uint8Array;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as tf.io.WeightsManifestConfig;
    data = await readFile(join(dir, WEIGHTS_FILE));
  } catch (error) {
    throw new CheckpointError(manifestPath, `cannot read the weights (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const groups = decode(data, manifest[0].weights);
  return { params: groups.params ?? {}, averages: groups.averages ?? {} };
}
