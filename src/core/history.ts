/**
 * What a training run records: per-step metrics, per-evaluation accuracies and the outcome;
 * written as JSON (everything) and CSV (a row per recorded step).
 */
import type { TrainingConfig } from './config';
import { PARAM_NAMES, type ParamName } from './model';
import { errorMessage } from '../util/text';

/** Metrics of one training step, computed on that step's batch before its update. */
export interface StepRecord {
  /** The global step before the update (0 = the first update). */
  step: number;
  learningRate: number;
  /** Mean softmax cross-entropy of the live model on the batch. */
  crossEntropy: number;
  /** Cross-entropy plus the L2 term. */
  totalLoss: number;
  /** Mean absolute gradient of the total loss over all parameters. */
  meanAbsGradient: number;
  /** Mean absolute gradient of each parameter. */
  meanAbsGradients: Partial<Record<ParamName, number>>;
}

/** Accuracies (fractions 0..1) of the evaluated model after `step` updates. */
export interface Evaluation {
  step: number;
  validationAccuracy: number;
  testAccuracy: number;
  /** Seconds of training (this run's loop, resumed parts added up) when it was taken. */
  elapsedSeconds?: number;
}

/** How a run ended (or `running` while it trains). */
export type RunStatus = 'running' | 'completed' | 'stopped' | 'diverged' | 'failed';

/**
 * Why a run ended: it reached its last step (`completed`), an interrupt (SIGINT) or an abort signal stopped it
 * (`interrupted`, `aborted`), its loss blew up (`diverged`), or an error ended it (`failed`).
 */
export type StopKind = 'completed' | 'interrupted' | 'aborted' | 'diverged' | 'failed';

/** How and where a run ended: the step it reached of the `of` it was set to run, and the error's text, if any. */
export interface StopReason {
  reason: StopKind;
  step: number;
  of: number;
  message: string | null;
}

/**
 * Everything recorded of a training run: backend, configuration, evaluations, per-step records, final accuracy. Plain
 * data, saved as history.json.
 */
export interface History {
  /** The backend that ran the training. */
  backend: string;
  config: TrainingConfig;
  /** Where the data came from. */
  data: string;
  startedAt: string;
  finishedAt: string | null;
  /** Seconds spent in the training loop (resumed runs add up their parts). */
  wallTimeSeconds: number;
  status: RunStatus;
  /** Why the run ended early, when it did, as text for people (`stop` has it as data). */
  error: string | null;
  /** How and where the run ended; null while it runs (or when the process running it was killed). */
  stop: StopReason | null;
  evaluations: Evaluation[];
  steps: StepRecord[];
  /** The last evaluation of a completed run. */
  final: { step: number; testAccuracy: number; validationAccuracy: number } | null;
}

export function newHistory(backend: string, config: TrainingConfig, data: string): History {
  return {
    backend,
    config: { ...config },
    data,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    wallTimeSeconds: 0,
    status: 'running',
    error: null,
    stop: null,
    evaluations: [],
    steps: [],
    final: null,
  };
}

/** A deep copy, safe to keep while training goes on. */
export function cloneHistory(history: History): History {
  return structuredClone(history);
}

export const CSV_COLUMNS = [
  'step',
  'learning_rate',
  'cross_entropy',
  'total_loss',
  'mean_abs_gradient',
  ...PARAM_NAMES.map((name) => `mean_abs_gradient_${name}`),
  'validation_accuracy',
  'test_accuracy',
] as const;

function cell(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

/**
 * The metrics as CSV: a row per recorded step and per evaluation step, merged by step number;
 * cells a row does not have are left empty.
 */
export function historyToCsv(history: History): string {
  const rows = new Map<number, { record?: StepRecord; evaluation?: Evaluation }>();
  for (const record of history.steps) rows.set(record.step, { record });
  for (const evaluation of history.evaluations) rows.set(evaluation.step, { ...rows.get(evaluation.step), evaluation });
  const lines = [CSV_COLUMNS.join(',')];
  for (const step of [...rows.keys()].sort((a, b) => a - b)) {
    const { record, evaluation } = rows.get(step)!;
    lines.push(
      [
        step,
        cell(record?.learningRate),
        cell(record?.crossEntropy),
        cell(record?.totalLoss),
        cell(record?.meanAbsGradient),
        ...PARAM_NAMES.map((name) => cell(record?.meanAbsGradients[name])),
        cell(evaluation?.validationAccuracy),
        cell(evaluation?.testAccuracy),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The best validation accuracy and its step; null before any evaluation. */
export function bestEvaluation(history: History): Evaluation | null {
  let best: Evaluation | null = null;
  for (const e of history.evaluations) if (best === null || e.validationAccuracy > best.validationAccuracy) best = e;
  return best;
}

/** The history's JSON text. */
export function historyToJson(history: History): string {
  return `${JSON.stringify(history, null, 1)}\n`;
}

/** A history read back from JSON, checked for the fields charts and tools rely on. */
export function parseHistory(text: string, file: string): History {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${errorMessage(error)})`);
  }
  const h = value as Partial<History>;
  const missing = (['backend', 'config', 'evaluations', 'steps', 'status'] as const).filter(
    (key) => h === null || typeof h !== 'object' || h[key] === undefined,
  );
  if (missing.length > 0) throw new Error(`${file}: not a training history (missing ${missing.join(', ')})`);
  if (!Array.isArray(h.evaluations) || !Array.isArray(h.steps))
    throw new Error(`${file}: "evaluations" and "steps" must be arrays`);
  const history = h as History;
  if (history.stop === undefined) history.stop = stopOfOldHistory(history);
  return history;
}

/** The step a run reached, from what it recorded: its last evaluation, or the step after its last recorded one. */
export function stepReached(history: History): number {
  return Math.max(history.evaluations.at(-1)?.step ?? 0, (history.steps.at(-1)?.step ?? -1) + 1);
}

/**
 * The stop reason of a history saved before `stop` was recorded, read from its status and the text of its error (the
 * only place that reads that text): "stopped at step N of M" (whether by an interrupt was not recorded: `aborted`),
 * "training diverged at step N: ...", or any other error.
 */
function stopOfOldHistory(history: History): StopReason | null {
  const of = history.config?.trainingSteps ?? stepReached(history);
  const reached = Math.min(stepReached(history), of);
  const message = history.error ?? null;
  switch (history.status) {
    case 'completed':
      return { reason: 'completed', step: history.final?.step ?? reached, of, message: null };
    case 'stopped': {
      const match = /^stopped at step (\d+) of (\d+)$/.exec(message ?? '');
      return match !== null
        ? { reason: 'aborted', step: Number(match[1]), of: Number(match[2]), message: null }
        : { reason: 'aborted', step: reached, of, message };
    }
    case 'diverged': {
      const match = /diverged at step (\d+)/.exec(message ?? '');
      return { reason: 'diverged', step: match !== null ? Number(match[1]) : reached, of, message };
    }
    case 'failed':
      return { reason: 'failed', step: reached, of, message };
    default:
      return null;
  }
}
