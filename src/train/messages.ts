/** Text for people about a training run: the progress line and the summary of a finished run. */
import type { History } from '../core/history';
import { formatDuration } from '../util/text';
import type { Progress } from './trainer';

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (fraction: number) => `${(fraction * 100).toFixed(2)} %`;

/** The progress line: step/total, speed, time left, latest accuracies. */
export function formatProgress(progress: Progress): string {
  const { step, totalSteps, stepsPerSecond, secondsLeft, latestEvaluation } = progress;
  const share = totalSteps > 0 ? ` (${((100 * step) / totalSteps).toFixed(1)} %)` : '';
  const parts = [
    `step ${thousands(step)} / ${thousands(totalSteps)}${share}`,
    stepsPerSecond > 0
      ? `${stepsPerSecond >= 100 ? thousands(stepsPerSecond) : stepsPerSecond.toFixed(1)} steps/s`
      : 'speed unknown',
    Number.isFinite(secondsLeft) ? `${formatDuration(secondsLeft)} left` : 'time left unknown',
  ];
  if (latestEvaluation !== null) {
    parts.push(
      `validation ${percent(latestEvaluation.validationAccuracy)}`,
      `test ${percent(latestEvaluation.testAccuracy)} (at step ${thousands(latestEvaluation.step)})`,
    );
  } else {
    parts.push('no evaluation yet');
  }
  return parts.join(' · ');
}

/** Where a stopped run stopped, from the reason `Trainer.run` records ("stopped at step N of M"). */
function stoppedAt(history: History): { step: number; of: number } | null {
  const match = history.status === 'stopped' ? /^stopped at step (\d+) of (\d+)$/.exec(history.error ?? '') : null;
  return match === null ? null : { step: Number(match[1]), of: Number(match[2]) };
}

/** The line shown above the final charts of a run. */
export function formatSummary(history: History): string {
  const stop = stoppedAt(history);
  // The recorded steps are every `recordEvery`: a stopped run says the step it really reached.
  const lastStep =
    stop?.step ??
    history.final?.step ??
    Math.max(history.evaluations.at(-1)?.step ?? 0, (history.steps.at(-1)?.step ?? -1) + 1);
  const speed = history.wallTimeSeconds > 0 ? ` (${(lastStep / history.wallTimeSeconds).toFixed(1)} steps/s)` : '';
  const head =
    stop !== null
      ? `stopped at step ${thousands(stop.step)} of ${thousands(stop.of)}`
      : `${history.status}: ${thousands(lastStep)} steps`;
  const parts = [`${head} in ${formatDuration(history.wallTimeSeconds)}${speed}`];
  const last = history.evaluations.at(-1);
  if (last !== undefined)
    parts.push(
      `validation ${percent(last.validationAccuracy)}`,
      `test ${percent(last.testAccuracy)} (at step ${thousands(last.step)})`,
    );
  if (history.error !== null && history.status !== 'completed' && stop === null) parts.push(history.error);
  return parts.join(' · ');
}
