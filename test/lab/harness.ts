/**
 * A real JupyterLab (or Notebook 7) for browser tests: the project's virtual environment
 * (`scripts/setup-jupyterlab.sh`), started on 127.0.0.1 with a token, a temporary root folder
 * and its own settings, data and runtime folders (nothing of the user's Jupyter is read or
 * written), and driven through playwright-core with Debian's Chromium.
 *
 * - `startLab` / `lab.stop()`: the server;
 * - `openBrowser`, `openNotebook`: a page with a notebook open and its kernel started;
 * - `runAll`, `labCommand`, `cellStates`, `kernelStatus`: run cells (or any command, e.g.
 *   `kernelmenu:interrupt`) and judge when they are done by their execution counts (tslab
 *   reports idle after each queued cell, so the kernel status alone says nothing about the end
 *   of Run All);
 * - `trustNotebook`: sign a notebook, as Jupyter does when it saves one it ran;
 * - `writeNotebook`: a notebook file from cell sources (and optional saved outputs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../../src/charts/chromium';
import { packageRoot } from '../../src/util/package-root';

/** The repository's root (this file is compiled to build/test/lab/). */
export const REPO_ROOT = packageRoot();

/** The project's Jupyter environment: `MNIST_VENV` or `.venv` in the repository. */
export function labVenv(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(REPO_ROOT, env.MNIST_VENV ?? '.venv');
}

/** Why the Lab tests cannot run here, or null when they can. */
export function labUnavailable(env: NodeJS.ProcessEnv = process.env): string | null {
  const jupyter = join(labVenv(env), 'bin', 'jupyter');
  if (!existsSync(jupyter)) return `${jupyter} is missing: run scripts/setup-jupyterlab.sh (or npm run test:setup)`;
  return null;
}

export interface Lab {
  app: 'lab' | 'notebook' | 'classic';
  /** The server's base URL, e.g. http://127.0.0.1:41234/ */
  url: string;
  token: string;
  /** The folder the server serves (temporary; removed by `stop`). */
  root: string;
  /** The server's environment (its own Jupyter folders). */
  env: NodeJS.ProcessEnv;
  /** The server's output so far, for error messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartLabOptions {
  /**
   * JupyterLab (default) or Notebook 7 from the project's environment, or Debian's classic Notebook 6
   * (`/usr/bin/python3`).
   */
  app?: 'lab' | 'notebook' | 'classic';
  /** Files to put in the root folder before starting (path relative to the root -> contents). */
  files?: Record<string, string>;
  /** Symbolic links in the root folder (name -> target), e.g. the compiled package. */
  links?: Record<string, string>;
  /** Seconds to wait for the server (default 90). */
  timeoutSeconds?: number;
  /** Environment variables for the server and its kernels (e.g. MNIST_STEPS), added to this process's. */
  env?: Record<string, string>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts a Jupyter server from the project's environment in a fresh temporary root folder. */
export async function startLab(options: StartLabOptions = {}): Promise<Lab> {
  const app = options.app ?? 'lab';
  const unavailable = app === 'classic' ? null : labUnavailable();
  if (unavailable !== null) throw new Error(unavailable);
  const home = await mkdtemp(join(tmpdir(), 'mnist-lab-'));
  const root = join(home, 'root');
  const dirs = {
    JUPYTER_CONFIG_DIR: 'config',
    JUPYTER_DATA_DIR: 'data',
    JUPYTER_RUNTIME_DIR: 'runtime',
    JUPYTERLAB_SETTINGS_DIR: 'settings',
    JUPYTERLAB_WORKSPACES_DIR: 'workspaces',
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // auto's fixed order (native TensorFlow first): no timing probe, nothing written to the user's cache.
    MNIST_PROBE: 'off',
    ...options.env,
    PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
  for (const [name, dir] of Object.entries(dirs)) {
    env[name] = join(home, dir);
    await mkdir(join(home, dir), { recursive: true });
  }
  // No news prompt in the screenshots.
  await mkdir(join(home, 'settings', '@jupyterlab', 'apputils-extension'), { recursive: true });
  await writeFile(
    join(home, 'settings', '@jupyterlab', 'apputils-extension', 'notification.jupyterlab-settings'),
    JSON.stringify({ fetchNews: 'false', checkForUpdates: false }),
  );
  await mkdir(root, { recursive: true });
  for (const [path, text] of Object.entries(options.files ?? {})) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  const { symlink } = await import('node:fs/promises');
  for (const [name, target] of Object.entries(options.links ?? {})) await symlink(target, join(root, name));

  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const args = [
    ...(app === 'classic' ? ['-m', 'notebook'] : [app]),
    '--no-browser',
    '--ip=127.0.0.1',
    `--port=${port}`,
    '--port-retries=0',
    ...(app === 'classic'
      ? [`--NotebookApp.token=${token}`, `--NotebookApp.notebook_dir=${root}`]
      : [
          `--IdentityProvider.token=${token}`,
          `--ServerApp.root_dir=${root}`,
          // window.jupyterapp, for running commands.
          `--${app === 'lab' ? 'LabApp' : 'JupyterNotebookApp'}.expose_app_in_browser=True`,
        ]),
  ];
  if (process.getuid?.() === 0) args.push('--allow-root');
  const command = app === 'classic' ? CLASSIC_PYTHON : join(labVenv(), 'bin', 'jupyter');
  const child: ChildProcess = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolveExit) => child.on('close', () => ((exited = true), resolveExit())));
  const url = `http://127.0.0.1:${port}/`;

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      // Jupyter asks for confirmation on a first SIGINT only; SIGTERM shuts kernels down and exits.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
    await rm(home, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutSeconds ?? 90) * 1000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`jupyter ${app} exited before it was ready:\n${output.slice(-3000)}`);
    }
    try {
      const response = await fetch(`${url}api/status`, { headers: { Authorization: `token ${token}` } });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jupyter ${app} was not ready within ${options.timeoutSeconds ?? 90} s:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { app, url, token, root, env, log: () => output, stop };
}

/** Debian's Python, which has the classic Notebook 6. */
export const CLASSIC_PYTHON = '/usr/bin/python3';

/** Signs a notebook in the server's folders, as Jupyter does when it saves one it ran: its outputs are trusted. */
export async function trustNotebook(lab: Lab, path: string): Promise<void> {
  const python = lab.app === 'classic' ? CLASSIC_PYTHON : join(labVenv(), 'bin', 'python');
  const result = spawnSync(python, ['-m', 'nbformat.sign', join(lab.root, path)], { env: lab.env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`could not sign ${path}: ${result.stderr}`);
}

/** A headless Chromium (Debian's, or CHROMIUM_PATH). */
export async function openBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: findChromium(), args: [...CHROMIUM_ARGS], timeout: 60_000 });
}

/** A notebook file (nbformat 4) with the tslab kernel, from cell sources and optional saved outputs. */
export function notebookJson(cells: { source: string; outputs?: object[]; type?: 'code' | 'markdown' }[]): string {
  return JSON.stringify(
    {
      cells: cells.map((cell, i) =>
        cell.type === 'markdown'
          ? { cell_type: 'markdown', id: `cell-${i}`, metadata: {}, source: cell.source }
          : {
              cell_type: 'code',
              id: `cell-${i}`,
              execution_count: cell.outputs ? i + 1 : null,
              metadata: {},
              outputs: cell.outputs ?? [],
              source: cell.source,
            },
      ),
      metadata: {
        kernelspec: { display_name: 'TypeScript', language: 'typescript', name: 'tslab' },
        language_info: { name: 'typescript' },
      },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  );
}

/**
 * Opens `path` (relative to the root) and waits until its kernel is idle (classic Notebook: until its cells are shown).
 */
export async function openNotebook(page: Page, lab: Lab, path: string, timeoutMs = 90_000): Promise<void> {
  // `reset`: a fresh workspace, without the tabs (and kernels) of notebooks opened before.
  const route = lab.app === 'lab' ? `lab/tree/${path}?reset&` : `notebooks/${path}?`;
  await page.goto(`${lab.url}${route}token=${lab.token}`, { timeout: timeoutMs });
  if (lab.app === 'classic') {
    await page.waitForSelector('#notebook-container .cell', { timeout: timeoutMs });
    return;
  }
  await page.waitForSelector('.jp-Notebook', { timeout: timeoutMs });
  await page.waitForFunction(
    () => {
      const app = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp;
      const widget = app?.shell.currentWidget;
      return widget?.sessionContext?.session?.kernel?.status === 'idle';
    },
    undefined,
    { timeout: timeoutMs, polling: 250 },
  );
}

/** What `window.jupyterapp` offers that the helpers use. */
interface JupyterApp {
  commands: { execute(id: string, args?: object): Promise<unknown> };
  shell: {
    currentWidget: {
      sessionContext?: { session?: { kernel?: { status: string; name: string } | null } | null };
      content?: { model?: { cells: { length: number; get(i: number): CellModel } } };
    } | null;
  };
}

interface CellModel {
  type: string;
  executionCount?: number | null;
  /** JupyterLab 4: 'running' from the request until the kernel's reply (the prompt's `[*]`). */
  executionState?: string;
  sharedModel: { getSource(): string };
  outputs?: { length: number; get(i: number): { type: string; toJSON(): Record<string, unknown> } };
}

/** The current notebook's kernel name (tslab, deno, ...), or null without a kernel. */
export async function kernelName(page: Page): Promise<string | null> {
  return page.evaluate(
    () =>
      (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp?.shell.currentWidget?.sessionContext?.session
        ?.kernel?.name ?? null,
  );
}

/** The current notebook's kernel status (idle, busy, starting, ...), or null without a kernel. */
export async function kernelStatus(page: Page): Promise<string | null> {
  return page.evaluate(
    () =>
      (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp?.shell.currentWidget?.sessionContext?.session
        ?.kernel?.status ?? null,
  );
}

/** Runs a command of the Lab (e.g. `notebook:run-all-cells`, `kernelmenu:interrupt`, `docmanager:save`). */
export async function labCommand(page: Page, id: string, args: object = {}): Promise<void> {
  await page.evaluate(
    async ([command, commandArgs]) => {
      const app = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp;
      if (!app) throw new Error('window.jupyterapp is missing (start the server with expose_app_in_browser)');
      await app.commands.execute(command as string, commandArgs as object);
    },
    [id, args] as const,
  );
}

export interface CellState {
  type: string;
  executionCount: number | null;
  /** Queued or running (the prompt shows `[*]`): tslab may report the kernel idle meanwhile. */
  running: boolean;
  /** Output types (stream, display_data, execute_result, error). */
  outputs: string[];
  /** Error outputs' names and values. */
  errors: string[];
  /** The text of the cell's stderr stream outputs. */
  stderr: string;
  /** Its other text: stdout, and the text/plain or text/markdown of its displays (tslab's `display.text`). */
  text: string;
}

/** The cells of the current notebook: execution counts and outputs. */
export async function cellStates(page: Page): Promise<CellState[]> {
  return page.evaluate(() => {
    const app = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp;
    const cells = app?.shell.currentWidget?.content?.model?.cells;
    if (!cells) throw new Error('no notebook is open');
    const states: CellState[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      const outputs: string[] = [];
      const errors: string[] = [];
      let stderr = '';
      let text = '';
      const joined = (value: unknown) =>
        Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '';
      for (let j = 0; j < (cell.outputs?.length ?? 0); j++) {
        const output = cell.outputs!.get(j);
        outputs.push(output.type);
        const json = output.toJSON();
        if (output.type === 'error') errors.push(`${String(json.ename)}: ${String(json.evalue)}`);
        else if (output.type === 'stream' && json.name === 'stderr') stderr += joined(json.text);
        else if (output.type === 'stream') text += joined(json.text);
        else {
          const data = (json.data ?? {}) as Record<string, unknown>;
          const plain = joined(data['text/markdown'] ?? (data['text/html'] === undefined ? data['text/plain'] : ''));
          if (plain !== '') text += `${plain}\n`;
        }
      }
      states.push({
        type: cell.type,
        executionCount: cell.executionCount ?? null,
        running: cell.executionState === 'running',
        outputs,
        errors,
        stderr,
        text,
      });
    }
    return states;
  });
}

/**
 * Run All, waiting until every code cell has an execution count newer than before (or one cell
 * failed, after which the kernel drops the rest). Returns the cells' states.
 */
export async function runAll(page: Page, timeoutMs = 300_000): Promise<CellState[]> {
  const before = await cellStates(page);
  const previous = Math.max(0, ...before.map((c) => c.executionCount ?? 0));
  await startLabCommand(page, 'notebook:run-all-cells');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await cellStates(page);
    const code = states.filter((c) => c.type === 'code');
    if (code.some((c) => c.errors.length > 0)) return states;
    // Counts are set when a cell starts; its end is the end of its running state (and the kernel idle).
    if (
      code.every((c) => c.executionCount !== null && c.executionCount > previous && !c.running) &&
      (await kernelStatus(page)) === 'idle'
    )
      return states;
    if (Date.now() > deadline)
      throw new Error(`Run All did not finish within ${timeoutMs / 1000} s: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The current notebook's kernel id, or null without a kernel. */
export async function kernelId(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const widget = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp?.shell.currentWidget as
      { sessionContext?: { session?: { kernel?: { id: string } | null } | null } } | null | undefined;
    return widget?.sessionContext?.session?.kernel?.id ?? null;
  });
}

/**
 * Runs the cells from `index` to the end (`notebook:run-all-below` with that cell active), waiting
 * as `runAll` does for every one of them. Returns all cells' states.
 */
export async function runFrom(page: Page, index: number, timeoutMs = 300_000): Promise<CellState[]> {
  const before = await cellStates(page);
  const previous = Math.max(0, ...before.map((c) => c.executionCount ?? 0));
  await page.evaluate((i) => {
    const widget = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp?.shell.currentWidget as
      { content?: { activeCellIndex: number } } | null | undefined;
    if (!widget?.content) throw new Error('no notebook is open');
    widget.content.activeCellIndex = i;
  }, index);
  await startLabCommand(page, 'notebook:run-all-below');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await cellStates(page);
    const code = states.slice(index).filter((c) => c.type === 'code');
    if (code.some((c) => c.errors.length > 0)) return states;
    if (
      code.every((c) => c.executionCount !== null && c.executionCount > previous && !c.running) &&
      (await kernelStatus(page)) === 'idle'
    )
      return states;
    if (Date.now() > deadline)
      throw new Error(
        `the cells from ${index} on did not finish within ${timeoutMs / 1000} s: ${JSON.stringify(states.slice(index))}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a command without waiting for it: `notebook:run-all-cells` resolves only when every cell
 * has run, and a test may want to act (e.g. interrupt) meanwhile.
 */
export async function startLabCommand(page: Page, id: string, args: object = {}): Promise<void> {
  await page.evaluate(
    ([command, commandArgs]) => {
      const app = (window as unknown as { jupyterapp?: JupyterApp }).jupyterapp;
      if (!app) throw new Error('window.jupyterapp is missing (start the server with expose_app_in_browser)');
      void app.commands.execute(command as string, commandArgs as object);
    },
    [id, args] as const,
  );
}
