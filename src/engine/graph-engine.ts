/**
 * The step on native TensorFlow as the tutorial runs it: its TensorFlow 1 graph (`training-graph`)
 * in a session of native TensorFlow, one session run per step. The variables stay in the session;
 * this thread feeds each batch and its step's rates, and reads back the loss.
 */
import * as tf from '@tensorflow/tfjs';
import { chunksAccuracy, imageChunks } from '../core/accuracy';
import { DivergenceError } from '../core/divergence';
import type { StepRecord } from '../core/history';
import { learningRateAt } from '../core/loss';
import {
  createParams,
  disposeParams,
  ExponentialMovingAverage,
  movingAverageDecayAt,
  paramList,
  paramShapes,
  paramValuesProblem,
  PARAM_NAMES,
  type ParamName,
  type Params,
} from '../core/model';
import type { TrainingConfig } from '../core/config';
import { BatchSampler } from '../data/mnist';
import { NativeSession } from './native-session';
import { ParamsMirror } from './params-mirror';
import {
  advanceStepByStep,
  type AdvanceOptions,
  type EngineSetup,
  type EngineState,
  type StepEngine,
  type TrainerState,
} from './step-engine';
import { buildTrainingGraph, NODE, type GraphVariable } from './training-graph';

type Values = Partial<Record<ParamName, Float32Array>>;

/**
 * The values of `tensors`, which are then released. (Not returned from `tf.tidy`: it walks a
 * returned typed array element by element, 0.4 s for the two copies of `weights1`.)
 */
function readAndDispose(tensors: tf.Tensor[]): ArrayLike<number>[] {
  try {
    return tensors.map((t) => t.dataSync());
  } finally {
    tf.dispose(tensors);
  }
}

/** The step as one run of the tutorial's graph in a native TensorFlow session. */
export class GraphEngine implements StepEngine {
  readonly workers = 1;
  private globalStepValue: number;
  private readonly sampler: BatchSampler;
  private readonly session: NativeSession;
  private readonly variables: GraphVariable[];
  private evalSets: { validation: tf.Tensor2D[]; test: tf.Tensor2D[] } | null = null;
  private readonly mirror: ParamsMirror;

  /** True when this engine can run `config` here: native TensorFlow, and the two-layer network. */
  static supports(config: TrainingConfig): boolean {
    return config.layer1Node > 0 && NativeSession.available();
  }

  constructor(private readonly setup: EngineSetup) {
    const { config, resume } = setup;
    const { graph, variables } = buildTrainingGraph(config, setup.divergenceThreshold);
    this.variables = variables;
    this.mirror = new ParamsMirror(config);
    let params: Values;
    let averages: Values;
    if (resume !== undefined) {
      params = resume.params;
      averages = resume.averages;
      this.check(params, 'params');
      if (config.useMovingAverage) this.check(averages, 'averages');
    } else {
      // The same initial values as the other engines: the seeded truncated normal of `createParams`.
      const initial = createParams(config);
      params = Object.fromEntries(paramList(initial).map(([name, v]) => [name, v.dataSync() as Float32Array]));
      averages = params;
      disposeParams(initial);
    }
    // Everything that can fail on bad input comes before the session, which would otherwise be left open.
    this.globalStepValue = resume?.globalStep ?? 0;
    this.sampler = new BatchSampler(setup.data.train, config.seed, resume?.sampler);
    this.session = NativeSession.open(graph);
    try {
      this.assign(params, averages);
    } catch (error) {
      this.session.dispose();
      throw error;
    }
  }

  private check(values: Values, what: string): void {
    const problem = paramValuesProblem(values, paramShapes(this.setup.config));
    if (problem !== null) throw new Error(`saved ${what}: ${problem}`);
  }

  /** Sets every variable of the session: the parameters, and their moving averages when used. */
  private assign(params: Values, averages: Values): void {
    tf.tidy(() => {
      const feeds = this.variables.map(
        (v) => [v.assign, tf.tensor((v.average ? averages : params)[v.param]!, v.shape)] as const,
      );
      this.session.run(feeds, [NODE.assigned]);
    });
  }

  get globalStep(): number {
    return this.globalStepValue;
  }

  step(recordMetrics: boolean): StepRecord | null {
    const { config, decaySteps, divergenceThreshold } = this.setup;
    const batch = this.sampler.nextBatch(config.batchSize);
    const step = this.globalStepValue;
    const learningRate = learningRateAt(config, step, decaySteps);
    const outputs = tf.tidy(() => {
      const feeds: [string, tf.Tensor][] = [
        [NODE.images, tf.tensor2d(batch.images, [batch.size, config.inputNode])],
        [NODE.labels, tf.tensor1d(batch.labels, 'int32')],
        [NODE.learningRate, tf.scalar(learningRate)],
      ];
      if (config.useMovingAverage)
        feeds.push([NODE.averageWeight, tf.scalar(1 - movingAverageDecayAt(config.movingAverageDecay, step))]);
      const fetches: string[] = [NODE.crossEntropy, NODE.applied];
      if (recordMetrics) fetches.push(NODE.metrics);
      return this.session.run(feeds, fetches);
    });
    const [crossEntropy, applied, metrics] = readAndDispose(outputs);
    if (applied[0] !== 1) throw new DivergenceError(step, learningRate, crossEntropy[0], divergenceThreshold);
    this.globalStepValue++;
    return recordMetrics ? this.stepRecord(step, learningRate, crossEntropy[0], metrics) : null;
  }

  /** A recorded step from the graph's metrics: the L2 term, then each parameter's sum of |gradient|. */
  private stepRecord(step: number, learningRate: number, crossEntropy: number, metrics: ArrayLike<number>): StepRecord {
    const shapes = paramShapes(this.setup.config);
    const meanAbsGradients: StepRecord['meanAbsGradients'] = {};
    let absSum = 0;
    let count = 0;
    PARAM_NAMES.forEach((name, i) => {
      const size = shapes[name]!.reduce((a, b) => a * b, 1);
      meanAbsGradients[name] = metrics[1 + i] / size;
      absSum += metrics[1 + i];
      count += size;
    });
    return {
      step,
      learningRate,
      crossEntropy,
      totalLoss: crossEntropy + metrics[0],
      meanAbsGradient: absSum / count,
      meanAbsGradients,
    };
  }

  advance(until: number, options: AdvanceOptions): Promise<void> {
    return advanceStepByStep(this, until, options);
  }

  accuracy(): { validationAccuracy: number; testAccuracy: number } {
    const { data } = this.setup;
    this.evalSets ??= { validation: imageChunks(data.validation), test: imageChunks(data.test) };
    const logitsOf = (images: tf.Tensor2D) =>
      this.session.run([[NODE.evalImages, images]], [NODE.evalLogits])[0] as tf.Tensor2D;
    return {
      validationAccuracy: chunksAccuracy(this.evalSets.validation, data.validation.labels, logitsOf),
      testAccuracy: chunksAccuracy(this.evalSets.test, data.test.labels, logitsOf),
    };
  }

  state(): EngineState {
    const values = readAndDispose(
      this.session.run(
        [],
        this.variables.map((v) => v.read),
      ),
    ) as Float32Array[];
    const params: TrainerState['params'] = {};
    const averages: TrainerState['averages'] = {};
    this.variables.forEach((v, i) => ((v.average ? averages : params)[v.param] = values[i]));
    return { globalStep: this.globalStepValue, sampler: this.sampler.getState(), params, averages };
  }

  /** The parameters (a copy of the session's, read on each access). */
  get params(): Params {
    return this.mirror.update(this.state()).params;
  }

  /** Their moving averages, when used (read with `params`). */
  get average(): ExponentialMovingAverage | null {
    return this.mirror.update(this.state()).average;
  }

  dispose(): void {
    this.session.dispose();
    if (this.evalSets !== null) {
      tf.dispose([...this.evalSets.validation, ...this.evalSets.test]);
      this.evalSets = null;
    }
    this.mirror.dispose();
  }
}
