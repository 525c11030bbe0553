/**
 * Using a trained network: class probabilities, the confusion matrix, per-class accuracy and the
 * most confident mistakes, as plain arrays. (A picture of a digit made an input: src/digit-image.ts.)
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../core/config';
import { MNIST_SIDE } from './digit-preprocess';
import { forEachChunk } from '../core/accuracy';
import { forward, type Params } from '../core/model';
import type { RunModel } from '../store/run-model';

function isRunModel(model: Params | RunModel): model is RunModel {
  return 'evaluated' in model && 'config' in model;
}

/**
 * Class probabilities (softmax of the logits) of `count` images, one row each, as plain arrays.
 * `model` is a `RunModel` (its evaluated parameters and activation are used) or bare `Params`
 * (e.g. the moving averages) with the hidden layer's `activation`. Releases every tensor.
 */
export function predict(
  model: Params | RunModel,
  images: Float32Array,
  count?: number,
  activation?: Activation,
): number[][] {
  const params = isRunModel(model) ? model.evaluated : model;
  const act = activation ?? (isRunModel(model) ? model.config.activation : 'relu');
  const inputSize = params.weights1.shape[0];
  const n = count ?? Math.floor(images.length / inputSize);
  if (!Number.isInteger(n) || n < 0 || n * inputSize > images.length) {
    throw new Error(`predict: ${n} images of ${inputSize} pixels need ${n * inputSize} values, got ${images.length}`);
  }
  const rows: number[][] = [];
  forEachChunk({ images, count: n, imageSize: inputSize }, (input) => {
    const probabilities = tf.softmax(forward(input, params, null, act));
    const [chunkRows, classes] = probabilities.shape;
    const values = probabilities.dataSync();
    for (let i = 0; i < chunkRows; i++) rows.push(Array.from(values.subarray(i * classes, (i + 1) * classes)));
  });
  return rows;
}

/** The most probable class of each row. */
export function predictedClasses(probabilities: readonly (readonly number[])[]): number[] {
  return probabilities.map((row) => argMax(row));
}

function argMax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Counts of (true class, predicted class): rows are true classes, columns predicted ones. */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses = 10,
): number[][] {
  if (labels.length !== predictions.length)
    throw new Error(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    for (const [what, v] of [
      ['label', t],
      ['prediction', p],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses)
        throw new Error(`confusionMatrix: ${what} ${v} at index ${i} is not a class 0-${numClasses - 1}`);
    }
    matrix[t][p]++;
  }
  return matrix;
}

/** Per true class, the fraction predicted right (diagonal over row total); NaN for a class with no examples. */
export function perClassAccuracy(matrix: readonly (readonly number[])[]): number[] {
  return matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? Number.NaN : row[i] / total;
  });
}

/** Overall accuracy of a confusion matrix. */
export function matrixAccuracy(matrix: readonly (readonly number[])[]): number {
  let right = 0;
  let total = 0;
  matrix.forEach((row, i) =>
    row.forEach((count, j) => {
      total += count;
      if (i === j) right += count;
    }),
  );
  return total === 0 ? Number.NaN : right / total;
}

/** A wrongly classified example and how confident the network was. */
export interface Mistake {
  /** Index of the example. */
  index: number;
  label: number;
  predicted: number;
  /** Probability given to the predicted (wrong) class. */
  confidence: number;
  /** Probability given to the true class. */
  trueProbability: number;
}

/** The `k` wrong predictions made with the highest confidence, most confident first (ties: lower index first). */
export function mostConfidentMistakes(
  labels: ArrayLike<number>,
  probabilities: readonly (readonly number[])[],
  k: number,
): Mistake[] {
  if (labels.length !== probabilities.length)
    throw new Error(`mostConfidentMistakes: ${labels.length} labels but ${probabilities.length} rows of probabilities`);
  const mistakes: Mistake[] = [];
  for (let i = 0; i < labels.length; i++) {
    const row = probabilities[i];
    const predicted = argMax(row);
    if (predicted !== labels[i])
      mistakes.push({
        index: i,
        label: labels[i],
        predicted,
        confidence: row[predicted],
        trueProbability: row[labels[i]] ?? 0,
      });
  }
  mistakes.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return mistakes.slice(0, Math.max(0, k));
}

/** Rows `indices` of a flat image array (`size` values each), packed one after another. */
export function pickImages(
  images: Float32Array,
  indices: readonly number[],
  size = MNIST_SIDE * MNIST_SIDE,
): Float32Array {
  const out = new Float32Array(indices.length * size);
  indices.forEach((index, i) => out.set(images.subarray(index * size, (index + 1) * size), i * size));
  return out;
}
