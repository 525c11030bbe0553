/**
 * Checks a notebook's own version of the tutorial's code against the package: on the batch the
 * next training step takes, with the notebook's current parameters, the averaged forward pass,
 * the total loss, its gradients and one training step of each must agree to float precision.
 * Notebook 01 writes `inference`, the loss and the step itself, then hands the long run to
 * `Trainer`; this is what makes that hand-over honest.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from '../core/config';
import { BatchSampler, type MnistData, type SamplerState } from '../data/mnist';
import { newHistory } from '../core/history';
import { forward, paramList, type AverageClass, type ParamName, type Params } from '../core/model';
import { manualGradients, totalLoss } from '../core/loss';
import { Trainer } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';

/** The tutorial's code as a notebook wrote it. */
export interface TutorialCode {
  /** The notebook's variables (`weights1`, `biases1`, `weights2`, `biases2`). */
  params: Params;
  /** Its moving average (`variable_averages`), with a shadow for every variable in `params`. */
  average: AverageClass;
  /** `global_step`: the training steps done so far. */
  globalStep(): number;
  /** `inference(input_tensor, avg_class, weights1, biases1, weights2, biases2)`. */
  inference(
    input: tf.Tensor2D,
    avgClass: AverageClass | null,
    weights1: tf.Variable,
    biases1: tf.Variable,
    weights2: tf.Variable,
    biases2: tf.Variable,
  ): tf.Tensor2D;
  /** `loss`: mean cross-entropy of the live model plus the L2 term, on one batch. */
  loss(images: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;
  /** `train_op` on one batch: the gradient step, the moving-average update, `global_step` + 1. */
  trainStep(images: tf.Tensor2D, labels: tf.Tensor1D): void;
}

/** The largest absolute difference between the notebook's value of a quantity and the package's. */
export interface Difference {
  quantity: string;
  maxAbsDifference: number;
}

/** Options of `compareWithPackage`: the backend name and the thread count of the package side. */
export interface CompareOptions {
  /** Backend name recorded in the trainer's history (it does not change the numbers). */
  backend?: string;
  /** Threads for the package's step (default: the `Trainer`'s own choice, as in a long run). */
  workers?: number;
}

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join() !== b.shape.join())
    throw new Error(`shapes differ: notebook [${a.shape.join(', ')}], package [${b.shape.join(', ')}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function requireTwoLayers(params: Params): { weights2: tf.Variable; biases2: tf.Variable } {
  const { weights2, biases2 } = params;
  if (weights2 === null || biases2 === null)
    throw new Error('the tutorial check needs the two-layer network: params.weights2 and params.biases2 are null');
  return { weights2, biases2 };
}

/**
 * Compares `code` with the package on the batch that the next training step takes (the
 * sampler at `samplerState`): the averaged logits (`inference` against `forward`), the total
 * loss (against `totalLoss`), the gradients of the notebook's loss by autodiff (against the
 * hand-derived `manualGradients` the trainer uses), then one step of each: a `Trainer` resumed
 * from the notebook's parameters, moving averages and `global_step` takes one step, and so does
 * `code.trainStep`; their parameters and averages after it are compared. This advances the
 * notebook's model by that one step. Every tensor made here is released.
 */
export function compareWithPackage(
  code: TutorialCode,
  data: MnistData,
  config: TrainingConfig,
  samplerState: SamplerState,
  options: CompareOptions = {},
): Difference[] {
  const { weights2, biases2 } = requireTwoLayers(code.params);
  const { weights1, biases1 } = code.params;
  const variables = paramList(code.params);
  const batch = new BatchSampler(data.train, config.seed, samplerState).nextBatch(config.batchSize);
  const images = tf.tensor2d(batch.images, [batch.size, data.train.imageSize]);
  const labels = tf.tensor1d(batch.labels, 'int32');
  const differences: Difference[] = [];
  const note = (quantity: string, notebook: tf.Tensor, pkg: tf.Tensor) =>
    differences.push({ quantity, maxAbsDifference: maxAbsDifference(notebook, pkg) });
  let trainer: Trainer | null = null;
  try {
    tf.tidy(() => {
      note(
        'logits (moving averages)',
        code.inference(images, code.average, weights1, biases1, weights2, biases2),
        forward(images, code.params, code.average, config.activation),
      );
      note('loss', code.loss(images, labels), totalLoss(code.params, config, images, labels));
      const { grads } = tf.variableGrads(
        () => code.loss(images, labels),
        variables.map(([, v]) => v),
      );
      const expected = manualGradients(code.params, config, images, labels).grads;
      for (const [name, v] of variables) note(`gradient of ${name}`, grads[v.name], expected.get(name)!);
    });
    const values = (pick: (v: tf.Variable) => tf.Tensor) =>
      Object.fromEntries(
        variables.map(([name, v]) => [name, tf.tidy(() => pick(v).dataSync() as Float32Array)]),
      ) as Partial<Record<ParamName, Float32Array>>;
    const state: TrainerState = {
      config,
      backend: options.backend ?? tf.getBackend(),
      globalStep: code.globalStep(),
      sampler: samplerState,
      params: values((v) => v),
      averages: values((v) => code.average.average(v)),
      history: newHistory(options.backend ?? tf.getBackend(), config, data.description),
    };
    trainer = new Trainer(data, { resume: state, backend: state.backend, workers: options.workers });
    trainer.step();
    code.trainStep(images, labels);
    const after = new Map(paramList(trainer.params));
    const averages = trainer.average;
    tf.tidy(() => {
      for (const [name, v] of variables) note(`${name} after one step`, v, after.get(name)!);
      if (averages === null) return;
      for (const [name, v] of variables)
        note(`average of ${name} after one step`, code.average.average(v), averages.average(after.get(name)!));
    });
    return differences;
  } finally {
    trainer?.dispose();
    tf.dispose([images, labels]);
  }
}
