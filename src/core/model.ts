/**
 * The network: its parameters, the tutorial's `inference` forward pass, and the exponential
 * moving average of the parameters used for evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, TrainingConfig } from './config';

/**
 * The trainable parameters. With a hidden layer: `weights1` [input, hidden], `biases1` [hidden],
 * `weights2` [hidden, output], `biases2` [output]. Without one (`layer1Node` 0, a linear model):
 * `weights1` [input, output], `biases1` [output], and no second layer.
 */
export interface Params {
  weights1: tf.Variable;
  biases1: tf.Variable;
  weights2: tf.Variable | null;
  biases2: tf.Variable | null;
}

/** The name of one of the four parameter tensors. */
export type ParamName = keyof Params;
/** The parameters in the tutorial's order; also the order of saved weights and checkpoints. */
export const PARAM_NAMES: readonly ParamName[] = ['weights1', 'biases1', 'weights2', 'biases2'];

/** The parameters that exist (the linear model has no second layer). */
export function paramList(params: Params): [ParamName, tf.Variable][] {
  return PARAM_NAMES.flatMap((name) => {
    const v = params[name];
    return v === null ? [] : [[name, v] as [ParamName, tf.Variable]];
  });
}

/** Names of weight matrices, the only parameters that the L2 term covers. */
export function isWeight(name: ParamName): boolean {
  return name === 'weights1' || name === 'weights2';
}

/** The shape of each parameter under `config` (the linear model has no second layer). */
export function paramShapes(config: TrainingConfig): Partial<Record<ParamName, number[]>> {
  if (config.layer1Node === 0) return { weights1: [config.inputNode, config.outputNode], biases1: [config.outputNode] };
  return {
    weights1: [config.inputNode, config.layer1Node],
    biases1: [config.layer1Node],
    weights2: [config.layer1Node, config.outputNode],
    biases2: [config.outputNode],
  };
}

/**
 * Why saved values do not fit parameters of these shapes (a parameter missing, or with the wrong
 * number of values), or null when they fit: checked before saved weights or a checkpoint become
 * parameters.
 */
export function paramValuesProblem(
  values: Partial<Record<ParamName, Float32Array>>,
  shapes: Partial<Record<ParamName, readonly number[]>>,
): string | null {
  for (const name of PARAM_NAMES) {
    const shape = shapes[name];
    if (shape === undefined) continue;
    const value = values[name];
    const size = shape.reduce((a, b) => a * b, 1);
    if (value === undefined || value.length !== size)
      return `"${name}" is ${value === undefined ? 'missing' : `${value.length} values, expected ${size}`}`;
  }
  return null;
}

/**
 * Fresh parameters as in the tutorial: weights from a truncated normal (stddev `initStddev`,
 * values beyond two standard deviations drawn again), biases filled with `initBias`.
 */
export function createParams(config: TrainingConfig, seed = config.seed): Params {
  const hidden = config.layer1Node;
  // Variables keep tfjs's generated names: names must be unique per process, and a notebook
  // builds many models.
  const weights = (rows: number, cols: number, offset: number) =>
    tf.tidy(() => tf.variable(tf.truncatedNormal([rows, cols], 0, config.initStddev, 'float32', seed * 2 + offset)));
  const biases = (size: number) => tf.tidy(() => tf.variable(tf.fill([size], config.initBias)));
  if (hidden === 0) {
    return {
      weights1: weights(config.inputNode, config.outputNode, 0),
      biases1: biases(config.outputNode),
      weights2: null,
      biases2: null,
    };
  }
  return {
    weights1: weights(config.inputNode, hidden, 0),
    biases1: biases(hidden),
    weights2: weights(hidden, config.outputNode, 1),
    biases2: biases(config.outputNode),
  };
}

/** Parameter values as plain arrays, e.g. to save them. */
export function paramValues(params: Params): Partial<Record<ParamName, Float32Array>> {
  return Object.fromEntries(paramList(params).map(([name, v]) => [name, v.dataSync() as Float32Array]));
}

/** Releases every tensor of `params`. */
export function disposeParams(params: Params): void {
  for (const [, v] of paramList(params)) v.dispose();
}

/**
 * What `inference` needs of TensorFlow's `ExponentialMovingAverage`: the averaged value of a
 * variable (`avg_class.average(var)`).
 */
export interface AverageClass {
  average(variable: tf.Variable): tf.Tensor;
}

/**
 * The forward pass of the tutorial:
 * `inference(input_tensor, avg_class, weights1, biases1, weights2, biases2)`.
 * Hidden layer `relu(x W1 + b1)`, output `h W2 + b2` (logits, no softmax). With `avgClass`,
 * every parameter is replaced by its moving average; with `null`, the live parameters are used.
 * `weights2`/`biases2` null makes it a linear model; `activation` 'linear' drops the ReLU.
 */
export function inference(
  input: tf.Tensor2D,
  avgClass: AverageClass | null,
  weights1: tf.Variable,
  biases1: tf.Variable,
  weights2: tf.Variable | null,
  biases2: tf.Variable | null,
  activation: Activation = 'relu',
): tf.Tensor2D {
  return tf.tidy(() => {
    const value = (v: tf.Variable) => (avgClass === null ? v : avgClass.average(v));
    if (weights2 === null || biases2 === null) return dense(input, value(weights1), value(biases1));
    const { hidden } = hiddenForward(input, value(weights1), value(biases1), activation);
    return dense(hidden, value(weights2), value(biases2));
  });
}

/** A dense layer before its activation: `x W + b`. */
export function dense(input: tf.Tensor2D, weights: tf.Tensor, biases: tf.Tensor): tf.Tensor2D {
  return tf.add(tf.matMul(input, weights), biases) as tf.Tensor2D;
}

/** The hidden layer's values that its backward pass needs: `z1 = x W1 + b1` and the activation of it. */
export interface HiddenForward {
  z1: tf.Tensor2D;
  /** `relu(z1)`, or `z1` itself for the linear activation. */
  hidden: tf.Tensor2D;
}

/**
 * The hidden layer's forward pass for the units whose columns `weights1` and `biases1` hold: all of
 * them (one thread), or one worker's block of them (the split step). Call inside `tf.tidy`.
 */
export function hiddenForward(
  input: tf.Tensor2D,
  weights1: tf.Tensor,
  biases1: tf.Tensor,
  activation: Activation,
): HiddenForward {
  const z1 = dense(input, weights1, biases1);
  return { z1, hidden: activation === 'relu' ? tf.relu(z1) : z1 };
}

/** `inference` over a `Params` object. */
export function forward(
  input: tf.Tensor2D,
  params: Params,
  avgClass: AverageClass | null,
  activation: Activation = 'relu',
): tf.Tensor2D {
  return inference(input, avgClass, params.weights1, params.biases1, params.weights2, params.biases2, activation);
}

/** The decay used at `numUpdates`: `min(decay, (1 + n) / (10 + n))`, which lets the average follow quickly early on. */
export function movingAverageDecayAt(decay: number, numUpdates: number): number {
  return Math.min(decay, (1 + numUpdates) / (10 + numUpdates));
}

/**
 * TensorFlow's `ExponentialMovingAverage(decay, num_updates)`: a shadow copy of each variable,
 * starting at its current value, updated by `shadow = d * shadow + (1 - d) * variable` with
 * `d = movingAverageDecayAt(decay, numUpdates)`.
 */
export class ExponentialMovingAverage implements AverageClass {
  private readonly shadows = new Map<tf.Variable, tf.Variable>();

  constructor(
    readonly decay: number,
    variables: tf.Variable[],
  ) {
    for (const v of variables)
      this.shadows.set(
        v,
        tf.tidy(() => tf.variable(v.clone(), false, `${v.name}/ExponentialMovingAverage`)),
      );
  }

  average(variable: tf.Variable): tf.Variable {
    const shadow = this.shadows.get(variable);
    if (shadow === undefined) throw new Error(`no moving average for variable "${variable.name}"`);
    return shadow;
  }

  /** `variables_averages_op`: one update of every shadow, at `numUpdates` (the global step). */
  apply(numUpdates: number): void {
    const d = movingAverageDecayAt(this.decay, numUpdates);
    tf.tidy(() => {
      for (const [v, shadow] of this.shadows) {
        // d * shadow + (1 - d) * v, written as shadow + (1 - d) * (v - shadow): three passes.
        shadow.assign(tf.add(shadow, tf.mul(tf.sub(v, shadow), 1 - d)));
      }
    });
  }

  /** Sets every shadow from stored values (resuming a run). */
  restore(values: Map<tf.Variable, Float32Array>): void {
    for (const [v, shadow] of this.shadows) {
      const value = values.get(v);
      if (value === undefined) throw new Error(`no stored moving average for variable "${v.name}"`);
      tf.tidy(() => shadow.assign(tf.tensor(value, shadow.shape)));
    }
  }

  variables(): [tf.Variable, tf.Variable][] {
    return [...this.shadows];
  }

  dispose(): void {
    for (const shadow of this.shadows.values()) shadow.dispose();
    this.shadows.clear();
  }
}
