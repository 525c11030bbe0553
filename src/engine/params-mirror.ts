/**
 * Variables of this thread that copy the parameters of an engine that keeps them elsewhere (in
 * worker threads, or in a native TensorFlow session): what `StepEngine.params` and `average` give
 * for those engines, refreshed from the engine's state on each access.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from '../core/config';
import { createParams, disposeParams, ExponentialMovingAverage, paramList, type Params } from '../core/model';
import type { EngineState } from './step-engine';

export interface Mirrored {
  params: Params;
  average: ExponentialMovingAverage | null;
}

export class ParamsMirror {
  private mirror: Mirrored | null = null;

  constructor(private readonly config: TrainingConfig) {}

  /** The copies, set to `state`'s parameters and averages (made on the first call). */
  update(state: Pick<EngineState, 'params' | 'averages'>): Mirrored {
    if (this.mirror === null) {
      const params = createParams(this.config);
      const average = this.config.useMovingAverage
        ? new ExponentialMovingAverage(
            this.config.movingAverageDecay,
            paramList(params).map(([, v]) => v),
          )
        : null;
      this.mirror = { params, average };
    }
    const { params, average } = this.mirror;
    for (const [name, v] of paramList(params)) tf.tidy(() => v.assign(tf.tensor(state.params[name]!, v.shape)));
    average?.restore(new Map(paramList(params).map(([name, v]) => [v, state.averages[name]!])));
    return this.mirror;
  }

  dispose(): void {
    if (this.mirror === null) return;
    this.mirror.average?.dispose();
    disposeParams(this.mirror.params);
    this.mirror = null;
  }
}
