/** The training step on this thread, with this thread's TensorFlow.js backend. */
import * as tf from '@tensorflow/tfjs';
import { BatchSampler, type Batch, type DataSet } from '../data/mnist';
import { chunksAccuracy, imageChunks } from '../core/accuracy';
import type { StepRecord } from '../core/history';
import { DivergenceError, divergedLoss } from '../core/divergence';
import { l2Regularization, learningRateAt, manualGradients, outputGradientRows, type Gradients } from '../core/loss';
import {
  createParams,
  dense,
  disposeParams,
  ExponentialMovingAverage,
  forward,
  hiddenForward,
  isWeight,
  paramList,
  paramValuesProblem,
  type ParamName,
  type Params,
} from '../core/model';
import type { TrainingConfig } from '../core/config';
import {
  advanceStepByStep,
  type AdvanceOptions,
  type EngineSetup,
  type EngineState,
  type StepEngine,
  type TrainerState,
} from './step-engine';
import { NativeOps } from './native-ops';

/** Rows of a data set as tensors, built once per engine for evaluation. */
interface EvalSet {
  chunks: tf.Tensor2D[];
  labels: Uint8Array;
}

function evalSet(data: DataSet): EvalSet {
  return { chunks: imageChunks(data), labels: data.labels };
}

/** The step on this thread, with this thread's TensorFlow.js backend. */
export class LocalEngine implements StepEngine {
  readonly workers = 1;
  readonly params: Params;
  readonly average: ExponentialMovingAverage | null;
  private globalStepValue: number;
  private readonly sampler: BatchSampler;
  private evalSets: { validation: EvalSet; test: EvalSet } | null = null;

  constructor(
    private readonly setup: EngineSetup,
    private readonly gradients: (
      params: Params,
      config: TrainingConfig,
      images: tf.Tensor2D,
      labels: tf.Tensor1D,
    ) => Gradients = manualGradients,
  ) {
    const { config, resume } = setup;
    this.params = createParams(config);
    if (resume !== undefined) this.restoreParams(resume.params, 'params');
    this.average = config.useMovingAverage
      ? new ExponentialMovingAverage(
          config.movingAverageDecay,
          paramList(this.params).map(([, v]) => v),
        )
      : null;
    if (resume !== undefined && this.average !== null) {
      const values = new Map(paramList(this.params).map(([name, v]) => [v, resume.averages[name]!]));
      this.average.restore(values);
    }
    this.globalStepValue = resume?.globalStep ?? 0;
    this.sampler = new BatchSampler(setup.data.train, config.seed, resume?.sampler);
  }

  private restoreParams(values: Partial<Record<ParamName, Float32Array>>, what: string): void {
    const variables = paramList(this.params);
    const problem = paramValuesProblem(values, Object.fromEntries(variables.map(([name, v]) => [name, v.shape])));
    if (problem !== null) throw new Error(`saved ${what}: ${problem}`);
    for (const [name, v] of variables) tf.tidy(() => v.assign(tf.tensor(values[name]!, v.shape)));
  }

  get globalStep(): number {
    return this.globalStepValue;
  }

  step(recordMetrics: boolean): StepRecord | null {
    const { config, decaySteps, divergenceThreshold } = this.setup;
    const batch: Batch = this.sampler.nextBatch(config.batchSize);
    const step = this.globalStepValue;
    const learningRate = learningRateAt(config, step, decaySteps);
    let crossEntropy = Number.NaN;
    let record: StepRecord | null = null;
    if (this.gradients === manualGradients && this.params.weights2 !== null && this.params.biases2 !== null) {
      ({ crossEntropy, record } = this.handStep(batch, step, learningRate, recordMetrics));
    } else
      tf.tidy(() => {
        const images = tf.tensor2d(batch.images, [batch.size, config.inputNode]);
        const labels = tf.tensor1d(batch.labels, 'int32');
        const gradients = this.gradients(this.params, config, images, labels);
        crossEntropy = gradients.crossEntropy.dataSync()[0];
        if (divergedLoss(crossEntropy, divergenceThreshold)) return;
        if (recordMetrics) record = this.stepRecord(step, learningRate, crossEntropy, gradients.grads);
        for (const [name, v] of paramList(this.params))
          v.assign(tf.sub(v, tf.mul(gradients.grads.get(name)!, learningRate)));
      });
    if (divergedLoss(crossEntropy, divergenceThreshold))
      throw new DivergenceError(step, learningRate, crossEntropy, divergenceThreshold);
    this.average?.apply(step);
    this.globalStepValue++;
    return record;
  }

  /**
   * The hand-derived step of the two-layer network in as few ops as it takes: on native TensorFlow
   * each op dispatched costs 0.01-0.03 ms (idle to busy machine), against about 2 ms of
   * arithmetic in the whole step. So: the output layer's gradient (softmax cross-entropy of
   * 100 x 10 logits, a dozen small ops) computed on this thread from the logits read back, as the
   * split step does, which also gives the loss for the divergence check before any further op;
   * transposed products by matMul's flags on native TensorFlow (explicit transposes on wasm,
   * whose flagged matMul is about ten times slower); the ReLU's gradient in one native op.
   * Not used, measured: tfjs's fused matMul (on native TensorFlow it is the same ops plus three
   * reshapes; on wasm its ReLU turns NaN into 0, hiding NaN input from the divergence check) and
   * the L2 term folded into the update as `W (1 - lr rate) - lr g` (two ops fewer, but its
   * rounding moves the losses of the split-step agreement test beyond its tolerance); one flat
   * buffer for the parameters and one for their averages (0.55 ms fewer in update and average on
   * native, 0.8 ms more to slice it into the layers' tensors and concatenate the gradients); the
   * training images kept as a tensor with the batch gathered by index (slower than uploading it).
   */
  private handStep(
    batch: Batch,
    step: number,
    learningRate: number,
    recordMetrics: boolean,
  ): { crossEntropy: number; record: StepRecord | null } {
    const { config, divergenceThreshold } = this.setup;
    const { weights1, biases1 } = this.params;
    const weights2 = this.params.weights2!;
    const biases2 = this.params.biases2!;
    const rows = batch.size;
    const classes = config.outputNode;
    const native = NativeOps.ofCurrentBackend();
    const relu = config.activation === 'relu';
    let crossEntropy = Number.NaN;
    let record: StepRecord | null = null;
    tf.tidy(() => {
      const images = tf.tensor2d(batch.images, [rows, config.inputNode]);
      const { hidden } = hiddenForward(images, weights1, biases1, config.activation);
      const logits = dense(hidden, weights2, biases2);
      const dLogitValues = new Float32Array(rows * classes);
      const dBiases2 = new Float64Array(classes);
      crossEntropy = outputGradientRows(Float64Array.from(logits.dataSync()), batch.labels, dLogitValues, dBiases2);
      if (divergedLoss(crossEntropy, divergenceThreshold)) return;
      const dLogits = tf.tensor2d(dLogitValues, [rows, classes]);
      const transposedProduct = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D =>
        native !== null ? tf.matMul(a, b, true, false) : tf.matMul(tf.transpose(a), b);
      const gradWeights2 = transposedProduct(hidden, dLogits);
      const dHidden: tf.Tensor2D =
        native !== null ? tf.matMul(dLogits, weights2, false, true) : tf.matMul(dLogits, tf.transpose(weights2));
      const dZ1 = !relu
        ? dHidden
        : native !== null
          ? native.reluGrad(dHidden, hidden)
          : tf.mul<tf.Tensor2D>(dHidden, tf.step(hidden));
      const grads = new Map<ParamName, tf.Tensor>([
        ['weights2', gradWeights2],
        ['biases2', tf.tensor1d(Float32Array.from(dBiases2))],
        ['weights1', transposedProduct(images, dZ1)],
        ['biases1', tf.sum(dZ1, 0)],
      ]);
      // The gradients of the total loss: L2 added to the weights', as the split step does.
      const rate = config.regularizationRate;
      for (const [name, g] of grads)
        if (isWeight(name) && rate !== 0) grads.set(name, tf.add(g, tf.mul(this.params[name]!, rate)));
      if (recordMetrics) record = this.stepRecord(step, learningRate, crossEntropy, grads);
      for (const [name, v] of paramList(this.params)) v.assign(tf.sub(v, tf.mul(grads.get(name)!, learningRate)));
    });
    return { crossEntropy, record };
  }

  advance(until: number, options: AdvanceOptions): Promise<void> {
    return advanceStepByStep(this, until, options);
  }

  private stepRecord(
    step: number,
    learningRate: number,
    crossEntropy: number,
    grads: Map<ParamName, tf.Tensor>,
  ): StepRecord {
    const l2 = l2Regularization(this.params, this.setup.config.regularizationRate).dataSync()[0];
    const meanAbsGradients: StepRecord['meanAbsGradients'] = {};
    let absSum = 0;
    let count = 0;
    for (const [name, g] of grads) {
      const sum = tf.sum(tf.abs(g)).dataSync()[0];
      meanAbsGradients[name] = sum / g.size;
      absSum += sum;
      count += g.size;
    }
    return {
      step,
      learningRate,
      crossEntropy,
      totalLoss: crossEntropy + l2,
      meanAbsGradient: absSum / count,
      meanAbsGradients,
    };
  }

  private setAccuracy(set: EvalSet): number {
    const { config } = this.setup;
    return chunksAccuracy(set.chunks, set.labels, (x) => forward(x, this.params, this.average, config.activation));
  }

  accuracy(): { validationAccuracy: number; testAccuracy: number } {
    this.evalSets ??= { validation: evalSet(this.setup.data.validation), test: evalSet(this.setup.data.test) };
    return {
      validationAccuracy: this.setAccuracy(this.evalSets.validation),
      testAccuracy: this.setAccuracy(this.evalSets.test),
    };
  }

  state(): EngineState {
    const averages: TrainerState['averages'] = {};
    if (this.average !== null) {
      for (const [name, v] of paramList(this.params))
        averages[name] = this.average.average(v).dataSync() as Float32Array;
    }
    const params: TrainerState['params'] = {};
    for (const [name, v] of paramList(this.params)) params[name] = v.dataSync() as Float32Array;
    return { globalStep: this.globalStepValue, sampler: this.sampler.getState(), params, averages };
  }

  dispose(): void {
    this.average?.dispose();
    disposeParams(this.params);
    if (this.evalSets !== null) {
      for (const set of [this.evalSets.validation, this.evalSets.test]) tf.dispose(set.chunks);
      this.evalSets = null;
    }
  }
}
