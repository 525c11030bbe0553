/**
 * The four notebooks driven through a real JupyterLab (and Notebook 7) as a user drives them:
 * Run All, save and reopen, export, edit the hyperparameter cell and run again, interrupt a long
 * training cell, the committed notebooks opened untrusted, the drawing pad drawn on with the mouse.
 *
 * The notebooks are copies of `notebooks/*.ipynb` (outputs cleared) in the server's root folder,
 * beside links to the compiled package, node_modules, package.json and test/ (their `../dist` and
 * `../test/fixtures` work as in the repository); the kernels get MNIST_STEPS (300 unless
 * MNIST_LAB_STEPS says otherwise), MNIST_RUNS_DIR=test-artifacts/lab-runs (emptied first) and
 * MNIST_BACKEND=wasm. Cells are found by stable markers in their source, not by their numbers. Screenshots go to
 * test-artifacts/lab/. Needs the project's Jupyter environment (`npm run notebooks:setup`):
 * without it the tests are skipped, except with CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { loadMnist } from '../../src/data/mnist';
import { drawStrokes, skeletonStrokes } from '../helpers/strokes';
import {
  cellStates,
  kernelId,
  kernelName,
  labCommand,
  labUnavailable,
  openBrowser,
  openNotebook,
  REPO_ROOT,
  runAll,
  runFrom,
  startLab,
  startLabCommand,
  type CellState,
  type Lab,
} from './harness';

const STEPS = Number(process.env.MNIST_LAB_STEPS ?? 300);
/** The training steps of the interrupted run: long enough to be stopped in the middle. */
const LONG_STEPS = 20000;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'lab');
/** The runs the notebooks save here (MNIST_RUNS_DIR), emptied when the tests start. */
const LAB_RUNS = join(REPO_ROOT, 'test-artifacts', 'lab-runs');
const NAMES = ['01-mnist-walkthrough', '02-training-dynamics', '03-hyperparameters', '04-predictions'] as const;
type Name = (typeof NAMES)[number];

/**
 * The kernels' environment. One thread per training step: on a loaded machine (CI, or cores shared
 * with other jobs) a step split across worker threads waits for each of them to be scheduled,
 * and the short runs here gain nothing from the split. The interrupt test uses the default split.
 */
const LAB_ENV = (runsDir: string) => ({
  MNIST_STEPS: String(STEPS),
  MNIST_RUNS_DIR: runsDir,
  MNIST_BACKEND: 'wasm',
  MNIST_WORKERS: '1',
});

const HYPERPARAMETERS = '// ============================== HYPERPARAMETERS ==============================';
/**
 * The final test table of 01, 02 and 03: where each looks at the test set once, at the end (04
 * studies the test set by design). It is the first code cell that prints the final test accuracy:
 * in 01 (section 16) and 02 ("Test accuracy, once") the cell that prints "final test accuracy",
 * in 03 (section 5) the `summaryTable` of the 'test' column.
 */
const FINAL_TEST_TABLE = /final test accuracy|, 'test'\), 'test'\)/;
/**
 * Test accuracy in words a learner reads: "test accuracy", the "test mean" column of a table, or
 * a percentage shortly after the word "test" ("test 96.03 %"), on one line.
 */
const TEST_ACCURACY = /test accuracy|test mean|\btest\b[^\n%]{0,30}?\d+(?:\.\d+)?\s?%/i;
/** The cell of 03 that trains every run with its live chart, and the one that lists the variants. */
const SWEEP_MARKER = 'runAblation(';
const VARIANTS_MARKER = 'const variants: Variant[]';
const MARKERS = { training: 'runInNotebook(', export: 'exportRunCharts(', drawing: 'drawDigit(' } as const;
const TENSORS = 'LAB-TENSORS';

const unavailable = labUnavailable();
const skip = unavailable !== null && process.env.CI !== 'true' ? `Jupyter is not set up (${unavailable})` : false;

interface NotebookCell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata: object;
  outputs?: unknown[];
  execution_count?: number | null;
}
interface NotebookFile {
  cells: NotebookCell[];
  metadata?: Record<string, unknown>;
}

const sourceOf = (cell: NotebookCell): string => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

async function readNotebook(name: Name): Promise<NotebookFile> {
  return JSON.parse(await readFile(join(REPO_ROOT, 'notebooks', `${name}.ipynb`), 'utf8')) as NotebookFile;
}

/** Deno's kernel, as `deno jupyter --install` (and scripts/setup-deno.sh) registers it. */
const DENO = { display_name: 'Deno', language: 'typescript', name: 'deno' };

/** The notebook without outputs, as a user's fresh run starts. */
/** The notebook with another kernel named in its metadata. */
function withKernel(notebook: NotebookFile, kernelspec: typeof DENO): NotebookFile {
  return { ...notebook, metadata: { ...notebook.metadata, kernelspec } };
}

function cleared(notebook: NotebookFile): NotebookFile {
  return {
    ...notebook,
    cells: notebook.cells.map((c) => (c.cell_type === 'code' ? { ...c, outputs: [], execution_count: null } : c)),
  };
}

/** The index of the first code cell whose source contains `marker`; fails naming the notebook. */
function cellWith(notebook: NotebookFile, marker: string, name: string): number {
  const index = notebook.cells.findIndex((c) => c.cell_type === 'code' && sourceOf(c).includes(marker));
  if (index < 0) throw new Error(`no ${marker} cell in ${name}`);
  return index;
}

function codeCell(source: string, id: string): NotebookCell {
  return { cell_type: 'code', id, source, metadata: {}, outputs: [], execution_count: null };
}

/** A cell that prints the number of tensors TensorFlow.js holds. */
const tensorCell = (id: string) =>
  codeCell(`console.log('${TENSORS}', (await import('@tensorflow/tfjs')).memory().numTensors);`, id);

/**
 * 01 for the interrupt: trainingSteps from MNIST_STEPS set to LONG_STEPS at the top of the
 * hyperparameter cell, a tensor count before the trainer is made and one at the end.
 */
function interruptCopy(notebook: NotebookFile): NotebookFile {
  const copy = cleared(notebook);
  const cells = [...copy.cells];
  const hyper = cellWith(copy, HYPERPARAMETERS, '01');
  cells[hyper] = {
    ...cells[hyper],
    source: sourceOf(cells[hyper]).replace(
      HYPERPARAMETERS,
      `${HYPERPARAMETERS}\nprocess.env.MNIST_STEPS = '${LONG_STEPS}';\ndelete process.env.MNIST_WORKERS; // the default engine, as users run it`,
    ),
  };
  const training = cellWith(copy, MARKERS.training, '01');
  // The trainer is made in the training cell or in the nearest code cell above it.
  let made = training;
  for (let i = training; i >= 0; i--) {
    if (cells[i].cell_type === 'code' && sourceOf(cells[i]).includes('new Trainer(')) {
      made = i;
      break;
    }
    if (i < training && cells[i].cell_type === 'code') break;
  }
  cells.splice(made, 0, tensorCell('lab-tensors-before'));
  cells.push(tensorCell('lab-tensors-after'));
  return { ...copy, cells };
}

/** What plotly.js drew in each cell's outputs (current notebook). */
interface CellCharts {
  index: number;
  /** Chart slots of the package's chart outputs. */
  slots: number;
  /** Slots holding a drawn plotly.js plot. */
  drawnSlots: number;
  plots: number;
  traces: { name: string; points: number; sum: number }[];
  /** Static fallback images still visible (a chart not drawn). */
  visibleFallbacks: number;
}

async function chartsByCell(page: Page): Promise<CellCharts[]> {
  return page.evaluate(() => {
    type Trace = { name?: string; x?: ArrayLike<number>; y?: ArrayLike<number>; z?: ArrayLike<unknown> };
    const app = (
      window as unknown as {
        jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
      }
    ).jupyterapp;
    const widgets = app?.shell.currentWidget?.content?.widgets ?? [];
    return widgets.map((cell, index) => {
      const node = cell.node;
      const slots = Array.from(node.querySelectorAll('[data-chart-slot]'));
      const plots = Array.from(node.querySelectorAll('.js-plotly-plot')) as (HTMLElement & { data?: Trace[] })[];
      const traces = plots.flatMap((p) =>
        (p.data ?? []).map((t) => {
          const ys = Array.from(t.y ?? []).map(Number);
          return {
            name: String(t.name ?? ''),
            points: t.x?.length ?? t.y?.length ?? t.z?.length ?? 0,
            sum: ys.filter(Number.isFinite).reduce((a, b) => a + b, 0),
          };
        }),
      );
      const visibleFallbacks = Array.from(node.querySelectorAll('img.mnist-chart-fallback')).filter(
        (img) => (img as HTMLElement).offsetParent !== null,
      ).length;
      return {
        index,
        slots: slots.length,
        drawnSlots: slots.filter((s) => s.querySelector('.js-plotly-plot') !== null).length,
        plots: plots.length,
        traces,
        visibleFallbacks,
      };
    });
  });
}

/**
 * Waits until the notebook shows at least `minSlots` chart slots and every one holds a drawn plot
 * (outputs appear as a reopened notebook renders, and the draw scripts retry while plotly.js loads).
 */
async function drawnCharts(page: Page, what: string, minSlots = 0, timeoutMs = 60_000): Promise<CellCharts[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const charts = await chartsByCell(page);
    const missing = charts.filter((c) => c.drawnSlots < c.slots || c.visibleFallbacks > 0);
    const slots = charts.reduce((s, c) => s + c.slots, 0);
    if (missing.length === 0 && slots >= minSlots) return charts;
    if (Date.now() > deadline) {
      if (slots < minSlots) throw new Error(`${what}: ${slots} chart slots shown, expected ${minSlots}`);
      throw new Error(
        `${what}: charts not drawn by plotly.js in cells ${missing.map((c) => `${c.index} (${c.drawnSlots} of ${c.slots} slots, ${c.visibleFallbacks} images shown)`).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const summary = (charts: CellCharts[]) => ({
  slots: charts.reduce((s, c) => s + c.slots, 0),
  plots: charts.reduce((s, c) => s + c.plots, 0),
  traces: charts.reduce((s, c) => s + c.traces.length, 0),
});

/** Every code cell executed (a count newer than `after`), no error and no stderr output. */
function checkCells(states: CellState[], what: string, after = 0): void {
  states.forEach((c, i) => {
    if (c.type !== 'code') return;
    assert.deepEqual(c.errors, [], `${what}: error output in cell ${i}`);
    assert.equal(c.stderr, '', `${what}: stderr output in cell ${i}`);
    assert.ok(
      c.executionCount !== null && c.executionCount > after,
      `${what}: cell ${i} was not executed (count ${c.executionCount})`,
    );
  });
}

/** Takes a screenshot of the viewport with the cell `index` of the current notebook scrolled to the top. */
async function shot(page: Page, index: number, file: string): Promise<void> {
  await page.evaluate((i) => {
    const app = (
      window as unknown as {
        jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
      }
    ).jupyterapp;
    app?.shell.currentWidget?.content?.widgets[i]?.node.scrollIntoView({ block: 'start' });
  }, index);
  await new Promise((r) => setTimeout(r, 500));
  await page.screenshot({ path: join(ARTIFACTS, file) });
}

/** Shuts down every kernel of the server (the notebooks done with; each holds MNIST in memory). */
async function shutdownKernels(lab: Lab): Promise<void> {
  const headers = { Authorization: `token ${lab.token}` };
  const sessions = (await (await fetch(`${lab.url}api/sessions`, { headers })).json()) as { id: string }[];
  for (const session of sessions) await fetch(`${lab.url}api/sessions/${session.id}`, { method: 'DELETE', headers });
}

/** Opens a notebook in a fresh Lab page state (others closed, their kernels shut down). */
async function reopen(page: Page, lab: Lab, path: string): Promise<void> {
  await labCommand(page, 'application:close-all').catch(() => undefined);
  await shutdownKernels(lab);
  await openNotebook(page, lab, path);
}

/**
 * What a learner can read in each output of the current notebook: its text (HTML tables and
 * stream text), the text drawn in its charts (titles, axes, legends) and the names of their traces.
 */
async function outputText(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    type Plot = HTMLElement & { data?: { name?: string }[] };
    const app = (
      window as unknown as {
        jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
      }
    ).jupyterapp;
    const texts: string[] = [];
    for (const cell of app?.shell.currentWidget?.content?.widgets ?? []) {
      // JupyterLab renders the cells near the view only: each is scrolled to before it is read.
      cell.node.scrollIntoView();
      await new Promise((r) => setTimeout(r, 100));
      texts.push(
        Array.from(cell.node.querySelectorAll('.jp-OutputArea-output'))
          .map((output) => {
            const svgText = Array.from(output.querySelectorAll('svg text')).map((t) => t.textContent ?? '');
            // A chart not drawn yet shows its image, titled by its alt text.
            const alts = Array.from(output.querySelectorAll('img[alt]')).map((img) => img.getAttribute('alt') ?? '');
            const traces = (Array.from(output.querySelectorAll('.js-plotly-plot')) as Plot[]).flatMap((p) =>
              (p.data ?? []).map((t) => `trace ${String(t.name ?? '')}`),
            );
            return [(output as HTMLElement).innerText, ...svgText, ...alts, ...traces].join('\n');
          })
          .join('\n'),
      );
    }
    return texts;
  });
}

/** The legend of the first chart in cell `index` of the current notebook, against the chart's outer box. */
async function legendOf(page: Page, index: number) {
  return page.evaluate((i) => {
    const app = (
      window as unknown as {
        jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
      }
    ).jupyterapp;
    const plot = app?.shell.currentWidget?.content?.widgets[i]?.node.querySelector('.js-plotly-plot');
    const svg = plot?.querySelector('svg.main-svg');
    const legend = plot?.querySelector('g.legend');
    if (!plot || !svg || !legend) return null;
    const box = (r: DOMRect) => ({
      left: Math.round(r.left),
      top: Math.round(r.top),
      right: Math.round(r.right),
      bottom: Math.round(r.bottom),
    });
    // An SVG element's box takes in its children, even the part a scrolled legend clips.
    return {
      chart: box(svg.getBoundingClientRect()),
      legend: box(legend.getBoundingClientRect()),
      entries: Array.from(legend.querySelectorAll('.traces')).map((t) => t.textContent ?? ''),
      scrollbar: Math.round(legend.querySelector('.scrollbar')?.getBoundingClientRect().height ?? 0),
    };
  }, index);
}

/** Figures per notebook, for the report. */
const record: Record<string, unknown> = {};

describe('the notebooks in a real JupyterLab', { skip }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  let runsDir: string;
  const notebooks = new Map<Name, NotebookFile>();

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // Kept after the tests: the nbclient tests (test/notebooks) start from these runs, as a user's runs folder.
    runsDir = LAB_RUNS;
    await rm(runsDir, { recursive: true, force: true });
    await mkdir(runsDir, { recursive: true });
    const files: Record<string, string> = {};
    for (const name of NAMES) {
      const notebook = await readNotebook(name);
      notebooks.set(name, notebook);
      files[`notebooks/${name}.ipynb`] = JSON.stringify(cleared(notebook), null, 1);
      // The committed notebook with its outputs, for the untrusted view.
      files[`committed/${name}.ipynb`] = JSON.stringify(notebook, null, 1);
    }
    // 01 as a Deno user has it: the same cells, Deno's kernel in the metadata (as Kernel -> Change Kernel leaves it).
    files['notebooks/01-deno.ipynb'] = JSON.stringify(
      withKernel(cleared(notebooks.get('01-mnist-walkthrough')!), DENO),
      null,
      1,
    );
    files['notebooks/01-interrupt.ipynb'] = JSON.stringify(
      interruptCopy(notebooks.get('01-mnist-walkthrough')!),
      null,
      1,
    );
    lab = await startLab({
      files,
      links: {
        dist: join(REPO_ROOT, 'dist'),
        node_modules: join(REPO_ROOT, 'node_modules'),
        test: join(REPO_ROOT, 'test'),
        // Deno resolves a cell's npm imports through the package.json above the notebook.
        'package.json': join(REPO_ROOT, 'package.json'),
      },
      env: LAB_ENV(runsDir),
      timeoutSeconds: 240, // a loaded machine starts Jupyter slowly
    });
    browser = await openBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    console.log(`lab figures: ${JSON.stringify(record, null, 1)}`);
    await page?.close();
    await browser?.close();
    await lab?.stop();
  });

  /** Run All of a notebook (and what depends on its outputs: the export files, the drawing pad). */
  const runAllTests = (name: Name) => {
    it(`${name}: Run All executes every cell without error or stderr, plotly.js draws every chart, and they are drawn again after save and reload`, async () => {
      const path = `notebooks/${name}.ipynb`;
      await reopen(page, lab, path);
      const started = performance.now();
      const states = await runAll(page, 600_000);
      const seconds = (performance.now() - started) / 1000;
      checkCells(states, name);
      const charts = await drawnCharts(page, name);
      const drawn = summary(charts);
      const firstChart = charts.find((c) => c.plots > 0)?.index ?? 0;
      await shot(page, firstChart, `${name.slice(0, 2)}-run-all.png`);
      const lastChart = charts.filter((c) => c.plots > 0).at(-1)?.index ?? 0;
      if (lastChart !== firstChart) await shot(page, lastChart, `${name.slice(0, 2)}-run-all-last-chart.png`);

      await labCommand(page, 'docmanager:save');
      const saved = JSON.parse(await readFile(join(lab.root, path), 'utf8')) as NotebookFile;
      assert.ok(
        saved.cells.some((c) => (c.outputs ?? []).length > 0),
        `${name}: saved with its outputs`,
      );
      await page.reload();
      await openNotebook(page, lab, path);
      const reloaded = summary(await drawnCharts(page, `${name} reloaded`, drawn.slots));
      assert.deepEqual(reloaded, drawn, `${name}: the saved notebook, reloaded, draws the same plots and traces`);
      await shot(page, firstChart, `${name.slice(0, 2)}-reloaded.png`);
      record[name] = {
        cells: states.filter((c) => c.type === 'code').length,
        seconds: Math.round(seconds),
        ...drawn,
        reloaded,
      };
      assert.ok(drawn.plots > 0, `${name}: no chart drawn`);
    });

    if (name === '02-training-dynamics') {
      it('02: the export cell writes HTML, SVG and PNG files, none empty, the PNGs decodable', async () => {
        const notebook = notebooks.get(name)!;
        cellWith(notebook, MARKERS.export, '02');
        const dir = join(runsDir, 'notebook-02-charts');
        const files = await readdir(dir);
        const written: Record<string, number> = {};
        for (const ext of ['.html', '.svg', '.png']) {
          const some = files.filter((f) => f.endsWith(ext));
          assert.ok(some.length > 0, `no ${ext} file in ${dir}: ${files.join(', ')}`);
          for (const file of some) {
            const size = (await stat(join(dir, file))).size;
            assert.ok(size > 0, `${file} is empty`);
            written[file] = size;
            if (ext === '.png') {
              const png = PNG.sync.read(await readFile(join(dir, file)));
              assert.ok(png.width > 100 && png.height > 100, `${file}: ${png.width} x ${png.height} pixels`);
            }
          }
        }
        record.export = written;
      });
    }

    if (name === '04-predictions') {
      it('04: the drawing pad reads a 7 drawn with the mouse', async () => {
        const notebook = notebooks.get(name)!;
        const index = cellWith(notebook, MARKERS.drawing, '04');
        const panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const canvas = panel.locator('.mnist-draw canvas.mnist-draw-canvas');
        await canvas.waitFor({ timeout: 30_000 });
        await page.evaluate((i) => {
          const app = (
            window as unknown as {
              jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
            }
          ).jupyterapp;
          app?.shell.currentWidget?.content?.widgets[i]?.node.scrollIntoView({ block: 'start' });
        }, index);
        const data = await loadMnist();
        const seven = Array.from(data.test.labels).indexOf(7);
        await drawStrokes(page, canvas, skeletonStrokes(data.test.images.subarray(seven * 784, (seven + 1) * 784)));
        const root = panel.locator('.mnist-draw').first();
        await page.waitForFunction((el) => el?.getAttribute('data-predicted') !== null, await root.elementHandle(), {
          timeout: 10_000,
        });
        const predicted = await root.getAttribute('data-predicted');
        const answer = (await root.locator('.mnist-draw-answer').textContent()) ?? '';
        await page.screenshot({ path: join(ARTIFACTS, 'draw-digit.png') });
        record.drawing = { predicted, answer };
        assert.equal(predicted, '7', `the pad read the 7 as ${predicted} (${answer})`);
      });
    }

    if (name !== '04-predictions') {
      it(`${name}: no test accuracy in any output above the final test table (validation for choices, test once)`, async () => {
        const notebook = notebooks.get(name)!;
        const final = notebook.cells.findIndex((c) => c.cell_type === 'code' && FINAL_TEST_TABLE.test(sourceOf(c)));
        assert.ok(final >= 0, `${name}: no final test table (a code cell matching ${FINAL_TEST_TABLE})`);
        const texts = await outputText(page);
        assert.match(
          texts[final] ?? '',
          TEST_ACCURACY,
          `${name}: the final test table (cell ${final}) shows the test accuracy`,
        );
        const above = texts.slice(0, final).flatMap((text, i) =>
          text
            .split('\n')
            .filter((line) => TEST_ACCURACY.test(line))
            .map((line) => `cell ${i}: ${line.trim().slice(0, 160)}`),
        );
        record[`${name} test accuracy above the final table`] = above;
        assert.deepEqual(above, [], `${name}: test accuracy shown above the final test table (cell ${final})`);
      });
    }

    if (name === '03-hyperparameters') {
      it("03: the sweep chart's legend sits inside the chart, with at most one entry per variant", async () => {
        const notebook = notebooks.get(name)!;
        const sweep = cellWith(notebook, SWEEP_MARKER, '03');
        const variants = [
          ...sourceOf(notebook.cells[cellWith(notebook, VARIANTS_MARKER, '03')]).matchAll(/\{ name: '([^']+)'/g),
        ].map((m) => m[1]);
        assert.ok(variants.length > 0, 'no variants found in 03');
        const legend = await legendOf(page, sweep);
        assert.ok(legend !== null, `no chart with a legend in cell ${sweep} of 03`);
        record['03 sweep legend'] = { ...legend, variants: variants.length };
        // The chart at the top of the view, its table under it.
        await page.evaluate((i) => {
          const app = (
            window as unknown as {
              jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
            }
          ).jupyterapp;
          app?.shell.currentWidget?.content?.widgets[i]?.node.querySelector('.js-plotly-plot')?.scrollIntoView();
        }, sweep);
        await new Promise((r) => setTimeout(r, 500));
        await page.screenshot({ path: join(ARTIFACTS, '03-sweep-chart.png') });
        const { chart, legend: box } = legend;
        assert.ok(
          box.left >= chart.left && box.right <= chart.right && box.top >= chart.top && box.bottom <= chart.bottom,
          `the legend ${JSON.stringify(box)} leaves the chart ${JSON.stringify(chart)}`,
        );
        assert.equal(legend.scrollbar, 0, 'the legend scrolls');
        assert.ok(
          legend.entries.length <= variants.length,
          `${legend.entries.length} legend entries for ${variants.length} variants`,
        );
        for (const entry of legend.entries)
          assert.ok(variants.includes(entry), `the legend entry "${entry}" is not a variant`);
        assert.equal(
          new Set(legend.entries).size,
          legend.entries.length,
          `a variant twice in the legend: ${legend.entries.join(', ')}`,
        );
      });
    }
  };

  const live: { seconds: number; plots: number; points: number; outputs: number }[] = [];

  it(`Kernel → Interrupt during 01's training (${LONG_STEPS} steps): idle within 5 s, same kernel, one calm line, history kept, cells below work, no tensor leaked`, async () => {
    const path = 'notebooks/01-interrupt.ipynb';
    const notebook = JSON.parse(await readFile(join(lab.root, path), 'utf8')) as NotebookFile;
    const training = cellWith(notebook, MARKERS.training, '01-interrupt');
    await reopen(page, lab, path);
    const kernel = await kernelId(page);
    const start = performance.now();
    await startLabCommand(page, 'notebook:run-all-cells');
    // Watch the live chart while it trains: its points grow, in the same output.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const sample = await page.evaluate((i) => {
        type Plot = HTMLElement & { data?: { x?: ArrayLike<number> }[] };
        const app = (
          window as unknown as {
            jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
          }
        ).jupyterapp;
        const node = app?.shell.currentWidget?.content?.widgets[i]?.node;
        const plots = Array.from(node?.querySelectorAll('.js-plotly-plot') ?? []) as Plot[];
        // Outputs of the cell: a redraw in place (update_display_data) replaces one, it adds none.
        const outputs = node?.querySelectorAll('.jp-OutputArea-child').length ?? 0;
        return {
          plots: plots.length,
          points: plots.reduce((s, p) => s + (p.data ?? []).reduce((t, d) => t + (d.x?.length ?? 0), 0), 0),
          outputs,
        };
      }, training);
      if (sample.plots > 0 && (live.length === 0 || sample.points !== live.at(-1)!.points))
        live.push({ seconds: Math.round((performance.now() - start) / 100) / 10, ...sample });
      if (live.length >= 4) break;
      if (Date.now() > deadline)
        throw new Error(`the live chart of 01 did not redraw 4 times in 180 s: ${JSON.stringify(live)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await shot(page, training, '01-live-chart.png');

    const requested = performance.now();
    await startLabCommand(page, 'kernelmenu:interrupt');
    // The end of the training cell: its reply (tslab reports the kernel idle while a cell awaits, so its status says
    // nothing).
    let idleAfter = Number.NaN;
    for (const until = Date.now() + 60_000; Date.now() < until;) {
      if (!(await cellStates(page))[training].running) {
        idleAfter = (performance.now() - requested) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    let states = await cellStates(page);
    const cell = states[training];
    const interruptLines = cell.text.split('\n').filter((l) => /interrupt|stopped/i.test(l));
    const sameKernel = (await kernelId(page)) === kernel;
    const found: Record<string, unknown> = {
      idleAfterSeconds: idleAfter,
      sameKernel,
      interruptLines,
      stderr: cell.stderr.split('\n')[0],
      errors: cell.errors,
    };
    record.interrupt = found;
    await shot(page, training, '01-interrupted.png');
    // Every expectation is checked, and all that fail are reported together.
    const problems: string[] = [];
    if (!(idleAfter <= 5))
      problems.push(`the kernel was idle ${idleAfter.toFixed(2)} s after the interrupt request (at most 5 s)`);
    if (!sameKernel) problems.push('the kernel was replaced');
    if (cell.stderr !== '') problems.push(`stderr output in the training cell: ${cell.stderr.split('\n')[0]}`);
    if (cell.errors.length > 0) problems.push(`error output in the training cell: ${cell.errors.join('; ')}`);
    if (interruptLines.length !== 1)
      problems.push(`${interruptLines.length} lines about the interrupt, not one: ${JSON.stringify(interruptLines)}`);

    // The cells below: Jupyter drops the queue after an interrupt; run them next.
    const belowRan = states
      .slice(training + 1)
      .some((c) => c.type === 'code' && (c.executionCount ?? 0) > (cell.executionCount ?? 0));
    found.cellsBelowRanByThemselves = belowRan;
    if (!belowRan) states = await runFrom(page, training + 1);
    checkCells(states.slice(training + 1), 'the cells below the interrupted one', cell.executionCount ?? 0);
    await shot(page, training + 1, '01-after-interrupt.png');
    const text = states
      .slice(training + 1)
      .map((c) => c.text)
      .join('\n');
    // Printed relative to the runs folder: "saved the run as $MNIST_RUNS_DIR/notebook-01" (or runs/...).
    const saved = /saved the run as (?:\$MNIST_RUNS_DIR|runs)\/(\S+)/.exec(text);
    assert.ok(saved !== null, `the run is saved by the cells below:\n${text}`);
    const historyFile = join(runsDir, saved[1], 'history.json');
    const history = JSON.parse(await readFile(historyFile, 'utf8')) as {
      status: string;
      steps: { step: number }[];
      evaluations: unknown[];
    };
    const last = history.steps.at(-1)?.step ?? -1;
    const counts = states.flatMap((c) =>
      [...c.text.matchAll(new RegExp(`${TENSORS} (\\d+)`, 'g'))].map((m) => Number(m[1])),
    );
    found.history = {
      status: history.status,
      lastStep: last,
      evaluations: history.evaluations.length,
      tensorsBefore: counts[0],
      tensorsAfter: counts[1],
      totalSeconds: Math.round((performance.now() - start) / 1000),
    };
    if (history.status === 'completed') problems.push('the run was saved as completed, not stopped');
    if (!(last > 0 && last < LONG_STEPS)) problems.push(`the history so far is not kept: last recorded step ${last}`);
    if (counts.length !== 2) problems.push(`${counts.length} tensor counts printed, not 2`);
    else if (counts[1] !== counts[0])
      problems.push(
        `${counts[1] - counts[0]} tensors leaked: ${counts[0]} before the trainer was made, ${counts[1]} after trainer.dispose()`,
      );
    assert.deepEqual(problems, [], 'the interrupt, as a user sees it');
  });

  it("01's live chart grows while training, redrawn in place (its output replaced, none added)", () => {
    record.live = live;
    assert.ok(live.length >= 4, `the live chart redrew: ${JSON.stringify(live)}`);
    assert.ok(
      live.every((s) => s.plots === live[0].plots),
      `one chart output, redrawn (not new ones added): ${JSON.stringify(live)}`,
    );
    assert.ok(
      live.every((s, i) => i === 0 || s.points > live[i - 1].points),
      `its points grow: ${JSON.stringify(live)}`,
    );
    assert.ok(
      live.every((s) => s.outputs === live[0].outputs),
      `redrawn in place, no output added: ${JSON.stringify(live)}`,
    );
  });

  it('the committed notebooks opened untrusted: static images visible, no blank gaps under them, no script text', async () => {
    const found: Record<string, unknown> = {};
    for (const name of NAMES) {
      await reopen(page, lab, `committed/${name}.ipynb`);
      const panel = '.jp-NotebookPanel:not(.lm-mod-hidden)';
      // Images load as their cells are laid out: scroll through the notebook.
      await page.evaluate(async () => {
        const app = (
          window as unknown as {
            jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
          }
        ).jupyterapp;
        for (const cell of app?.shell.currentWidget?.content?.widgets ?? []) {
          cell.node.scrollIntoView();
          await new Promise((r) => setTimeout(r, 50));
        }
      });
      await page.waitForFunction(
        (sel) =>
          Array.from(document.querySelectorAll(`${sel} .jp-OutputArea img`)).every(
            (img) => (img as HTMLImageElement).complete,
          ),
        panel,
        { timeout: 30_000 },
      );
      const view = await page.evaluate((sel) => {
        const root = document.querySelector(sel)!;
        const images = Array.from(root.querySelectorAll('.jp-OutputArea img')) as HTMLImageElement[];
        // The blank space below each image inside the box that holds it (a chart's slot keeps the live chart's height).
        const gaps = images.flatMap((img) => {
          const box = img.parentElement;
          if (!box || box.classList.contains('jp-RenderedImage') || box.classList.contains('jp-OutputArea-output'))
            return [];
          return [Math.round(box.getBoundingClientRect().bottom - img.getBoundingClientRect().bottom)];
        });
        const text = Array.from(root.querySelectorAll('.jp-OutputArea-output'))
          .map((o) => (o as HTMLElement).innerText)
          .join('\n');
        return {
          images: images.length,
          broken: images.filter((img) => img.naturalWidth === 0).map((img) => img.alt || img.src.slice(0, 40)),
          plots: root.querySelectorAll('.js-plotly-plot').length,
          maxGap: Math.max(0, ...gaps),
          scriptText: /Plotly\.newPlot|window\.define|function \(\)|<script/.test(text),
        };
      }, panel);
      found[name] = view;
      const firstImage = await page.evaluate(() => {
        const app = (
          window as unknown as {
            jupyterapp?: { shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null } };
          }
        ).jupyterapp;
        return (app?.shell.currentWidget?.content?.widgets ?? []).findIndex(
          (c) =>
            c.node.querySelector('.jp-OutputArea img.mnist-chart-fallback, .jp-OutputArea-output img[alt]') !== null,
        );
      });
      await shot(page, Math.max(0, firstImage), `${name.slice(0, 2)}-committed-untrusted.png`);
      assert.ok(view.images > 0, `${name}: static images shown`);
      assert.deepEqual(view.broken, [], `${name}: images that do not load`);
      assert.equal(view.plots, 0, `${name}: untrusted, no script ran`);
      assert.ok(view.maxGap <= 24, `${name}: a blank gap of ${view.maxGap} px under a chart image`);
      assert.equal(view.scriptText, false, `${name}: script text shown`);
    }
    record.committed = found;
  });

  runAllTests('01-mnist-walkthrough');
  runAllTests('02-training-dynamics');
  runAllTests('04-predictions');
  it('editing the hyperparameter cell of 01 (learning rate 0.8 -> 0.5) and running all again trains and charts the new run', async () => {
    const path = 'notebooks/01-mnist-walkthrough.ipynb';
    const notebook = notebooks.get('01-mnist-walkthrough')!;
    const hyper = cellWith(notebook, HYPERPARAMETERS, '01');
    const training = cellWith(notebook, MARKERS.training, '01');
    await reopen(page, lab, path);
    const before = (await drawnCharts(page, '01 saved', 1))[training].traces;
    assert.ok(before.length > 0, 'the saved 01 has no charts in its training cell');
    await setSource(page, hyper, (s) => {
      assert.match(s, /learningRateBase: 0\.8\b/, 'no learningRateBase: 0.8 in the hyperparameter cell of 01');
      return s.replace(/learningRateBase: 0\.8\b/, 'learningRateBase: 0.5');
    });
    const previous = await clearForRerun(page);
    const states = await runAll(page, 600_000);
    checkCells(states, '01 edited', previous);
    const after = (await drawnCharts(page, '01 edited', 1))[training].traces;
    assert.equal(after.length, before.length, 'the same charts');
    assert.notDeepEqual(
      after.map((t) => t.sum),
      before.map((t) => t.sum),
      'the charts show the run with the new learning rate',
    );
    assert.match(states.map((c) => c.text).join('\n'), /0\.5/, '01 prints the new learning rate');
    await shot(page, training, '01-edited.png');
  });

  it('Run All of 01 in Notebook 7: every cell executed, charts drawn', async () => {
    const notebook7 = await startLab({
      app: 'notebook',
      files: {
        'notebooks/01-mnist-walkthrough.ipynb': JSON.stringify(
          cleared(notebooks.get('01-mnist-walkthrough')!),
          null,
          1,
        ),
      },
      links: {
        dist: join(REPO_ROOT, 'dist'),
        node_modules: join(REPO_ROOT, 'node_modules'),
        test: join(REPO_ROOT, 'test'),
      },
      env: LAB_ENV(runsDir),
      timeoutSeconds: 240, // a loaded machine starts Jupyter slowly
    });
    const page7 = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      await shutdownKernels(lab);
      await openNotebook(page7, notebook7, 'notebooks/01-mnist-walkthrough.ipynb');
      const states = await runAll(page7, 600_000);
      checkCells(states, '01 in Notebook 7');
      const charts = await drawnCharts(page7, '01 in Notebook 7', 1);
      record.notebook7 = { cells: states.filter((c) => c.type === 'code').length, ...summary(charts) };
      assert.ok(summary(charts).plots > 0, 'charts drawn');
      await shot(page7, charts.find((c) => c.plots > 0)!.index, '01-notebook7.png');
    } finally {
      await page7.close();
      await notebook7.stop();
    }
  });
  it("Run All of 01 with Deno's kernel: every cell executed without error or stderr, charts drawn", async () => {
    const path = 'notebooks/01-deno.ipynb';
    await reopen(page, lab, path);
    assert.equal(await kernelName(page), 'deno', 'the notebook runs in the deno kernel');
    const started = performance.now();
    const states = await runAll(page, 600_000);
    const seconds = (performance.now() - started) / 1000;
    checkCells(states, '01 in Deno');
    const charts = await drawnCharts(page, '01 in Deno', 1);
    record.deno = {
      cells: states.filter((c) => c.type === 'code').length,
      seconds: Math.round(seconds),
      ...summary(charts),
    };
    assert.ok(summary(charts).plots > 0, 'charts drawn');
    await shot(page, charts.find((c) => c.plots > 0)!.index, '01-deno.png');
    await shutdownKernels(lab);
  });
  // 03 trains thirteen runs: last, so that a slow machine delays nothing else.
  runAllTests('03-hyperparameters');
  it('editing a variant of 03 (learning rate 0.8 -> 0.5) and running all again trains only that run; its chart shows it', async () => {
    const path = 'notebooks/03-hyperparameters.ipynb';
    const notebook = notebooks.get('03-hyperparameters')!;
    const table = cellWith(notebook, 'learningRateBase: 0.8', '03');
    await reopen(page, lab, path);
    await setSource(page, table, (s) =>
      s
        .split('\n')
        .map((line) => (line.includes('learningRateBase: 0.8') ? line.replaceAll('0.8', '0.5') : line))
        .join('\n'),
    );
    const previous = await clearForRerun(page);
    const states = await runAll(page, 600_000);
    checkCells(states, '03 edited', previous);
    const text = states.map((c) => c.text).join('\n');
    // The sweep says what it trained and what it reused: "27 runs: 1 trained now (...), 23 reused, 3 diverged; ...".
    const sweep = /(\d+) runs: (\d+) trained now .*?, (\d+) reused, (\d+) diverged/.exec(text);
    assert.ok(sweep !== null, `no sweep line in 03's output:\n${text}`);
    const [, , trained, reused] = sweep.map(Number);
    record['03 edited'] = { line: sweep[0] };
    assert.equal(trained, 1, `only the changed run trains: ${sweep[0]}`);
    assert.ok(reused >= 3, `the others come from the saved runs: ${sweep[0]}`);
    const charts = await drawnCharts(page, '03 edited', 1);
    const names = charts.flatMap((c) => c.traces.map((t) => t.name));
    assert.ok(names.includes('learning rate 0.5'), `a chart shows the new run: ${names.join(', ')}`);
    assert.ok(!names.includes('learning rate 0.8'), 'no chart shows the old one');
    const chartCell = charts.find((c) => c.traces.some((t) => t.name === 'learning rate 0.5'))!.index;
    await shot(page, chartCell, '03-edited.png');
  });
});

/**
 * Clears the outputs (and execution counts) of the open notebook before running it again: its
 * kernel may be a new one, whose counts start again at 1, so old counts would hide the new run.
 */
async function clearForRerun(page: Page): Promise<number> {
  await labCommand(page, 'notebook:clear-all-cell-outputs');
  const left = (await cellStates(page)).filter((c) => c.type === 'code' && c.executionCount !== null);
  assert.equal(left.length, 0, 'execution counts left after clearing the outputs');
  return 0;
}

/** Replaces a cell's source in the open notebook, as typing in the editor does. */
async function setSource(page: Page, index: number, edit: (source: string) => string): Promise<void> {
  const source = await page.evaluate((i) => {
    const app = (
      window as unknown as {
        jupyterapp?: {
          shell: {
            currentWidget: {
              content?: { model?: { cells: { get(i: number): { sharedModel: { getSource(): string } } } } };
            } | null;
          };
        };
      }
    ).jupyterapp;
    return app!.shell.currentWidget!.content!.model!.cells.get(i).sharedModel.getSource();
  }, index);
  const edited = edit(source);
  assert.notEqual(edited, source, `cell ${index} unchanged by the edit`);
  await page.evaluate(
    ([i, text]) => {
      const app = (
        window as unknown as {
          jupyterapp?: {
            shell: {
              currentWidget: {
                content?: { model?: { cells: { get(i: number): { sharedModel: { setSource(s: string): void } } } } };
              } | null;
            };
          };
        }
      ).jupyterapp;
      app!.shell.currentWidget!.content!.model!.cells.get(i as number).sharedModel.setSource(text as string);
    },
    [index, edited] as const,
  );
}
