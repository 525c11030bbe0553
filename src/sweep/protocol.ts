/** Messages between a sweep's main thread and its workers. */
import type { TrainingConfig } from '../core/config';
import type { Evaluation, History, StepRecord } from '../core/history';
import type { SavedRun } from '../store/runs';
import type { Progress } from '../train/trainer';
import type { SharedMnist } from '../engine/shared-data';

export interface SweepWorkerData {
  data: SharedMnist;
  backend: string;
  runsDir: string;
}

export type SweepToWorker =
  { type: 'run'; id: number; name: string; config: Partial<TrainingConfig>; force: boolean } | { type: 'stop' };

export type SweepToMain =
  | { type: 'ready' }
  /** Progress without the history, plus what the history gained since the last message. */
  | {
      type: 'progress';
      id: number;
      progress: Omit<Progress, 'history'>;
      steps: StepRecord[];
      evaluations: Evaluation[];
    }
  | { type: 'result'; id: number; history: History; reused: boolean; run: SavedRun }
  /** `id` -1: the worker could not start. */
  | { type: 'failed'; id: number; message: string; history?: History };
