#!/usr/bin/env node
/**
 * `npm run sweep -- [flags]`: trains several configurations at once, one worker thread per core.
 * Every flag of `train` is accepted; a comma list (`--learning-rate 0.1,0.4,0.8 --seeds 1,2,3`)
 * is expanded, and the runs are the product of all lists. Each run is saved under the runs
 * folder (a configuration already saved is loaded instead), and a summary table of the final
 * accuracies over the seeds is written as CSV and Markdown. While the runs train: on a terminal,
 * a table of the configurations (a row each, its seeds together) redrawn in place; elsewhere,
 * a line per run started and finished. Validation accuracy only until the summary at the end.
 */
import { join, resolve } from 'node:path';
import { EXIT, parseOrExit, parseTrainArgs, UsageError, workersFlag, type CliOptions } from './train';
import { runCommand } from './command';
import { loadMnist } from '../data/mnist';
import { ensureWritableDir, writeFileAtomic } from '../util/io';
import { defaultRunsDir, runKey, timestamp } from '../store/runs';
import type { Progress } from '../train/trainer';
import { makeConfig } from '../core/config';
import { bar, progressMode, type ProgressMode, type Terminal } from './progress';
import { defaultSweepWorkers, runSweep, type SweepProgress, type SweepResult, type SweepRun } from '../sweep/sweep';
import { summarizeSweep, summaryCsv, summaryMarkdown } from '../sweep/summary';
import { STATUS_HEADER, sweepStatus, type SweepRunLabel } from '../sweep/status';
import { textTable } from '../notebook/print';
import { formatDuration } from '../util/text';

export function sweepUsage(): string {
  return `Usage: npm run sweep -- [flags]

Trains every combination of the values given, several runs at once (one worker thread per core).
Any flag of \`npm run train\` (see \`npm run train -- --help\`) takes a comma list, for example
  npm run sweep -- --learning-rate 0.1,0.4,0.8 --seeds 1,2,3 --steps 2000
trains 9 runs. Runs are saved in the runs folder; a configuration already saved is loaded.

Sweep flags:
  --seeds LIST           seeds (same as --seed LIST)
  --workers N            worker threads (default: one per core)
  --runs-dir DIR         where runs are saved and looked up (default runs/, or MNIST_RUNS_DIR)
  --out DIR              where summary.csv and summary.md go (default <runs-dir>/sweep-<timestamp>)
  --name PREFIX          run names start with PREFIX (default sweep)
  --force                train again even when a run is saved
  --backend wasm|cpu     the workers' backend (default wasm)
  -q, --quiet            print only the summary (otherwise: a table of the runs redrawn
                         in place on a terminal, a line per run started and finished elsewhere)
  -h, --help             this text
`;
}

/** Flags of the sweep itself, taken out before the rest is read as `train` flags. */
const SWEEP_FLAGS: Record<string, 'string' | 'boolean'> = {
  workers: 'string',
  'runs-dir': 'string',
  out: 'string',
  name: 'string',
  force: 'boolean',
  quiet: 'boolean',
  help: 'boolean',
  backend: 'string',
};
const SHORT: Record<string, string> = { '-q': 'quiet', '-h': 'help' };
/** `train` flags that make no sense for a sweep. */
const REFUSED = ['resume', 'checkpoint-every', 'no-charts'];

export interface SweepCliOptions {
  /** `label` names the run's folder; `group` its settings but the seed (a row of the live table). */
  runs: { config: CliOptions['config']; label: string; group: string }[];
  source: CliOptions['source'];
  workers?: number;
  runsDir: string;
  out?: string;
  name: string;
  force: boolean;
  quiet: boolean;
  help: boolean;
  backend: 'wasm' | 'cpu';
}

/** Splits `--flag value` and `--flag=value` into pairs; a flag without a value gets undefined. */
function pairs(args: string[], problems: string[]): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const short = SHORT[arg];
    if (short !== undefined) {
      out.push([short, undefined]);
      continue;
    }
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const [, name, inline] = match;
    if (inline !== undefined || SWEEP_FLAGS[name] === 'boolean' || name === 'no-charts') out.push([name, inline]);
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) out.push([name, args[++i]]);
    else out.push([name, undefined]);
  }
  return out;
}

/** Parses the sweep's flags; throws `UsageError` listing every problem. */
export function parseSweepArgs(args: string[]): SweepCliOptions {
  const problems: string[] = [];
  const sweep: Record<string, string | true> = {};
  const lists: [string, string[]][] = [];
  for (const [name, value] of pairs(args, problems)) {
    if (REFUSED.includes(name)) {
      problems.push(`--${name} is a flag of single runs, not of sweeps`);
    } else if (SWEEP_FLAGS[name] !== undefined) {
      if (SWEEP_FLAGS[name] === 'boolean') sweep[name] = true;
      else if (value === undefined || value === '') problems.push(`--${name} needs a value`);
      else sweep[name] = value;
    } else {
      const flag = name === 'seeds' ? 'seed' : name;
      if (lists.some(([f]) => f === flag)) problems.push(`--${name} given more than once`);
      else lists.push([flag, value === undefined ? [] : value.split(',').map((v) => v.trim())]);
    }
  }
  const workers = workersFlag(sweep.workers, problems);
  const backend = sweep.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu')
    problems.push(`--backend must be wasm or cpu for a sweep, got "${String(backend)}"`);
  // Each combination is read by the train command's own parser: same checks, same messages.
  let combos: [string, string][][] = [[]];
  for (const [flag, values] of lists)
    combos = combos.flatMap((combo) =>
      values.length === 0 ? [[...combo, [flag, '']]] : values.map((v) => [...combo, [flag, v]] as [string, string][]),
    );
  const varying = new Set(lists.filter(([, values]) => values.length > 1).map(([flag]) => flag));
  const runs: SweepCliOptions['runs'] = [];
  let source: CliOptions['source'] = { kind: 'embedded' };
  for (const combo of combos) {
    try {
      const parsed = parseTrainArgs(
        combo.flatMap(([flag, value]) => (value === '' ? [`--${flag}`] : [`--${flag}=${value}`])),
      );
      source = parsed.source;
      const label = combo
        .filter(([flag]) => varying.has(flag) || flag === 'seed')
        .map(([flag, value]) => `${flag}-${value}`);
      const group = combo
        .filter(([flag]) => varying.has(flag) && flag !== 'seed')
        .map(([flag, value]) => `${flag} ${value}`);
      runs.push({ config: parsed.config, label: label.join('_'), group: group.join(', ') || 'as given' });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      for (const problem of error.problems) if (!problems.includes(problem)) problems.push(problem);
    }
  }
  if (problems.length > 0) throw new UsageError(problems);
  return {
    runs,
    source,
    workers,
    runsDir: resolve(typeof sweep['runs-dir'] === 'string' ? sweep['runs-dir'] : defaultRunsDir()),
    out: typeof sweep.out === 'string' ? sweep.out : undefined,
    name: typeof sweep.name === 'string' ? sweep.name : 'sweep',
    force: sweep.force === true,
    quiet: sweep.quiet === true,
    help: sweep.help === true,
    backend: backend as 'wasm' | 'cpu',
  };
}

export async function runSweepCommand(
  args: string[],
  print: (line: string) => void = console.log,
  terminal: Terminal = process.stdout,
): Promise<number> {
  const options = parseOrExit(() => parseSweepArgs(args), sweepUsage, print);
  if (typeof options === 'number') return options;
  const mode = progressMode(terminal, options.quiet);
  let progress: SweepDisplay | null = null;
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    const line = 'interrupt: stopping every run after its current step and saving (Ctrl-C again to quit at once)';
    if (progress !== null) progress.log(line);
    else print(line);
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const out = options.out ?? join(options.runsDir, `sweep-${timestamp()}`);
    await ensureWritableDir(out);
    const data = await loadMnist(options.source);
    // The key in the name: a run of other settings (e.g. more steps) never replaces this one.
    const runs: SweepRun[] = options.runs.map(({ config, label }) => ({
      name: `${options.name}_${label}_${runKey(config, data).slice(0, 8)}`,
      config,
    }));
    const workers = Math.min(options.workers ?? defaultSweepWorkers(), runs.length);
    print(`sweep: ${runs.length} runs, ${workers} at a time (${options.backend}); runs saved in ${options.runsDir}`);
    const display = createSweepDisplay({
      mode,
      labels: options.runs.map(({ config, group }) => ({ group, seed: makeConfig(config).seed })),
      totals: runs.map(({ config }) => makeConfig(config).trainingSteps),
      print,
      terminal,
    });
    progress = display;
    const results = await runSweep(data, runs, {
      workers: options.workers,
      runsDir: options.runsDir,
      force: options.force,
      backend: options.backend,
      signal: stop.signal,
      // On a terminal the table shows what these lines say.
      log: mode === 'lines' ? display.log : undefined,
      onProgress: display.progress,
      onResult: display.result,
    });
    display.done();
    if (mode === 'bar')
      for (const result of results) if (result.error !== null) print(`${result.name}: failed: ${result.error}`);
    const rows = summarizeSweep(results);
    await writeFileAtomic(join(out, 'summary.csv'), summaryCsv(rows));
    await writeFileAtomic(join(out, 'summary.md'), summaryMarkdown(rows));
    print(summaryMarkdown(rows));
    print(`wrote ${out}/: summary.csv, summary.md`);
    if (results.some((r) => r.error !== null)) return EXIT.failed;
    return stop.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    process.off('SIGINT', onSigint);
    progress?.done();
  }
}

/** What the sweep's table is drawn on: a terminal's height too, so that the table fits on it. */
export interface SweepTerminal extends Terminal {
  rows?: number;
}

/** The sweep's progress on the command line: a table redrawn in place, plain lines, or nothing. */
export interface SweepDisplay {
  /** Prints a line (above the table, on a terminal). */
  log(line: string): void;
  /** Pass as `SweepOptions.onProgress`. */
  progress(report: SweepProgress): void;
  /** Pass as `SweepOptions.onResult`. */
  result(result: SweepResult, index: number): void;
  /** Draws the table a last time and leaves it on the screen; later lines print under it. */
  done(): void;
}

export interface SweepDisplayOptions {
  /** `bar`: the table redrawn in place (a terminal); `lines`: the lines given to `log`; `quiet`: nothing. */
  mode: ProgressMode;
  /** The group and seed of each run, in sweep order. */
  labels: readonly SweepRunLabel[];
  /** The training steps of each run. */
  totals: readonly number[];
  print?: (line: string) => void;
  terminal?: SweepTerminal;
  /** Default 500 ms: two redraws a second at most, but at once when a run ends. */
  minIntervalMs?: number;
  /** Milliseconds; for tests. */
  now?: () => number;
}

/**
 * The table of a sweep's runs: a row per configuration, and a line with a bar of all their steps,
 * the runs done and the time left. Lines are cut to the terminal's width and the table to its
 * height (finished rows first leave), since a line that wraps or scrolls away cannot be redrawn.
 */
export function sweepTableLines(
  status: ReturnType<typeof sweepStatus>,
  total: TotalProgress,
  size: { columns?: number; rows?: number } = {},
): string[] {
  let rows = status.rows();
  // Header and rule, a note of the rows left out, the total, and the line the cursor ends on.
  const room = size.rows !== undefined && size.rows > 6 ? size.rows - 5 : Number.POSITIVE_INFINITY;
  let hidden = 0;
  while (rows.length > room && rows.some((row) => row.done)) {
    const first = rows.findIndex((row) => row.done);
    rows = rows.filter((_, i) => i !== first);
    hidden++;
  }
  if (rows.length > room) {
    hidden += rows.length - room;
    rows = rows.slice(0, room);
  }
  const table = textTable(
    [...STATUS_HEADER],
    rows.map((row) => [row.group, row.seeds, row.state, row.validation]),
  ).split('\n');
  const left =
    total.stepsPerSecond > 0 && Number.isFinite(total.secondsLeft) && total.step < total.totalSteps
      ? ` · ${formatDuration(total.secondsLeft)} left`
      : '';
  const lines = [
    ...table,
    ...(hidden > 0 ? [`(${hidden} more row${hidden === 1 ? '' : 's'} not shown)`] : []),
    `${bar(total.step, total.totalSteps)} ${status.footer()}${left}`,
  ];
  const columns = size.columns ?? 0;
  return columns > 1 ? lines.map((line) => (line.length >= columns ? line.slice(0, columns - 1) : line)) : lines;
}

/** The progress of the whole sweep that its table shows. */
type TotalProgress = Pick<Progress, 'step' | 'totalSteps' | 'stepsPerSecond' | 'secondsLeft'>;

export function createSweepDisplay(options: SweepDisplayOptions): SweepDisplay {
  const { mode } = options;
  const print = options.print ?? ((line: string) => console.log(line));
  const terminal = options.terminal ?? process.stdout;
  const minIntervalMs = options.minIntervalMs ?? 500;
  const now = options.now ?? (() => performance.now());
  const status = sweepStatus(options.labels);
  const total = sweepTotal([...options.totals], now);
  let totalProgress: TotalProgress = {
    step: 0,
    totalSteps: options.totals.reduce((a, b) => a + b, 0),
    stepsPerSecond: 0,
    secondsLeft: Number.NaN,
  };
  /** Lines of the table on the screen now (0: none drawn, or left behind by `done`). */
  let drawn = 0;
  let drawnAt = Number.NEGATIVE_INFINITY;
  let finished = false;

  // Back to the table's first line, then clear to the end of the screen.
  const erase = () => {
    if (drawn === 0) return '';
    const text = `\r${drawn > 1 ? `\x1b[${drawn - 1}A` : ''}\x1b[J`;
    drawn = 0;
    return text;
  };
  const draw = () => {
    if (mode !== 'bar' || finished) return;
    const lines = sweepTableLines(status, totalProgress, terminal);
    terminal.write(`${erase()}${lines.join('\n')}`);
    drawn = lines.length;
    drawnAt = now();
  };
  const log = (line: string) => {
    if (mode === 'quiet') return;
    if (mode !== 'bar' || drawn === 0) return print(line);
    terminal.write(erase());
    print(line);
    draw();
  };
  return {
    log,
    progress: (report) => {
      status.progress(report);
      totalProgress = total.update(report.index, report.progress);
      if (now() - drawnAt >= minIntervalMs) draw();
    },
    result: (result, index) => {
      status.result(result, index);
      total.finish(index);
      // The run's steps count as done now, not at the next report of another run.
      const steps = options.totals[index];
      totalProgress = total.update(index, {
        step: steps,
        totalSteps: steps,
        learningRate: Number.NaN,
        crossEntropy: Number.NaN,
        stepsPerSecond: 0,
        secondsLeft: Number.NaN,
        latestEvaluation: null,
        history: result.history,
      });
      draw();
    },
    done: () => {
      if (mode !== 'bar' || finished) return;
      draw();
      finished = true;
      if (drawn > 0) terminal.write('\n');
      drawn = 0;
    },
  };
}

/**
 * The progress of a whole sweep as one: steps of all runs against their total, the speed of the
 * steps trained since the start (a reused run counts as done, not as speed), the latest loss.
 */
export function sweepTotal(totals: number[], now: () => number = () => performance.now()) {
  const started = now();
  const steps = totals.map(() => 0);
  const first = totals.map((): number | null => null);
  const totalSteps = totals.reduce((a, b) => a + b, 0);
  return {
    update(index: number, run: Progress): Progress {
      first[index] ??= run.step;
      steps[index] = run.step;
      const done = steps.reduce((a, b) => a + b, 0);
      const trained = steps.reduce((sum, step, i) => sum + (first[i] === null ? 0 : step - first[i]!), 0);
      const seconds = (now() - started) / 1000;
      const stepsPerSecond = seconds > 0 ? trained / seconds : 0;
      return {
        ...run,
        step: done,
        totalSteps,
        stepsPerSecond,
        secondsLeft: stepsPerSecond > 0 ? (totalSteps - done) / stepsPerSecond : Number.NaN,
        // One run's accuracy would read as the sweep's.
        latestEvaluation: null,
      };
    },
    /** A run that ended (or was reused): its steps count as done. */
    finish(index: number): void {
      first[index] ??= totals[index];
      steps[index] = totals[index];
    },
  };
}

if (require.main === module) runCommand(() => runSweepCommand(process.argv.slice(2)));
