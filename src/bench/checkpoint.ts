/**
 * What the default checkpoints cost: the time to take a trainer's state and write it as a
 * checkpoint (encode, write, flush, rename), against the training time between two checkpoints.
 * Measured at the start of a run and at the end of the tutorial's 30,000 steps, when the history
 * in the checkpoint is largest.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, DEFAULT_CHECKPOINT_EVERY, saveCheckpoint } from '../store/checkpoint';
import type { MnistData } from '../data/mnist';
import type { History } from '../core/history';
import { Trainer } from '../train/trainer';
import { median } from './median';

export interface CheckpointCost {
  mode: 'checkpoint';
  backend: string;
  checkpointEvery: number;
  /** Median ms to take the state and write a checkpoint: early in a run, and at step 30,000. */
  checkpointMsStart: number;
  checkpointMsEnd: number;
  /** Size of the checkpoint at step 30,000. */
  checkpointBytesEnd: number;
  /** Median ms of a training step (records included every `recordEvery` steps). */
  msPerStep: number;
  /** Time spent on checkpoints as a share of training time, at the end of the run (the worst case). */
  costPercent: number;
}

/**
 * The history of the tutorial's full run as it stands at its last checkpoint (3,000 recorded steps, 31 evaluations).
 */
function fullHistory(history: History, steps: number): History {
  const { recordEvery, evalEvery } = history.config;
  const record = history.steps[0];
  const evaluation = history.evaluations[0];
  return {
    ...history,
    steps: Array.from({ length: steps / recordEvery }, (_, i) => ({
      ...record,
      step: i * recordEvery,
      crossEntropy: record.crossEntropy + i * 1e-7,
    })),
    evaluations: Array.from({ length: steps / evalEvery + 1 }, (_, i) => ({
      ...evaluation,
      step: i * evalEvery,
      elapsedSeconds: i * 10.123,
    })),
  };
}

export async function benchCheckpoint(
  data: MnistData,
  backend: string,
  checkpointEvery = DEFAULT_CHECKPOINT_EVERY,
  rounds = 9,
): Promise<CheckpointCost> {
  const trainer = new Trainer(data, { backend });
  const dir = await mkdtemp(join(tmpdir(), 'mnist-bench-checkpoint-'));
  try {
    await trainer.run({ signal: AbortSignal.abort() });
    // Step time over a stretch that includes recorded steps, as in a run.
    const stepsPerRound = 2 * trainer.config.recordEvery;
    const stepMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      for (let i = 0; i < stepsPerRound; i++)
        trainer.history.steps.push(
          trainer.step(trainer.globalStep % trainer.config.recordEvery === 0) ?? trainer.history.steps[0],
        );
      stepMs.push((performance.now() - start) / stepsPerRound);
    }
    const time = async (history?: History) => {
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const start = performance.now();
        const state = trainer.state();
        await saveCheckpoint(dir, history === undefined ? state : { ...state, history });
        times.push(performance.now() - start);
      }
      return median(times);
    };
    const checkpointMsStart = await time();
    const checkpointMsEnd = await time(fullHistory(trainer.history, trainer.config.trainingSteps));
    const msPerStep = median(stepMs);
    return {
      mode: 'checkpoint',
      backend,
      checkpointEvery,
      checkpointMsStart,
      checkpointMsEnd,
      checkpointBytesEnd: (await stat(join(dir, CHECKPOINT_FILE))).size,
      msPerStep,
      costPercent: (100 * checkpointMsEnd) / (checkpointEvery * msPerStep),
    };
  } finally {
    trainer.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
