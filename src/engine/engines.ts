/**
 * Which engine runs a trainer's steps: the hidden layer split across worker threads, the
 * tutorial's graph in a native TensorFlow session, or TensorFlow.js ops on this thread.
 */
import type { Gradients } from '../core/loss';
import { manualGradients } from '../core/loss';
import type { Params } from '../core/model';
import type { TrainingConfig } from '../core/config';
import type * as tf from '@tensorflow/tfjs';
import { NativeGraphError } from './graph-def';
import { GraphEngine } from './graph-engine';
import { LocalEngine } from './local-engine';
import { SplitEngine } from './split-engine';
import type { EngineSetup, StepEngine } from './step-engine';

/**
 * How native TensorFlow runs the hand-derived step: `graph`, the tutorial's graph, one session run
 * per step (the default: 1.5-2x faster); `ops`, TensorFlow.js ops one by one.
 */
export type NativeStep = 'graph' | 'ops';

export const NATIVE_STEPS: readonly NativeStep[] = ['graph', 'ops'];

/** What picks an engine besides the setup. */
export interface EngineChoice {
  /** Threads to split the step across (1: this thread). */
  workers: number;
  /** The gradients of the step on this thread (default: the hand-derived ones). */
  gradients?: (params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D) => Gradients;
  nativeStep?: NativeStep;
}

/**
 * The engine for `setup`: split across `workers` threads when more than one; else the native
 * graph when the backend is native TensorFlow, the gradients are the hand-derived ones and the
 * network has two layers; else TensorFlow.js ops on this thread.
 */
export function createEngine(setup: EngineSetup, choice: EngineChoice): StepEngine {
  const gradients = choice.gradients ?? manualGradients;
  if (choice.workers > 1) return new SplitEngine(setup, choice.workers);
  if (
    (choice.nativeStep ?? 'graph') === 'graph' &&
    gradients === manualGradients &&
    GraphEngine.supports(setup.config)
  ) {
    try {
      return new GraphEngine(setup);
    } catch (error) {
      if (!(error instanceof NativeGraphError)) throw error;
      // The same results, op by op (1.5-2x slower): say why rather than fail the run.
      process.stderr.write(`native graph step unavailable (${error.message}); running TensorFlow.js ops\n`);
    }
  }
  return new LocalEngine(setup, gradients);
}
