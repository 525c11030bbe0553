/**
 * The notebooks, run as a person runs them: every `notebooks/*.ipynb` is executed headlessly in
 * real Jupyter with the tslab kernel, then with Deno's (Debian's Python, nbclient), checked for errors and for the
 * outputs it must show, rendered to HTML with nbconvert and opened in headless Chromium, where
 * every Plotly chart must be drawn. The executed copies, their HTML pages and full-page
 * screenshots are kept in test-artifacts/notebooks/ (tslab) and test-artifacts/notebooks/deno/.
 * `NOTEBOOK_KERNELS` (default `tslab,deno`) names the kernels.
 *
 * Training is short here: `MNIST_STEPS` is `NOTEBOOK_TEST_STEPS` (default 300) for the kernels.
 * Also unit tests of src/notebook.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { ConfigError } from '../../src/core/config';
import { mnistFromBytes, type DataSet } from '../../src/data/mnist';
import type { History } from '../../src/core/history';
import { findJupyter } from '../../src/bin/jupyter';
import {
  asciiDigit,
  digitsPng,
  evalEveryFor,
  notebookSteps,
  runInNotebook,
  textTable,
  tutorialConfig,
} from '../../src/notebook/index';
import { setupBackend } from '../../src/engine/backend';
import { CHROMIUM_ARGS } from '../../src/charts/chromium';
import { mnistLikeFiles } from '../helpers/idx';
import type { Outputs } from './outputs';
import { check as check01 } from './expect-01';
import { check as check02 } from './expect-02';
import { check as check03 } from './expect-03';
import { check as check04 } from './expect-04';
import { Trainer, type RunOptions } from '../../src/train/trainer';
import { packageRoot } from '../../src/util/package-root';

const ROOT = packageRoot();
const NOTEBOOKS = join(ROOT, 'notebooks');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'notebooks');
/** Where the JupyterLab tests leave their notebooks' runs (test/lab/notebooks.test.ts). */
const LAB_RUNS = join(ROOT, 'test-artifacts', 'lab-runs');
const EXECUTOR = join(ROOT, 'test', 'notebooks', 'execute_notebook.py');
const INTERRUPTER = join(ROOT, 'test', 'notebooks', 'interrupt_kernel.py');
/** Debian's Python, the one with Jupyter (the first `python3` on PATH may be another). */
const PYTHON = process.env.NOTEBOOK_PYTHON ?? '/usr/bin/python3';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STEPS = process.env.NOTEBOOK_TEST_STEPS ?? '300';
const CELL_TIMEOUT_SECONDS = Number(process.env.NOTEBOOK_CELL_TIMEOUT ?? 900);
/** The kernels the notebooks run in: tslab (Node) and Deno's `deno jupyter`. */
type KernelName = 'tslab' | 'deno';
const KERNELS: KernelName[] = (process.env.NOTEBOOK_KERNELS ?? 'tslab,deno').split(',').map((name) => {
  const kernel = name.trim();
  if (kernel !== 'tslab' && kernel !== 'deno') throw new Error(`NOTEBOOK_KERNELS: "${kernel}" is not tslab or deno`);
  return kernel;
});

// ---------------------------------------------------------------------------------------------
// src/notebook.ts

const env = (value?: string): NodeJS.ProcessEnv => (value === undefined ? {} : { MNIST_STEPS: value });

describe('notebookSteps', () => {
  test('is the tutorial 30,000 steps when MNIST_STEPS is unset or blank', () => {
    assert.equal(notebookSteps(undefined, env()), 30000);
    assert.equal(notebookSteps(undefined, env('')), 30000);
    assert.equal(notebookSteps(undefined, env('  ')), 30000);
    assert.equal(notebookSteps(500, env()), 500);
  });

  test('reads MNIST_STEPS, with optional thousands separators', () => {
    assert.equal(notebookSteps(undefined, env('300')), 300);
    assert.equal(notebookSteps(undefined, env(' 2000 ')), 2000);
    assert.equal(notebookSteps(undefined, env('30_000')), 30000);
    assert.equal(notebookSteps(undefined, env('1,000,000')), 1000000);
  });

  test('rejects a bad MNIST_STEPS with a message naming the variable and the value', () => {
    for (const bad of ['abc', '0', '-5', '1.5', '3e4', '12abc', '3_0', '99999999999999999999']) {
      assert.throws(
        () => notebookSteps(undefined, env(bad)),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.includes('MNIST_STEPS') &&
          error.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });

  test('rejects a bad default', () => {
    assert.throws(() => notebookSteps(0, env()), ConfigError);
    assert.throws(() => notebookSteps(2.5, env()), ConfigError);
  });
});

describe('tutorialConfig and evalEveryFor', () => {
  test('evaluates every 1,000 steps in long runs, ten times in short ones', () => {
    assert.equal(evalEveryFor(30000), 1000);
    assert.equal(evalEveryFor(10000), 1000);
    assert.equal(evalEveryFor(5000), 500);
    assert.equal(evalEveryFor(300), 30);
    assert.equal(evalEveryFor(3), 1);
  });

  test("is the tutorial's configuration for notebookSteps() steps", () => {
    const config = tutorialConfig({}, env());
    assert.equal(config.trainingSteps, 30000);
    assert.equal(config.evalEvery, 1000);
    assert.equal(config.learningRateBase, 0.8);
    assert.equal(config.layer1Node, 500);
    const short = tutorialConfig({}, env('300'));
    assert.equal(short.trainingSteps, 300);
    assert.equal(short.evalEvery, 30);
    assert.equal(tutorialConfig({ trainingSteps: 50, evalEvery: 7 }, env('300')).evalEvery, 7);
    assert.throws(() => tutorialConfig({ learningRateBase: -1 }, env()), ConfigError);
  });
});

describe('notebook display helpers', () => {
  // Two 2x2 images: a diagonal and a full one.
  const data: DataSet = {
    images: Float32Array.from([1, 0, 0, 1, 1, 1, 1, 1]),
    labels: Uint8Array.from([3, 7]),
    count: 2,
    imageSize: 4,
    numClasses: 10,
  };

  test('asciiDigit draws dark pixels as dense characters', () => {
    assert.equal(asciiDigit(data, 0), '@\n @');
    const framed: DataSet = {
      images: Float32Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0]),
      labels: Uint8Array.from([1]),
      count: 1,
      imageSize: 9,
      numClasses: 10,
    };
    assert.equal(asciiDigit(framed, 0), ' @', 'blank rows above and below are left out');
    assert.throws(() => asciiDigit(data, 2), RangeError);
  });

  test('digitsPng draws the images side by side, black on white', () => {
    const png = PNG.sync.read(Buffer.from(digitsPng(data, [0, 1], 2)));
    assert.equal(png.height, 4);
    assert.equal(png.width, 2 * 4 + 2);
    const pixel = (x: number, y: number) => png.data[(y * png.width + x) * 4];
    assert.equal(pixel(0, 0), 0);
    assert.equal(pixel(3, 0), 255);
    assert.equal(pixel(4, 0), 255, 'the gap between images is white');
    assert.equal(pixel(7, 3), 0);
    assert.throws(() => digitsPng(data, []), RangeError);
    assert.throws(() => digitsPng(data, [0], 0), RangeError);
  });

  test('textTable aligns columns, numbers to the right', () => {
    assert.equal(
      textTable(
        ['name', 'value'],
        [
          ['a', 1],
          ['bcd', 22],
        ],
      ),
      'name  value\n----  -----\na         1\nbcd      22',
    );
  });
});

describe('runInNotebook', () => {
  test('runs the trainer with stopOnSigint on, unless told otherwise', async () => {
    const calls: RunOptions[] = [];
    const history = { status: 'completed', stop: { reason: 'completed', step: 3, of: 3, message: null } } as History;
    const trainer = { run: async (options: RunOptions) => (calls.push(options), history) } as unknown as Trainer;
    const log = () => undefined;
    assert.equal(await runInNotebook(trainer, { log }), history);
    assert.equal(calls[0].stopOnSigint, true);
    assert.equal(calls[0].log, log);
    await runInNotebook(trainer, { stopOnSigint: false });
    assert.equal(calls[1].stopOnSigint, false, 'an explicit stopOnSigint wins');
  });

  test("the SIGINT listener is added after the cell's synchronous start (tslab loses listeners added during it)", async () => {
    await setupBackend('wasm');
    const data = mnistFromBytes(mnistLikeFiles(50, 10));
    const trainer = new Trainer(data, { config: { layer1Node: 4, batchSize: 5, trainingSteps: 3, evalEvery: 3 } });
    const before = process.listenerCount('SIGINT');
    let during = -1;
    const running = runInNotebook(trainer, { onProgress: () => (during = process.listenerCount('SIGINT')) });
    assert.equal(process.listenerCount('SIGINT'), before, 'no listener added synchronously');
    await running;
    trainer.dispose();
    assert.equal(during, before + 1, 'the listener is there while training runs');
    assert.equal(process.listenerCount('SIGINT'), before, 'and removed afterwards');
  });
});

describe('findJupyter', () => {
  const has = (modules: Record<string, string[]>) => (python: string, code: string) =>
    (modules[python] ?? []).some((m) => code === `import ${m}`);

  test('prefers JUPYTER_PYTHON, then python3, and JupyterLab over the classic Notebook', () => {
    const check = has({
      '/opt/py': ['jupyter_client', 'notebook'],
      python3: ['jupyter_client', 'jupyterlab', 'notebook'],
    });
    assert.deepEqual(findJupyter({ PATH: '', JUPYTER_PYTHON: '/opt/py' }, check), {
      python: '/opt/py',
      app: 'notebook',
      args: [],
    });
    assert.deepEqual(findJupyter({ PATH: '' }, check), { python: 'python3', app: 'jupyterlab', args: [] });
  });

  test("skips a python3 without Jupyter (Debian's /usr/bin/python3 has it)", () => {
    const check = has({ python3: ['notebook'], '/usr/bin/python3': ['jupyter_client', 'notebook'] });
    assert.deepEqual(findJupyter({ PATH: '' }, check), { python: '/usr/bin/python3', app: 'notebook', args: [] });
  });

  test('says what to install when no Python has Jupyter', () => {
    assert.throws(() => findJupyter({ PATH: '' }, () => false), /apt-get install jupyter-notebook/);
  });
});

// ---------------------------------------------------------------------------------------------
// The notebooks in Jupyter

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
}

interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: Output[];
}

interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name?: string } };
}

const joined = (text: string | string[] | undefined) => (Array.isArray(text) ? text.join('') : (text ?? ''));

/**
 * A chart in a text/html output: a slot that the charts' display code (src/charts/display.ts) draws a Plotly chart
 * into.
 */
const CHART_DIV = /data-chart-slot="/g;

function readOutputs(notebook: Notebook): Outputs {
  const result: Outputs = { errors: [], text: '', html: '', charts: 0, images: 0, notRun: 0 };
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') return;
    if (joined(cell.source).trim() !== '' && (cell.execution_count === null || cell.execution_count === undefined))
      result.notRun++;
    for (const output of cell.outputs ?? []) {
      const where = `cell ${index + 1}`;
      if (output.output_type === 'error') result.errors.push(`${where}: ${output.ename}: ${output.evalue}`);
      if (output.output_type === 'stream') {
        const text = joined(output.text);
        if (output.name === 'stderr' && /Error/.test(text))
          result.errors.push(`${where} (stderr): ${text.trim().slice(0, 2000)}`);
        if (output.name === 'stdout') result.text += text;
      }
      if (output.data !== undefined) {
        result.text += joined(output.data['text/plain']);
        result.html += joined(output.data['text/html']);
        result.charts += (joined(output.data['text/html']).match(CHART_DIV) ?? []).length;
        if (output.data['image/png'] !== undefined) result.images++;
      }
    }
  });
  return result;
}

/** What each of the project's own notebooks must show, beyond running without errors. */
const EXPECTED: Record<string, (outputs: Outputs) => void> = {
  '01-mnist-walkthrough.ipynb': check01,
  '02-training-dynamics.ipynb': check02,
  '03-hyperparameters.ipynb': check03,
  '04-predictions.ipynb': check04,
};

function notebooks(): string[] {
  if (!existsSync(NOTEBOOKS)) return [];
  return readdirSync(NOTEBOOKS)
    .filter((name) => name.endsWith('.ipynb'))
    .sort();
}

/** Why the notebook tests cannot run here, or null when they can. */
function missingTools(): string | null {
  const python = spawnSync(PYTHON, ['-c', 'import nbclient, nbconvert, nbformat, jupyter_client'], {
    encoding: 'utf8',
  });
  if (python.error !== undefined || python.status !== 0) {
    return `${PYTHON} with nbclient and nbconvert is needed (npm run test:setup installs them): ${python.error?.message ?? python.stderr.trim().split('\n').at(-1)}`;
  }
  if (!existsSync(CHROMIUM))
    return `Chromium is needed at ${CHROMIUM} (npm run test:setup installs it; or set CHROMIUM_PATH)`;
  return null;
}

/**
 * Registers the tslab kernel with Jupyter unless it is there already; Deno's must be registered (by
 * scripts/setup-deno.sh --register-with /usr/bin/python3, which npm run test:setup runs).
 */
function ensureKernel(kernel: KernelName = 'tslab'): void {
  const listed = spawnSync(
    PYTHON,
    ['-c', 'from jupyter_client.kernelspec import KernelSpecManager as M; print("\\n".join(M().find_kernel_specs()))'],
    { encoding: 'utf8' },
  );
  if (listed.status === 0 && listed.stdout.split('\n').includes(kernel)) return;
  assert.equal(
    kernel,
    'tslab',
    `the deno kernel is not registered with ${PYTHON}'s Jupyter: run npm run test:setup (or bash scripts/setup-deno.sh --register-with ${PYTHON})`,
  );
  const install = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab'), 'install', `--python=${PYTHON}`],
    { encoding: 'utf8' },
  );
  assert.equal(install.status, 0, `could not register the tslab kernel:\n${install.stdout}${install.stderr}`);
}

function kernelEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The kernelspec runs `tslab` from PATH: this package's.
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    MNIST_STEPS: STEPS,
    // auto's fixed order (native TensorFlow first): no timing probe, nothing written to the user's cache.
    MNIST_PROBE: 'off',
    // Runs saved by the notebooks go to the artifacts, not to the user's runs/.
    MNIST_RUNS_DIR: join(ARTIFACTS, 'runs'),
    // No colour codes in the kernels' output.
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  };
}

interface Finished {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

const tail = (text: string, lines = 40) => text.trim().split('\n').slice(-lines).join('\n');

interface PageReport {
  /** Plotly chart divs in the page. */
  charts: number;
  /** Traces drawn in each chart. */
  traces: number[];
  /** Charts that Plotly did not draw. */
  undrawn: number;
}

/** Opens the page in headless Chromium, waits for every chart, counts their traces and takes a screenshot. */
async function inspectPage(html: string, screenshot: string): Promise<{ report: PageReport; pageErrors: string[] }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 60_000 });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load', timeout: 120_000 });
    const count = () =>
      page.evaluate((): PageReport => {
        // Each chart slot gets a Plotly graph div (class js-plotly-plot) once drawn.
        const slots = Array.from(document.querySelectorAll('[data-chart-slot]'));
        const plots = slots.map(
          (slot) => slot.querySelector('.js-plotly-plot') as (Element & { _fullData?: { visible?: unknown }[] }) | null,
        );
        // The visible traces of each drawn plot (scatter, bar, heatmap, ...).
        const traces = plots.map((plot) =>
          plot === null ? 0 : (plot._fullData ?? []).filter((trace) => trace.visible !== false).length,
        );
        const undrawn = plots.filter((plot) => plot === null || plot.querySelector('.main-svg') === null).length;
        return { charts: slots.length, traces, undrawn };
      });
    const deadline = Date.now() + 60_000;
    let report = await count();
    while (report.undrawn > 0 && Date.now() < deadline && pageErrors.length === 0) {
      await page.waitForTimeout(250);
      report = await count();
    }
    // MathJax's "Loading ..." box would otherwise sit on top of the screenshot.
    await page.addStyleTag({ content: '#MathJax_Message { display: none !important; }' });
    await page.screenshot({ path: screenshot, fullPage: true });
    return { report, pageErrors };
  } finally {
    await browser.close();
  }
}

describe('notebooks', () => {
  const found = notebooks();
  const missing = missingTools();

  test('notebooks/ holds the walkthrough and the training-dynamics notebooks', () => {
    assert.ok(found.includes('01-mnist-walkthrough.ipynb'), `notebooks/: ${found.join(', ')}`);
    assert.ok(found.includes('02-training-dynamics.ipynb'), `notebooks/: ${found.join(', ')}`);
  });

  // Runs saved by an earlier test run must not stand in for training now (notebooks reuse saved
  // runs of the same configuration): start from an empty runs folder. Within this run, the
  // notebooks run in order and may reuse each other's runs, as they do for a person.
  before(() => {
    rmSync(join(ARTIFACTS, 'runs'), { recursive: true, force: true });
    // The runs the JupyterLab tests saved at the same MNIST_STEPS, when they ran first (as in npm test), start the
    // runs folder, as a user's would hold them: 03's sweep is then reused here rather than trained once more.
    if (existsSync(LAB_RUNS)) cpSync(LAB_RUNS, join(ARTIFACTS, 'runs'), { recursive: true });
  });

  // Deno's pass comes second and shares the runs folder: its notebooks reuse the runs trained under tslab (the sweep
  // of 03 above all), as a person's would, and so add a few minutes only; 01 trains under Deno whatever is saved.
  for (const kernel of KERNELS)
    for (const name of found) {
      test(
        `${name} runs in Jupyter (${kernel} kernel, MNIST_STEPS=${STEPS}) and its charts draw`,
        { timeout: 40 * 60_000 },
        async (t) => {
          assert.equal(missing, null, missing ?? '');
          assert.ok(
            existsSync(join(ROOT, 'dist', 'index.js')),
            'dist/ is missing: run `npm run build` first (the notebooks import ../dist)',
          );
          const source = JSON.parse(readFileSync(join(NOTEBOOKS, name), 'utf8')) as Notebook;
          assert.equal(source.metadata.kernelspec?.name, 'tslab', `${name} must use the tslab kernel`);
          ensureKernel(kernel);
          const artifacts = kernel === 'tslab' ? ARTIFACTS : join(ARTIFACTS, kernel);
          mkdirSync(artifacts, { recursive: true });
          const base = name.replace(/\.ipynb$/, '');
          const executed = join(artifacts, name);
          rmSync(executed, { force: true });

          const started = Date.now();
          const execution = await run(
            PYTHON,
            [EXECUTOR, join(NOTEBOOKS, name), executed, '--kernel', kernel, '--timeout', String(CELL_TIMEOUT_SECONDS)],
            { cwd: ROOT, env: kernelEnv() },
          );
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          assert.ok(
            existsSync(executed),
            `${name}: no executed copy was written (exit ${execution.status}):\n${tail(execution.stderr)}`,
          );
          const outputs = readOutputs(JSON.parse(readFileSync(executed, 'utf8')) as Notebook);
          assert.deepEqual(
            outputs.errors,
            [],
            `${name} shows errors (executed copy: ${executed}):\n${outputs.errors.join('\n')}`,
          );
          assert.equal(
            execution.status,
            0,
            `${name} failed after ${seconds} s (executed copy: ${executed}):\n${tail(execution.stderr)}`,
          );
          assert.equal(outputs.notRun, 0, `${name}: ${outputs.notRun} code cells did not run`);
          EXPECTED[name]?.(outputs);
          t.diagnostic(`${name} (${kernel}): executed in ${seconds} s, ${outputs.charts} charts`);

          // The executed notebook as a web page, as nbconvert renders it, in a real browser.
          const html = join(artifacts, `${base}.html`);
          rmSync(html, { force: true });
          const conversion = await run(
            PYTHON,
            ['-m', 'nbconvert', '--to', 'html', '--output-dir', artifacts, executed],
            {
              cwd: ROOT,
              env: kernelEnv(),
            },
          );
          assert.equal(conversion.status, 0, `nbconvert failed for ${name}:\n${tail(conversion.stderr)}`);
          assert.ok(existsSync(html), `nbconvert wrote no ${html}`);
          const { report, pageErrors } = await inspectPage(html, join(artifacts, `${base}.png`));
          assert.deepEqual(pageErrors, [], `${base}.html: errors in the page`);
          assert.equal(
            report.charts,
            outputs.charts,
            `${base}.html: ${outputs.charts} chart outputs in the notebook, ${report.charts} chart divs in the page`,
          );
          assert.equal(report.undrawn, 0, `${base}.html: ${report.undrawn} of ${report.charts} charts were not drawn`);
          report.traces.forEach((traces, index) =>
            assert.ok(traces >= 1, `${base}.html: chart ${index + 1} has no trace`),
          );
          t.diagnostic(
            `${base}.html (${kernel}): ${report.charts} charts drawn, traces per chart ${report.traces.join(' ')}`,
          );
        },
      );
    }
});

describe('interrupting the kernel during training', () => {
  // Deno's kernel answers Jupyter's interrupt (SIGINT) as tslab does here: runInNotebook's listener takes it.
  for (const kernel of KERNELS)
    test(
      `${kernel}: stops the run within a few steps with one calm line, runs the queued cell, keeps the history and the kernel, and frees every tensor on dispose`,
      { timeout: 10 * 60_000 },
      () => {
        assert.equal(missingTools(), null, missingTools() ?? '');
        ensureKernel(kernel);
        // The script trains in one cell, sends Jupyter's interrupt (SIGINT) once step 200 is passed,
        // then asks the same kernel where the run stands.
        const result = spawnSync(PYTHON, [INTERRUPTER, NOTEBOOKS, kernel], {
          encoding: 'utf8',
          env: {
            ...process.env,
            MNIST_PROBE: 'off',
            PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
          },
          timeout: 9 * 60_000,
        });
        assert.equal(result.status, 0, `interrupt_kernel.py failed:\n${tail(result.stdout)}\n${tail(result.stderr)}`);
        const findings = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
          interruptedCell: {
            status: string;
            secondsToIdle: number;
            stdoutAfterMarker: string[];
            stderr: string;
            errorOutputs: number;
          };
          queuedCell: { status: string; report: { status: string; step: number; recorded: number } | null };
          afterInterrupt: { status: string; step: number; recorded: number; tensors: number };
          threeSecondsLater: { step: number };
          kernelAlive: boolean;
          afterDispose: { tensors: number };
        };
        const cell = findings.interruptedCell;
        assert.equal(cell.status, 'ok', 'the interrupted cell ends normally');
        assert.equal(cell.stderr, '', 'nothing on stderr (no stack trace)');
        assert.equal(cell.errorOutputs, 0, 'no error output');
        assert.ok(cell.secondsToIdle < 5, `the kernel is idle ${cell.secondsToIdle} s after the interrupt`);
        assert.equal(
          cell.stdoutAfterMarker.length,
          1,
          `one line after the interrupt: ${JSON.stringify(cell.stdoutAfterMarker)}`,
        );
        assert.equal(
          cell.stdoutAfterMarker[0],
          `interrupted at step ${findings.afterInterrupt.step.toLocaleString('en-US')} of 100,000: the history so far is kept in trainer.history`,
        );
        assert.equal(findings.queuedCell.status, 'ok', 'the cell queued after the training cell runs');
        assert.deepEqual(
          findings.queuedCell.report,
          {
            ...findings.queuedCell.report,
            status: 'stopped',
            step: findings.afterInterrupt.step,
            recorded: findings.afterInterrupt.recorded,
          },
          'and sees the history',
        );
        assert.equal(findings.kernelAlive, true, 'the kernel survives the interrupt');
        assert.equal(findings.afterInterrupt.status, 'stopped');
        assert.ok(
          findings.afterInterrupt.step >= 200 && findings.afterInterrupt.step < 260,
          `stopped at step ${findings.afterInterrupt.step}, soon after step 200`,
        );
        assert.equal(
          findings.threeSecondsLater.step,
          findings.afterInterrupt.step,
          'no training goes on in the background',
        );
        assert.ok(findings.afterInterrupt.recorded >= 20, 'the history so far is kept');
        assert.equal(findings.afterDispose.tensors, 0, 'no tensor left after dispose');
      },
    );
});
