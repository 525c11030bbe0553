/** Text for people about a training run: the log lines of its events, the progress line and the summary. */
import { stepReached, type History, type StopReason } from '../core/history';
import { formatCount, formatDuration, formatPercent, formatSpeed } from '../util/text';
import type { Progress, RunEvent } from './events';

/** Options of the messages: what they may show. */
export interface MessageOptions {
  /**
   * Also show test accuracies (default false): the test set is looked at once, at the end of the work, and choices
   * are made on the validation set.
   */
  showTestAccuracy?: boolean;
}

/**
 * The lines a log shows for an event. An evaluation: the tutorial's line (its validation accuracy; the step as it
 * printed it, the accuracy with two decimals) and an English one. A completed run: the tutorial's closing line, which
 * quotes the test accuracy where the run ends, as the tutorial did, and an English one. The English lines show test
 * accuracies only with `showTestAccuracy`.
 */
export function renderEvent(event: RunEvent, options: MessageOptions = {}): string[] {
  const showTest = options.showTestAccuracy === true;
  switch (event.kind) {
    case 'evaluation': {
      const { step, validationAccuracy, testAccuracy } = event.evaluation;
      const test = showTest ? `, test accuracy ${formatPercent(testAccuracy)}` : '';
      return [
        `训练轮数: ${step} ,准确率: ${formatPercent(validationAccuracy)}`,
        `step ${formatCount(step)}: validation accuracy ${formatPercent(validationAccuracy)}${test}`,
      ];
    }
    case 'completed': {
      const test = showTest ? `, test accuracy ${formatPercent(event.testAccuracy)}` : '';
      return [
        `训练轮数: ${event.step} ,测试准确率: ${formatPercent(event.testAccuracy)}`,
        `after ${formatCount(event.step)} training steps: validation accuracy ${formatPercent(event.validationAccuracy)}${test}`,
      ];
    }
    case 'stopped': {
      const stop = { reason: event.interrupted ? 'interrupted' : 'aborted', ...event, message: null } as const;
      return [`${formatStop(stop)}: the history so far is kept`];
    }
    case 'failed':
      return [event.message];
    case 'reused':
      return [`reusing the completed run in ${event.path} (${formatCount(event.steps)} steps)`];
    case 'resumed':
      return [`resuming ${event.path} from step ${formatCount(event.step)} of ${formatCount(event.of)}`];
  }
}

/** The progress line: step/total, speed, time left, latest validation accuracy (and test, with showTestAccuracy). */
export function formatProgress(progress: Progress, options: MessageOptions = {}): string {
  const { step, totalSteps, stepsPerSecond, secondsLeft, latestEvaluation } = progress;
  const share = totalSteps > 0 ? ` (${((100 * step) / totalSteps).toFixed(1)} %)` : '';
  const parts = [
    `step ${formatCount(step)} / ${formatCount(totalSteps)}${share}`,
    stepsPerSecond > 0 ? `${formatSpeed(stepsPerSecond)} steps/s` : 'speed unknown',
    Number.isFinite(secondsLeft) ? `${formatDuration(secondsLeft)} left` : 'time left unknown',
  ];
  if (latestEvaluation !== null) parts.push(accuracies(latestEvaluation, options));
  else parts.push('no evaluation yet');
  return parts.join(' · ');
}

/** "validation X (at step N)", with the test accuracy before "(at step" when shown. */
function accuracies(
  evaluation: { step: number; validationAccuracy: number; testAccuracy: number },
  options: MessageOptions,
): string {
  const test = options.showTestAccuracy === true ? ` · test ${formatPercent(evaluation.testAccuracy)}` : '';
  return `validation ${formatPercent(evaluation.validationAccuracy)}${test} (at step ${formatCount(evaluation.step)})`;
}

/** How a run ended, from its stop reason: "completed: N steps", "interrupted at step N of M", ... */
export function formatStop(stop: StopReason): string {
  switch (stop.reason) {
    case 'completed':
      return `completed: ${formatCount(stop.step)} steps`;
    case 'interrupted':
      return `interrupted at step ${formatCount(stop.step)} of ${formatCount(stop.of)}`;
    case 'aborted':
      return `stopped at step ${formatCount(stop.step)} of ${formatCount(stop.of)}`;
    case 'diverged':
      return `diverged at step ${formatCount(stop.step)} of ${formatCount(stop.of)}`;
    case 'failed':
      return `failed at step ${formatCount(stop.step)} of ${formatCount(stop.of)}`;
  }
}

/**
 * The line shown above the final charts of a run: how it ended, its speed and its last validation accuracy (test
 * with showTestAccuracy), and the error of a run that failed.
 */
export function formatSummary(history: History, options: MessageOptions = {}): string {
  // A history made in memory by older code (a checkpoint's copy) may lack the field.
  const stop = history.stop ?? null;
  const lastStep = stop?.step ?? stepReached(history);
  const speed = history.wallTimeSeconds > 0 ? ` (${formatSpeed(lastStep / history.wallTimeSeconds)} steps/s)` : '';
  const head = stop !== null ? formatStop(stop) : `${history.status}: ${formatCount(lastStep)} steps`;
  const parts = [`${head} in ${formatDuration(history.wallTimeSeconds)}${speed}`];
  const last = history.evaluations.at(-1);
  if (last !== undefined) parts.push(accuracies(last, options));
  // Without a stop reason (a run a sweep never started, or lost with its worker) the error is all there is.
  const message = stop !== null ? stop.message : history.status !== 'running' ? history.error : null;
  if (message !== null) parts.push(message);
  return parts.join(' · ');
}
