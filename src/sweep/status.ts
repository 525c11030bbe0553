/**
 * The state of a sweep under way as a short table: a row per group of runs (a variant over its
 * seeds, or a configuration), what each run is doing, and its latest validation accuracy. The
 * notebook's live view and `npm run sweep` draw it under their chart or in place on a terminal.
 * Validation only: the test set is looked at once, in the final summary.
 */
import type { History } from '../core/history';
import type { Progress } from '../train/trainer';
import { firstLine } from '../util/text';
import type { SweepProgress, SweepResult } from './sweep';

/** Which group a run of the sweep belongs to, and the seed that tells it from the others of the group. */
export interface SweepRunLabel {
  group: string;
  seed?: number;
}

/** One row of the table: a group of runs. */
export interface StatusRow {
  group: string;
  /** The seeds of the group's runs, e.g. `1 2 3` (empty without seeds). */
  seeds: string;
  /** What its runs are doing, e.g. `3 completed`, `step 1,200/3,000 · waiting · waiting`. */
  state: string;
  /** Latest validation accuracy of each run in percent, e.g. `98.41 · 98.52 · —`. */
  validation: string;
  /** Every run of the group has its result. */
  done: boolean;
}

/** The table's header, in the order of `StatusRow`'s fields. */
export const STATUS_HEADER = ['run', 'seeds', 'state', 'validation (%)'] as const;

/** How many runs are waiting, training and done. */
export interface StatusCounts {
  runs: number;
  waiting: number;
  training: number;
  done: number;
}

/** A sweep's state, updated from its callbacks. */
export interface SweepStatus {
  /** Call with each `SweepOptions.onProgress` report. */
  progress(report: SweepProgress): void;
  /** Call with each `SweepOptions.onResult` result. */
  result(result: SweepResult, index: number): void;
  /** The runs seen so far, in sweep order, with their history, name and group. */
  runs(): { index: number; name: string; label: SweepRunLabel; history: History }[];
  rows(): StatusRow[];
  counts(): StatusCounts;
  /** `12 of 27 runs done · 2 training · 13 waiting`. */
  footer(): string;
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

/** Where a diverged run stopped and its loss, from the error `DivergenceError` records. */
function divergedAt(history: History): string {
  const match = /diverged at step (\d+): the loss is (\S+?)(?: |$)/.exec(history.error ?? '');
  if (match === null) return 'diverged';
  // A few digits tell a loss that blew up from one that crept over the threshold.
  const loss = Number(match[2]);
  const shown = Number.isFinite(loss) ? String(Number(loss.toPrecision(3))) : match[2];
  return `diverged at step ${thousands(Number(match[1]))} (loss ${shown})`;
}

/** A run's state in a few words. */
function runState(progress: Omit<Progress, 'history'> | null, result: SweepResult | null): string {
  if (result !== null) {
    const h = result.history;
    if (result.error !== null) return `failed: ${firstLine(result.error)}`;
    if (h.status === 'completed') return result.reused ? 'completed (saved run)' : 'completed';
    if (h.status === 'diverged') return divergedAt(h);
    if (h.status === 'stopped') {
      const last = Math.max(h.evaluations.at(-1)?.step ?? 0, (h.steps.at(-1)?.step ?? -1) + 1);
      return last > 0 ? `stopped at step ${thousands(last)}` : 'not started';
    }
    return h.status;
  }
  if (progress === null) return 'waiting';
  return `step ${thousands(progress.step)}/${thousands(progress.totalSteps)}`;
}

/**
 * The state of a sweep of `labels.length` runs (the label of each run in sweep order; a run
 * without a label is a group of its own, named after the run).
 */
export function sweepStatus(labels: readonly (SweepRunLabel | undefined)[] = []): SweepStatus {
  interface Entry {
    name: string;
    history: History | null;
    progress: Omit<Progress, 'history'> | null;
    result: SweepResult | null;
  }
  const entries = new Map<number, Entry>();
  const total = () => Math.max(labels.length, entries.size === 0 ? 0 : Math.max(...entries.keys()) + 1);
  const entry = (index: number, name: string): Entry => {
    const found = entries.get(index) ?? { name, history: null, progress: null, result: null };
    entries.set(index, found);
    return found;
  };
  const labelOf = (index: number): SweepRunLabel => labels[index] ?? { group: entries.get(index)?.name ?? '' };

  const progress = ({ index, name, progress: report }: SweepProgress) => {
    const e = entry(index, name);
    const { history, ...rest } = report;
    e.history = history;
    e.progress = rest;
  };
  const result = (r: SweepResult, index: number) => {
    const e = entry(index, r.name);
    e.history = r.history;
    e.result = r;
  };
  const runs = () =>
    [...entries]
      .filter(([, e]) => e.history !== null)
      .sort(([a], [b]) => a - b)
      .map(([index, e]) => ({ index, name: e.name, label: labelOf(index), history: e.history! }));

  const rows = (): StatusRow[] => {
    // Groups in order of their first run; runs not seen yet (no name) count only with a label.
    const groups = new Map<string, number[]>();
    for (let index = 0; index < total(); index++) {
      if (labels[index] === undefined && !entries.has(index)) continue;
      const group = labelOf(index).group;
      groups.set(group, [...(groups.get(group) ?? []), index]);
    }
    return [...groups].map(([group, indices]) => {
      const states = indices.map((i) => runState(entries.get(i)?.progress ?? null, entries.get(i)?.result ?? null));
      // `3 completed` rather than the same words three times.
      const state =
        states.length > 1 && states.every((s) => s === states[0])
          ? `${states.length} ${states[0]}`
          : states.join(' · ');
      const validation = indices
        .map((i) => {
          const last = entries.get(i)?.history?.evaluations.at(-1);
          return last === undefined ? '—' : (last.validationAccuracy * 100).toFixed(2);
        })
        .join(' · ');
      const seeds = indices
        .map((i) => labels[i]?.seed)
        .filter((seed) => seed !== undefined)
        .join(' ');
      return { group, seeds, state, validation, done: indices.every((i) => (entries.get(i)?.result ?? null) !== null) };
    });
  };

  const counts = (): StatusCounts => {
    const runsTotal = total();
    let training = 0;
    let done = 0;
    for (const e of entries.values()) {
      if (e.result !== null) done++;
      else if (e.progress !== null) training++;
    }
    return { runs: runsTotal, waiting: runsTotal - training - done, training, done };
  };
  const footer = () => {
    const c = counts();
    const parts = [`${c.done} of ${c.runs} runs done`];
    if (c.training > 0) parts.push(`${c.training} training`);
    if (c.waiting > 0) parts.push(`${c.waiting} waiting`);
    return parts.join(' · ');
  };
  return { progress, result, runs, rows, counts, footer };
}
