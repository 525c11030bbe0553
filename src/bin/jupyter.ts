/**
 * `npm run notebooks`: finds a Jupyter (JupyterLab first), registers the tslab kernel with it (or,
 * with `--kernel deno`, Deno's) and starts it in notebooks/. An entry point, not part of the library.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCommand } from './command';
import { STEPS_ENV, TUTORIAL_STEPS } from '../notebook/steps';

/** The package's root folder (this file is dist/bin/jupyter.js). */
const PACKAGE_ROOT = resolve(__dirname, '..', '..');

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
export function projectVenv(env: NodeJS.ProcessEnv = process.env, root: string = PACKAGE_ROOT): string {
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
export function findJupyter(
  env: NodeJS.ProcessEnv = process.env,
  check: PythonCheck = defaultPythonCheck,
  venv: string = projectVenv(env),
): JupyterLaunch {
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

/** The TypeScript kernels the notebooks run in: tslab (Node, the default) and Deno's `deno jupyter`. */
export type NotebookKernel = 'tslab' | 'deno';

/** `--kernel NAME` (or `--kernel=NAME`) taken out of the arguments; the rest go to Jupyter. */
export function kernelArgument(args: readonly string[]): { kernel: NotebookKernel; rest: string[] } {
  let kernel: string = 'tslab';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--kernel') {
      if (i + 1 >= args.length) throw new Error('--kernel needs a name: tslab or deno');
      kernel = args[++i];
    } else if (args[i].startsWith('--kernel=')) kernel = args[i].slice('--kernel='.length);
    else rest.push(args[i]);
  }
  if (kernel !== 'tslab' && kernel !== 'deno') throw new Error(`--kernel: "${kernel}" is not tslab or deno`);
  return { kernel, rest };
}

/**
 * Installs the pinned Deno into the project's environment and registers its kernel there and, for another
 * Jupyter, with that Python too (scripts/setup-deno.sh); throws when it fails.
 */
function registerDeno(root: string, python: string, venvPython: string, env: NodeJS.ProcessEnv): void {
  const args = [join(root, 'scripts', 'setup-deno.sh'), ...(python === venvPython ? [] : ['--register-with', python])];
  const result = spawnSync('bash', args, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0)
    throw new Error(
      `could not install or register the Deno kernel (scripts/setup-deno.sh exited with ${result.status ?? result.signal}); see its output above`,
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
  const result = spawnSync('bash', [join(root, 'scripts', 'setup-jupyterlab.sh')], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (result.status !== 0)
    throw new Error(
      `installing JupyterLab failed (scripts/setup-jupyterlab.sh exited with ${result.status ?? result.signal}); see its output above`,
    );
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
 * Registers the tslab kernel (or with `--kernel deno`, Deno's) with that Python's Jupyter and starts
 * Jupyter in notebooks/, passing the other arguments on (e.g. `--no-browser --port 8890`). Resolves
 * with Jupyter's exit status.
 */
export async function launchNotebooks(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { kernel, rest: extraArgs } = kernelArgument(argv);
  const root = PACKAGE_ROOT;
  const bin = join(root, 'node_modules', '.bin');
  // The kernelspec runs `tslab` from PATH: this package's, whoever starts Jupyter.
  const childEnv = { ...env, PATH: `${bin}:${env.PATH ?? '/usr/bin:/bin'}` };
  const launch = await chooseJupyter(root, childEnv);
  console.log(`Jupyter: ${launch.python} -m ${launch.app}`);
  // In the project's environment the kernel goes into the environment itself.
  const venvPython = join(projectVenv(env, root), 'bin', 'python');
  const where = launch.python === venvPython ? ['--sys-prefix'] : [];
  // tslab stays registered: the notebooks name it, and Jupyter offers both kernels.
  const install = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'tslab', 'bin', 'tslab'), 'install', `--python=${launch.python}`, ...where],
    { stdio: 'inherit', env: childEnv },
  );
  if (install.status !== 0)
    throw new Error(`could not register the tslab kernel with ${launch.python} (exit ${install.status})`);
  if (kernel === 'deno') registerDeno(root, launch.python, venvPython, childEnv);
  const args = ['-m', launch.app, ...launch.args];
  // Jupyter refuses to run as root without this flag (containers, CI machines).
  if (process.getuid?.() === 0 && !extraArgs.includes('--allow-root')) args.push('--allow-root');
  args.push(...extraArgs);
  const steps = env[STEPS_ENV];
  console.log(
    `notebooks: ${join(root, 'notebooks')}; kernel: ${kernel === 'deno' ? 'Deno (choose "Deno" in Kernel -> Change Kernel)' : 'tslab'}; training steps: ${steps ? `${steps} (MNIST_STEPS)` : `${TUTORIAL_STEPS} (set MNIST_STEPS for a quick run)`}`,
  );
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
