/**
 * What happens in a training run, as data: `Trainer.run` (and the code that reuses or resumes saved runs) reports
 * events through `onEvent`, and where the run is through `onProgress`; `renderEvent` (messages.ts) turns an event
 * into the lines a log shows.
 */
import type { Evaluation, History } from '../core/history';

export type RunEvent =
  /** An evaluation: at step 0, every `evalEvery` steps and at the end. */
  | { kind: 'evaluation'; evaluation: Evaluation }
  /** The run reached its last step; the accuracies are those of its last evaluation. */
  | { kind: 'completed'; step: number; validationAccuracy: number; testAccuracy: number }
  /** Stopped before its last step by a signal (`interrupted`: by SIGINT); the history so far is kept. */
  | { kind: 'stopped'; step: number; of: number; interrupted: boolean }
  /** Ended by an error at `step` (`diverged`: the loss blew up). */
  | { kind: 'failed'; step: number; message: string; diverged: boolean }
  /** A completed saved run was used instead of training (`path`: its folder; `steps`: its length). */
  | { kind: 'reused'; path: string; steps: number }
  /** An unfinished saved run continues from `step` of `of` (`path`: where its checkpoint was). */
  | { kind: 'resumed'; path: string; step: number; of: number };

/** The kinds of `RunEvent`. */
export type RunEventKind = RunEvent['kind'];

/** Where a training run is, passed to `RunOptions.onProgress` after each step. */
export interface Progress {
  step: number;
  totalSteps: number;
  learningRate: number;
  crossEntropy: number;
  /** Training speed over the current run so far. */
  stepsPerSecond: number;
  secondsLeft: number;
  latestEvaluation: Evaluation | null;
  /** The history so far (the live object: read it, do not keep it). */
  history: History;
}
