#!/usr/bin/env node
/**
 * `npm run sweep -- [flags]`: trains several configurations at once, one worker thread per core.
 * Every flag of `train` is accepted; a comma list (`--learning-rate 0.1,0.4,0.8 --seeds 1,2,3`)
 * is expanded, and the runs are the product of all lists. Each run is saved under the runs
 * folder (a configuration already saved is loaded instead), and a summary table of the final
 * accuracies over the seeds is written as CSV and Markdown.
 */
import { join, resolve } from 'node:path';
import { EXIT, parseOrExit, parseTrainArgs, UsageError, workersFlag, type CliOptions } from './train';
import { runCommand } from './command';
import { loadMnist } from '../data/mnist';
import { ensureWritableDir, writeFileAtomic } from '../util/io';
import { defaultRunsDir, runKey, timestamp } from '../store/runs';
import type { Progress } from '../train/trainer';
import { makeConfig } from '../core/config';
import { createProgressDisplay, progressMode, type Terminal } from './progress';
import { defaultSweepWorkers, runSweep, type SweepRun } from '../sweep/sweep';
import { summarizeSweep, summaryCsv, summaryMarkdown } from '../sweep/summary';

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
  -q, --quiet            print only the summary (otherwise: a progress bar of the whole
                         sweep on a terminal, and a line per run started and finished)
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
  runs: { config: CliOptions['config']; label: string }[];
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
      runs.push({ config: parsed.config, label: label.join('_') });
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
  // No per-run log lines to keep when quiet: `quiet` here means no bar and no lines but the summary.
  const progress = createProgressDisplay({ mode: progressMode(terminal, options.quiet), print, terminal });
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    progress.log('interrupt: stopping every run after its current step and saving (Ctrl-C again to quit at once)');
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
    const total = sweepTotal(runs.map(({ config }) => makeConfig(config).trainingSteps));
    const results = await runSweep(data, runs, {
      workers: options.workers,
      runsDir: options.runsDir,
      force: options.force,
      backend: options.backend,
      signal: stop.signal,
      log: options.quiet ? undefined : progress.log,
      onProgress: ({ index, progress: run }) => progress.update(total.update(index, run)),
      onResult: (_result, index) => total.finish(index),
    });
    progress.done();
    const rows = summarizeSweep(results);
    await writeFileAtomic(join(out, 'summary.csv'), summaryCsv(rows));
    await writeFileAtomic(join(out, 'summary.md'), summaryMarkdown(rows));
    print(summaryMarkdown(rows));
    print(`wrote ${out}/: summary.csv, summary.md`);
    if (results.some((r) => r.error !== null)) return EXIT.failed;
    return stop.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    process.off('SIGINT', onSigint);
    progress.done();
  }
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
