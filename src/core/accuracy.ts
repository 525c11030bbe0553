/**
 * A network over a whole data set, in chunks of rows, and the share of rows it classifies right:
 * what the engines' evaluations, `predict` and the ablation's checks share. One tensor of every
 * row would hold the whole set twice (pixels and hidden layer); chunks bound that.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Rows per chunk. On wasm, no size from 1,000 to 10,000 rows was faster over the 10,000 test
 * images of the 784-500-10 network (0.4-0.7 s each, within the noise of a busy machine); 5,000
 * bounds a chunk to 16 MB of pixels and 10 MB of hidden layer.
 */
export const EVAL_CHUNK = 5000;

/**
 * Rows per chunk on native TensorFlow. Over the 15,000 validation and test images: with the
 * machine busy, chunks of 1,000 or 2,000 rows took 140-160 ms where 5,000 took 265-375 ms (the
 * smaller chunk's pixels and hidden layer stay in the processor's caches); with it nearly idle,
 * 2,000 took 135-170 ms and 5,000 130-155 ms (the product is 12 GFLOP, near the arithmetic's
 * limit either way). On wasm, 1,000 rows were slower than 5,000.
 */
export const NATIVE_EVAL_CHUNK = 2000;

/** Rows per chunk on `backend` (the current one by default): `NATIVE_EVAL_CHUNK` on native, else `EVAL_CHUNK`. */
export function evalChunk(backend: string = tf.getBackend()): number {
  return backend === 'tensorflow' ? NATIVE_EVAL_CHUNK : EVAL_CHUNK;
}

/** Rows of images: a `DataSet`, or a flat array with its row count and row size. */
export interface ImageRows {
  images: Float32Array;
  count: number;
  imageSize: number;
}

/** Rows of images with their class labels (a `DataSet` is one). */
export interface LabelledRows extends ImageRows {
  labels: ArrayLike<number>;
}

/** The logits of a chunk of images (a tensor the caller's `tf.tidy` releases). */
export type LogitsOf = (input: tf.Tensor2D) => tf.Tensor2D;

function checkChunk(chunk: number): void {
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new RangeError(`chunk must be a whole number of rows >= 1, got ${chunk}`);
}

function rowsTensor(rows: ImageRows, start: number, end: number): tf.Tensor2D {
  const size = rows.imageSize;
  return tf.tensor2d(rows.images.subarray(start * size, end * size), [end - start, size]);
}

/**
 * Calls `visit` with each chunk of rows as a tensor and the index of its first row, one chunk at a
 * time, inside `tf.tidy`: the chunk and whatever `visit` computes from it are released after it.
 */
export function forEachChunk(
  rows: ImageRows,
  visit: (input: tf.Tensor2D, start: number) => void,
  chunk = evalChunk(),
): void {
  checkChunk(chunk);
  for (let start = 0; start < rows.count; start += chunk) {
    const end = Math.min(rows.count, start + chunk);
    tf.tidy(() => visit(rowsTensor(rows, start, end), start));
  }
}

/** The chunks as tensors kept for repeated evaluations (during training); the caller disposes them. */
export function imageChunks(rows: ImageRows, chunk = evalChunk()): tf.Tensor2D[] {
  checkChunk(chunk);
  const chunks: tf.Tensor2D[] = [];
  for (let start = 0; start < rows.count; start += chunk)
    chunks.push(rowsTensor(rows, start, Math.min(rows.count, start + chunk)));
  return chunks;
}

/**
 * How many rows of `input` have their highest logit (the first one, as `tf.argMax` takes it) at
 * their label, the labels of the chunk starting at `labels[start]`. Releases its tensors.
 */
export function countCorrect(input: tf.Tensor2D, labels: ArrayLike<number>, start: number, logitsOf: LogitsOf): number {
  // The classes as a tensor, read outside tf.tidy (which walks a returned typed array element by element).
  const classes = tf.tidy(() => tf.argMax(logitsOf(input), 1));
  const predicted = classes.dataSync();
  classes.dispose();
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[start + i]) correct++;
  return correct;
}

/** The fraction of rows classified right over chunks built by `imageChunks` (NaN for no rows). */
export function chunksAccuracy(chunks: readonly tf.Tensor2D[], labels: ArrayLike<number>, logitsOf: LogitsOf): number {
  let correct = 0;
  let start = 0;
  for (const chunk of chunks) {
    correct += countCorrect(chunk, labels, start, logitsOf);
    start += chunk.shape[0];
  }
  return correct / labels.length;
}

/** The fraction of rows of `set` classified right, building one chunk at a time (NaN for no rows). */
export function setAccuracy(set: LabelledRows, logitsOf: LogitsOf, chunk = evalChunk()): number {
  let correct = 0;
  forEachChunk(set, (input, start) => (correct += countCorrect(input, set.labels, start, logitsOf)), chunk);
  return correct / set.count;
}
