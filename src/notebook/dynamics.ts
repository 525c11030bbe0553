/**
 * Figures that notebook 02 puts in its prose, computed from training histories: where the
 * cross-entropy falls below the L2 term, how the L2 term moves, and how two runs' validation
 * accuracies compare evaluation by evaluation. Pure functions of `History` values.
 */
import type { History } from '../core/history';

/** Where the mean cross-entropy of the recorded batches meets the L2 term (total loss - cross-entropy). */
export interface LossCrossover {
  /** The first recorded step whose cross-entropy is below its L2 term; null if none is. */
  firstBelow: number | null;
  /** The step from which every later recorded step has it below; null if the last one does not. */
  staysBelowFrom: number | null;
  /** Share (0..1) of recorded steps with the cross-entropy below the L2 term. */
  shareBelow: number;
  /** Recorded steps looked at. */
  recorded: number;
}

/** The L2 term of a recorded step: what the total loss adds to the cross-entropy. */
export function l2Term(record: { totalLoss: number; crossEntropy: number }): number {
  return record.totalLoss - record.crossEntropy;
}

/** Where the per-batch cross-entropy of `history` falls below its L2 term, and whether it stays there. */
export function lossCrossover(history: History): LossCrossover {
  const below = history.steps.map((r) => r.crossEntropy < l2Term(r));
  const first = below.indexOf(true);
  const lastAbove = below.lastIndexOf(false);
  const stays = lastAbove + 1 < below.length ? lastAbove + 1 : -1;
  return {
    firstBelow: first < 0 ? null : history.steps[first].step,
    staysBelowFrom: stays < 0 ? null : history.steps[stays].step,
    shareBelow: below.length === 0 ? 0 : below.filter(Boolean).length / below.length,
    recorded: below.length,
  };
}

/** The L2 term at the first and last recorded steps, and its largest value. */
export interface L2Path {
  first: { step: number; value: number };
  peak: { step: number; value: number };
  last: { step: number; value: number };
}

/** The L2 term's start, peak and end; throws when nothing was recorded. */
export function l2Path(history: History): L2Path {
  if (history.steps.length === 0) throw new Error('l2Path: the history has no recorded steps');
  const points = history.steps.map((r) => ({ step: r.step, value: l2Term(r) }));
  const peak = points.reduce((a, b) => (b.value > a.value ? b : a));
  return { first: points[0], peak, last: points[points.length - 1] };
}

/** Validation accuracy (fractions) of two runs at one evaluation step they share. */
export interface PairedEvaluation {
  step: number;
  a: number;
  b: number;
  /** a - b, in percentage points. */
  differencePoints: number;
}

/** The evaluations both runs made, step by step (steps only one run evaluated are left out). */
export function pairEvaluations(a: History, b: History): PairedEvaluation[] {
  const other = new Map(b.evaluations.map((e) => [e.step, e.validationAccuracy]));
  return a.evaluations
    .filter((e) => other.has(e.step))
    .map((e) => ({
      step: e.step,
      a: e.validationAccuracy,
      b: other.get(e.step)!,
      differencePoints: (e.validationAccuracy - other.get(e.step)!) * 100,
    }));
}

/** How a span of paired evaluations came out. */
export interface PairSummary {
  /** Evaluations in the span. */
  count: number;
  /** Evaluations where a was ahead, behind, or equal. */
  ahead: number;
  behind: number;
  equal: number;
  /** Smallest and largest difference a - b in points; null for an empty span. */
  min: number | null;
  max: number | null;
}

/** Counts and range of the differences of `pairs` (e.g. one part of a run). */
export function summarizePairs(pairs: readonly PairedEvaluation[]): PairSummary {
  const diffs = pairs.map((p) => p.differencePoints);
  return {
    count: pairs.length,
    ahead: pairs.filter((p) => p.a > p.b).length,
    behind: pairs.filter((p) => p.a < p.b).length,
    equal: pairs.filter((p) => p.a === p.b).length,
    min: diffs.length === 0 ? null : Math.min(...diffs),
    max: diffs.length === 0 ? null : Math.max(...diffs),
  };
}
