/**
 * The notebook's live view of a sweep: one chart overlaying a metric of every run (validation
 * accuracy by default), and under it a compact table of the runs, redrawn in place while they
 * train. Given the variant and seed of each run, the chart has a colour and a legend entry per
 * variant and a line style per seed, and the table a row per variant. Validation only: the test
 * set is looked at once, in the notebook's final table.
 */
import { chartsHtml } from './chart-html';
import { notebookCharts, type NotebookCharts } from './display';
import { kernelOutput, type DisplaySlot, type NotebookOutput } from './kernel-output';
import { compareFigure, type AccuracyFigureOptions, type Figure, type Metric, type NamedRun } from '../charts/figures';
import { escapeHtml } from '../charts/html';
import type { SweepProgress, SweepResult } from '../sweep/sweep';
import { STATUS_HEADER, sweepStatus, type SweepStatus } from '../sweep/status';
import { firstLine } from '../util/text';

/** Options of `liveSweep`. */
export interface LiveSweepOptions {
  /** The metric overlaid (default `validationAccuracy`). */
  metric?: Metric;
  /** Options of the chart (title, y range, height...). */
  figure?: AccuracyFigureOptions;
  /**
   * The variant and seed of each run, in the order of the sweep (e.g. the runs of
   * `ablationRuns`): a colour, a legend entry and a table row per variant, a line style per
   * seed. Without it, every run is a variant of its own.
   */
  runs?: readonly { variant: string; seed: number }[];
  /** Redraw at most this often, in ms (default 2,000). */
  intervalMs?: number;
  /** Default: the notebook's chart session and the kernel's outputs. */
  charts?: NotebookCharts;
  output?: NotebookOutput;
  /** Clock in ms (default `performance.now`), for tests. */
  now?: () => number;
}

/** A sweep's live display: pass its callbacks to `runSweep`, then `finish` with the results. */
export interface LiveSweep {
  /** Pass as `SweepOptions.onProgress`; never throws (a display problem is noted once). */
  readonly onProgress: (progress: SweepProgress) => void;
  /** Pass as `SweepOptions.onResult`: the run's row shows its outcome. */
  readonly onResult: (result: SweepResult, index: number) => void;
  /** Draws the final chart of all results, with a static image when Chromium is there. */
  finish(results: readonly SweepResult[]): Promise<void>;
  readonly stats: { redraws: number; calls: number };
}

const CELL = 'text-align:left;padding:1px 12px 1px 0;vertical-align:top;border:none';
/** Every column but the state keeps to one line: its runs' figures side by side. */
const NOWRAP = ';white-space:nowrap';

/** The status table as HTML: a row per variant, the counts under it. */
export function statusTableHtml(status: SweepStatus): string {
  const head = STATUS_HEADER.map(
    (h, i) => `<th style="${CELL}${NOWRAP};font-weight:bold">${i === 0 ? 'variant' : h}</th>`,
  );
  const rows = status
    .rows()
    .map(
      (row) =>
        `<tr style="background:none">${[row.group, row.seeds, row.state, row.validation]
          .map((cell, i) => `<td style="${CELL}${i === 2 ? '' : NOWRAP}">${escapeHtml(cell)}</td>`)
          .join('')}</tr>`,
    );
  return [
    '<div class="mnist-sweep-status" style="font-family:monospace;font-size:12px;margin:4px 0">',
    // JupyterLab lays out tables of outputs in equal fixed columns: this one sizes them to their text.
    `<table style="border-collapse:collapse;margin:0;font-size:12px;table-layout:auto;width:auto">`,
    `<thead><tr style="background:none">${head.join('')}</tr></thead>`,
    `<tbody>${rows.join('')}</tbody>`,
    '</table>',
    `<div style="margin-top:2px">${escapeHtml(status.footer())}</div>`,
    '</div>',
  ].join('\n');
}

/** A live display of a sweep in a notebook: pass its `onProgress` and `onResult` to `runSweep`. */
export function liveSweep(options: LiveSweepOptions = {}): LiveSweep {
  const metric = options.metric ?? 'validationAccuracy';
  const intervalMs = options.intervalMs ?? 2000;
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0))
    throw new RangeError(`liveSweep: intervalMs must be a number of ms >= 0, got ${intervalMs}`);
  const now = options.now ?? (() => performance.now());
  const charts = options.charts ?? notebookCharts();
  const output = options.output ?? kernelOutput();
  const given = options.runs ?? [];
  const seedsOf = new Map<string, number>();
  for (const run of given) seedsOf.set(run.variant, (seedsOf.get(run.variant) ?? 0) + 1);
  const status = sweepStatus(given.map((run) => ({ group: run.variant, seed: run.seed })));
  const stats = { redraws: 0, calls: 0 };
  let slot: DisplaySlot | null = null;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let broken = false;

  const figure = (): Figure[] => {
    const shown = status.runs().map(({ index, name, history }): NamedRun => {
      const run = given[index];
      if (run === undefined) return { name, history };
      const several = (seedsOf.get(run.variant) ?? 0) > 1;
      return {
        name: several ? `${run.variant}, seed ${run.seed}` : run.variant,
        history,
        group: run.variant,
        member: `seed ${run.seed}`,
      };
    });
    return shown.length === 0 ? [] : [compareFigure(shown, metric, options.figure)];
  };
  /** The chart first, the table under it, in one output. */
  const html = (figures: readonly Figure[], fallbackSvgs?: readonly string[]) =>
    `${chartsHtml(figures, { fallbackSvgs })}\n${statusTableHtml(status)}`;
  /**
   * The output to redraw, after one carrying plotly.js (once per session), so that redrawing never drops the library.
   */
  const newSlot = (): DisplaySlot => {
    const library = charts.takeLibraryHtml();
    if (library !== null) output.html(library);
    return output.newDisplay();
  };
  const draw = (force: boolean) => {
    if (broken) return;
    const start = now();
    if (!force && start - lastDraw < intervalMs) return;
    const figures = figure();
    if (figures.length === 0) return;
    try {
      slot ??= newSlot();
      slot.html(html(figures));
    } catch (error) {
      broken = true;
      output.note(`charts: live display stopped (${firstLine(error)}); training goes on`);
      return;
    }
    lastDraw = now();
    stats.redraws++;
  };

  const onProgress = (report: SweepProgress) => {
    stats.calls++;
    status.progress(report);
    draw(false);
  };
  const onResult = (result: SweepResult, index: number) => {
    status.result(result, index);
    draw(false);
  };
  const finish = async (results: readonly SweepResult[]) => {
    results.forEach((result, index) => status.result(result, index));
    const figures = figure();
    if (figures.length === 0) return;
    const svgs = await charts.staticImages(figures);
    slot ??= newSlot();
    slot.html(html(figures, svgs ?? undefined));
  };
  return { onProgress, onResult, finish, stats };
}
