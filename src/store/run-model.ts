/**
 * A saved run's network rebuilt for prediction: its parameters and moving averages as
 * variables, checked against the run's configuration.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { loadWeights } from './checkpoint';
import { makeConfig, type TrainingConfig } from '../core/config';
import { disposeParams, paramShapes, paramValuesProblem, type ParamName, type Params } from '../core/model';
import { defaultRunsDir, loadRun, readConsistently, RunError, unchanged, type SavedRun } from './runs';

/** A saved run's network, ready for prediction. Its tensors are the caller's: call `dispose`. */
export interface RunModel {
  name: string;
  config: TrainingConfig;
  /** The trained parameters. */
  params: Params;
  /** Their moving averages, when the run used them. */
  averaged: Params | null;
  /** What the run was evaluated with: the moving averages when used, else the parameters. */
  evaluated: Params;
  dispose(): void;
}

function buildParams(values: Partial<Record<ParamName, Float32Array>>, config: TrainingConfig, where: string): Params {
  const shapes = paramShapes(config);
  const problem = paramValuesProblem(values, shapes);
  if (problem !== null) throw new RunError(where, problem);
  const variable = (name: ParamName) => {
    const shape = shapes[name];
    return shape === undefined ? null : tf.tidy(() => tf.variable(tf.tensor(values[name]!, shape), false));
  };
  return {
    weights1: variable('weights1')!,
    biases1: variable('biases1')!,
    weights2: variable('weights2'),
    biases2: variable('biases2'),
  };
}

/** Builds a saved run's parameters (and moving averages) as variables; dispose them when done. */
export async function loadRunModel(run: SavedRun | string, runsDir = defaultRunsDir()): Promise<RunModel> {
  const given = typeof run === 'string' ? await loadRun(run, runsDir) : run;
  // The weights must be those of the run described (a concurrent writer may replace it meanwhile).
  const {
    params: paramValues,
    averages,
    ...saved
  } = await readConsistently(given.dir, async () => {
    const current = typeof run === 'string' ? await loadRun(run, runsDir) : given;
    return { ...current, ...(await loadWeights(current.dir)) };
  });
  if (!(await unchanged(saved.dir, saved.meta)))
    throw new RunError(saved.dir, 'the run was replaced while its weights were read; load it again');
  const config = makeConfig(saved.meta.config);
  const weightsFile = join(saved.dir, 'weights.json');
  const params = buildParams(paramValues, config, `${weightsFile} (parameters)`);
  let averaged: Params | null = null;
  if (config.useMovingAverage && Object.keys(averages).length > 0) {
    try {
      averaged = buildParams(averages, config, `${weightsFile} (moving averages)`);
    } catch (error) {
      disposeParams(params);
      throw error;
    }
  }
  let disposed = false;
  return {
    name: saved.name,
    config,
    params,
    averaged,
    evaluated: averaged ?? params,
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeParams(params);
      if (averaged !== null) disposeParams(averaged);
    },
  };
}
