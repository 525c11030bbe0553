/**
 * Small helpers for the notebooks: how many training steps to run (the `MNIST_STEPS`
 * environment variable, else the tutorial's 30,000), the tutorial's configuration for that
 * length, and pictures and tables of the data for the walkthrough.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { ConfigError, DEFAULT_CONFIG, makeConfig, type TrainingConfig } from './config';
import type { DataSet } from './data/mnist';
import type { History } from './history';
import type { RunOptions, Trainer } from './train';
import { runCommand } from './command';

export { drawDigit, type DrawDigitOptions, type DrawDigitOutput } from './draw/widget';
export { loadTutorialModel, trainingProgressLine, type TutorialModel, type TutorialModelOptions } from './tutorial-model';
export { compareWithPackage, type CompareOptions, type Difference, type TutorialCode } from './tutorial-check';

/** The environment variable that overrides the notebooks' number of training steps. */
export const STEPS_ENV = 'MNIST_STEPS';

/** The tutorial's TRAINING_STEPS. */
export const TUTORIAL_STEPS = DEFAULT_CONFIG.trainingSteps;

/** The tutorial evaluates (and prints its accuracy line) every 1,000 steps. */
export const TUTORIAL_EVAL_EVERY = DEFAULT_CONFIG.evalEvery;

/**
 * Training steps for a notebook: `MNIST_STEPS` when set (e.g. `MNIST_STEPS=2000` for a quick
 * run), else `defaultSteps` (the tutorial's 30,000). Accepts a whole number >= 1, written with
 * optional `_` or `,` separators (`30_000`); anything else is a `ConfigError` that names the
 * variable and the value.
 */
export function notebookSteps(defaultSteps: number = TUTORIAL_STEPS, env: NodeJS.ProcessEnv = process.env): number {
  if (!Number.isInteger(defaultSteps) || defaultSteps < 1) {
    throw new ConfigError([`the default number of training steps must be a whole number >= 1, got ${defaultSteps}`]);
  }
  const raw = env[STEPS_ENV];
  if (raw === undefined || raw.trim() === '') return defaultSteps;
  const text = raw.trim().replace(/[_,](?=\d{3}(\D|$))/g, '');
  const steps = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(steps) || steps < 1) {
    throw new ConfigError([
      `${STEPS_ENV} must be a whole number of training steps >= 1 (e.g. ${STEPS_ENV}=2000), got ${JSON.stringify(raw)}; ` +
        `unset it to run the tutorial's ${defaultSteps} steps`,
    ]);
  }
  return steps;
}

/**
 * How often to evaluate a run of `trainingSteps` steps: the tutorial's every 1,000 steps, or
 * ten times per run when the run is shorter than 10,000 steps, so that a quick run still draws
 * an accuracy curve.
 */
export function evalEveryFor(trainingSteps: number, tutorialEvery: number = TUTORIAL_EVAL_EVERY): number {
  if (trainingSteps >= 10 * tutorialEvery) return tutorialEvery;
  return Math.max(1, Math.round(trainingSteps / 10));
}

/**
 * The tutorial's configuration for a notebook: its constants, `notebookSteps()` training steps
 * and an evaluation interval that suits that length (`evalEveryFor`), then `overrides`.
 */
export function tutorialConfig(overrides: Partial<TrainingConfig> = {}, env: NodeJS.ProcessEnv = process.env): TrainingConfig {
  const trainingSteps = overrides.trainingSteps ?? notebookSteps(TUTORIAL_STEPS, env);
  return makeConfig({ trainingSteps, evalEvery: evalEveryFor(trainingSteps), ...overrides });
}

/**
 * `trainer.run(options)` from a notebook cell, so that *Kernel → Interrupt* stops the training
 * after the current step: one line says where (from `options.log`, else printed here), the
 * history so far is kept in `trainer.history`, and the cell ends normally, so the cells below it
 * run (src/interrupt.ts).
 */
export async function runInNotebook(trainer: Trainer, options: RunOptions = {}): Promise<History> {
  const history = await trainer.run({ stopOnSigint: true, ...options });
  if (options.log === undefined && history.status === 'stopped') {
    const steps = (n: number) => n.toLocaleString('en-US');
    console.log(`${options.signal?.aborted === true ? 'stopped' : 'interrupted'} at step ${steps(trainer.globalStep)} of ${steps(history.config.trainingSteps)}: the history so far is kept in trainer.history`);
  }
  return history;
}

/** Rows as a plain-text table with aligned columns (numbers right-aligned), for `console.log`. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The side of a square image of `imageSize` pixels (28 for MNIST). */
function sideOf(data: DataSet): number {
  const side = Math.round(Math.sqrt(data.imageSize));
  if (side * side !== data.imageSize) throw new Error(`images of ${data.imageSize} pixels are not square`);
  return side;
}

function checkIndex(data: DataSet, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= data.count) {
    throw new RangeError(`image index ${index} is outside 0-${data.count - 1}`);
  }
}

/** One image as text: darker pixels are denser characters; blank rows above and below are left out. */
export function asciiDigit(data: DataSet, index: number): string {
  checkIndex(data, index);
  const side = sideOf(data);
  const shades = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let row = 0; row < side; row++) {
    let line = '';
    for (let col = 0; col < side; col++) {
      const value = data.images[index * data.imageSize + row * side + col];
      line += shades[Math.min(shades.length - 1, Math.floor(value * shades.length))];
    }
    lines.push(line.trimEnd());
  }
  while (lines.length > 1 && lines[0] === '') lines.shift();
  while (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines.join('\n');
}

/**
 * Images side by side in one PNG (black digits on white, each pixel drawn `scale` times
 * larger), e.g. for `tslab.display.png`.
 */
export function digitsPng(data: DataSet, indices: number[], scale = 3): Uint8Array {
  if (indices.length === 0) throw new RangeError('no images to draw');
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new RangeError(`scale must be a whole number 1-16, got ${scale}`);
  indices.forEach((index) => checkIndex(data, index));
  const side = sideOf(data);
  const gap = 2;
  const cell = side * scale;
  const png = new PNG({ width: indices.length * (cell + gap) - gap, height: cell, colorType: 6 });
  png.data.fill(255);
  indices.forEach((index, n) => {
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const value = data.images[index * data.imageSize + Math.floor(y / scale) * side + Math.floor(x / scale)];
        const shade = 255 - Math.round(Math.min(1, Math.max(0, value)) * 255);
        const at = (y * png.width + n * (cell + gap) + x) * 4;
        png.data[at] = shade;
        png.data[at + 1] = shade;
        png.data[at + 2] = shade;
      }
    }
  });
  return new Uint8Array(PNG.sync.write(png));
}

// ---------------------------------------------------------------------------------------------
// `npm run notebooks`: Jupyter with the tslab kernel, in notebooks/

/** The Jupyter front end to start: JupyterLab when installed, else the classic Notebook. */
export interface JupyterLaunch {
  /** The Python that has Jupyter. */
  python: string;
  app: 'jupyterlab' | 'notebook';
  /** Arguments after `python -m app`. */
  args: string[];
}

/** Runs a Python snippet; true when it exits 0. */
export type PythonCheck = (python: string, code: string) => boolean;

function defaultPythonCheck(python: string, code: string): boolean {
  const result = spawnSync(python, ['-c', code], { stdio: 'ignore', timeout: 60_000 });
  return result.error === undefined && result.status === 0;
}

/** The interpreter named by the `#!` line of the `jupyter` command on PATH, if it is a plain path. */
function jupyterShebang(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const path = join(dir, 'jupyter');
    if (!existsSync(path)) continue;
    try {
      const first = readFileSync(path, 'utf8').slice(0, 300).split('\n')[0];
      const match = /^#!\s*(\S+)\s*$/.exec(first);
      return match?.[1];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The project's own Jupyter environment (`scripts/setup-jupyterlab.sh` makes it): `MNIST_VENV` or `.venv`. */
export function projectVenv(env: NodeJS.ProcessEnv = process.env, root: string = resolve(__dirname, '..')): string {
  return resolve(root, env.MNIST_VENV?.trim() || '.venv');
}

/** The one command that installs the pinned JupyterLab and the tslab kernel into the project's environment. */
export const JUPYTERLAB_SETUP_COMMAND = 'npm run notebooks:setup';

/**
 * Which Python and which Jupyter app to start. `JUPYTER_PYTHON`, when it has Jupyter, is used as
 * it is. Otherwise the first of the project's environment (`projectVenv`), the interpreter of the
 * `jupyter` command on PATH, `python3` and `/usr/bin/python3` that has JupyterLab, else the first
 * that has the classic Notebook. Throws with what to install when none has Jupyter.
 */
export function findJupyter(env: NodeJS.ProcessEnv = process.env, check: PythonCheck = defaultPythonCheck, venv: string = projectVenv(env)): JupyterLaunch {
  const explicit = env.JUPYTER_PYTHON?.trim();
  const candidates = [explicit, join(venv, 'bin', 'python'), jupyterShebang(env), 'python3', '/usr/bin/python3'].filter(
    (p, i, all): p is string => p !== undefined && p !== '' && all.indexOf(p) === i,
  );
  const withJupyter = candidates.filter((python) => check(python, 'import jupyter_client'));
  if (explicit !== undefined && withJupyter[0] === explicit) {
    if (check(explicit, 'import jupyterlab')) return { python: explicit, app: 'jupyterlab', args: [] };
    if (check(explicit, 'import notebook')) return { python: explicit, app: 'notebook', args: [] };
  }
  const lab = withJupyter.find((python) => check(python, 'import jupyterlab'));
  if (lab !== undefined) return { python: lab, app: 'jupyterlab', args: [] };
  const notebook = withJupyter.find((python) => check(python, 'import notebook'));
  if (notebook !== undefined) return { python: notebook, app: 'notebook', args: [] };
  throw new Error(
    `no Python with Jupyter found (tried ${candidates.join(', ')}). \`${JUPYTERLAB_SETUP_COMMAND}\` installs JupyterLab into ${venv} ` +
      '(needs python3-venv; Debian/Ubuntu: `apt-get install python3-venv`); or install it yourself, e.g. ' +
      '`apt-get install jupyter-notebook python3-ipykernel` or `pip install jupyterlab`, and set JUPYTER_PYTHON to the Python that has it.',
  );
}

/** Asks a yes/no question on the terminal; Enter means yes. */
async function askYes(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(question)).trim().toLowerCase();
    return answer === '' || answer === 'y' || answer === 'yes';
  } finally {
    rl.close();
  }
}

/** Runs scripts/setup-jupyterlab.sh; throws when it fails. */
function installJupyterLab(root: string, env: NodeJS.ProcessEnv): void {
  const result = spawnSync('bash', [join(root, 'scripts', 'setup-jupyterlab.sh')], { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`installing JupyterLab failed (scripts/setup-jupyterlab.sh exited with ${result.status ?? result.signal}); see its output above`);
}

/**
 * The Jupyter to start. Without any JupyterLab, offers to install the project's pinned one: on a
 * terminal it asks (Enter installs), elsewhere it prints the command and goes on with the classic
 * Notebook when there is one.
 */
async function chooseJupyter(root: string, env: NodeJS.ProcessEnv): Promise<JupyterLaunch> {
  let launch: JupyterLaunch | null = null;
  try {
    launch = findJupyter(env);
  } catch (error) {
    if (!process.stdin.isTTY) throw error;
  }
  if (launch?.app === 'jupyterlab') return launch;
  const venv = projectVenv(env, root);
  const offer = `JupyterLab is not installed${launch ? ` (found the classic Notebook in ${launch.python})` : ''}. One command installs the project's pinned JupyterLab and the tslab kernel into ${venv}: ${JUPYTERLAB_SETUP_COMMAND}`;
  if (process.stdin.isTTY && (await askYes(`${offer}\nInstall it now (a download of about 60 MB from PyPI)? [Y/n] `))) {
    installJupyterLab(root, env);
    return findJupyter(env);
  }
  console.log(offer);
  if (launch === null) return findJupyter(env);
  return launch;
}

/**
 * Registers the tslab kernel with that Python's Jupyter and starts Jupyter in notebooks/,
 * passing `extraArgs` on (e.g. `--no-browser --port 8890`). Resolves with Jupyter's exit status.
 */
export async function launchNotebooks(extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const root = resolve(__dirname, '..');
  const bin = join(root, 'node_modules', '.bin');
  // The kernelspec runs `tslab` from PATH: this package's, whoever starts Jupyter.
  const childEnv = { ...env, PATH: `${bin}:${env.PATH ?? '/usr/bin:/bin'}` };
  const launch = await chooseJupyter(root, childEnv);
  console.log(`Jupyter: ${launch.python} -m ${launch.app}`);
  // In the project's environment the kernel goes into the environment itself.
  const where = launch.python === join(projectVenv(env, root), 'bin', 'python') ? ['--sys-prefix'] : [];
  const install = spawnSync(process.execPath, [join(root, 'node_modules', 'tslab', 'bin', 'tslab'), 'install', `--python=${launch.python}`, ...where], { stdio: 'inherit', env: childEnv });
  if (install.status !== 0) throw new Error(`could not register the tslab kernel with ${launch.python} (exit ${install.status})`);
  const args = ['-m', launch.app, ...launch.args];
  // Jupyter refuses to run as root without this flag (containers, CI machines).
  if (process.getuid?.() === 0 && !extraArgs.includes('--allow-root')) args.push('--allow-root');
  args.push(...extraArgs);
  const steps = env[STEPS_ENV];
  console.log(`notebooks: ${join(root, 'notebooks')}; training steps: ${steps ? `${steps} (MNIST_STEPS)` : `${TUTORIAL_STEPS} (set MNIST_STEPS for a quick run)`}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(launch.python, args, { cwd: join(root, 'notebooks'), env: childEnv, stdio: 'inherit' });
    // Ctrl-C reaches Jupyter through the terminal; wait for it to shut down.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    child.on('error', reject);
    child.on('close', (code) => {
      process.off('SIGINT', ignore);
      resolvePromise(code ?? 1);
    });
  });
}

if (require.main === module) runCommand(() => launchNotebooks(process.argv.slice(2)));
