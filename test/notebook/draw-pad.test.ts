/**
 * The drawing widget in a real browser: digits traced with the mouse along MNIST test images'
 * skeletons, checked against the package's PNG pipeline and `predict`; then inside a real
 * JupyterLab (and Notebook 7) from the project's environment, trusted and untrusted.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator } from 'playwright-core';
import { setupBackend } from '../../src/engine/backend';
import { loadMnist, type MnistData } from '../../src/data/mnist';
import { DRAW_CLASS, DRAW_NOTE_CLASS, drawDigit, drawDigitHtml } from '../../src/notebook/draw-pad';
import {
  dequantizedParams,
  dequantizeLayer,
  quantizationAccuracy,
  quantizedForward,
  quantizeLayer,
  quantizeModel,
} from '../../src/predict/quantize';
import { predict } from '../../src/predict/predict';
import { preprocessDigitImage } from '../../src/predict/digit-image';
import { loadRunModel, type RunModel } from '../../src/store/run-model';
import { saveRun } from '../../src/store/runs';
import { Trainer } from '../../src/train/trainer';
import { drawStrokes, skeletonStrokes } from '../helpers/strokes';
import {
  cellStates,
  labCommand,
  notebookJson,
  openBrowser,
  openNotebook,
  REPO_ROOT,
  runAll,
  startLab,
  trustNotebook,
} from '../lab/harness';

const STEPS = 1500;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

let data: MnistData;
let model: RunModel;
let runsDir: string;
let browser: Browser;

before(async () => {
  await setupBackend('wasm');
  data = await loadMnist();
  runsDir = await mkdtemp(join(tmpdir(), 'mnist-draw-'));
  const started = performance.now();
  const trainer = new Trainer(data, { config: { trainingSteps: STEPS, evalEvery: STEPS } });
  const history = await trainer.run();
  await saveRun(history, trainer, { name: 'draw', runsDir, data });
  trainer.dispose();
  model = await loadRunModel('draw', runsDir);
  console.log(
    `trained ${STEPS} steps on wasm in ${((performance.now() - started) / 1000).toFixed(1)} s, test accuracy ${(history.final!.testAccuracy * 100).toFixed(2)} %`,
  );
  browser = await openBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  model?.dispose();
  await browser?.close();
  await rm(runsDir, { recursive: true, force: true });
});

/** The first test image of each digit that the network reads right (as an MNIST image). */
function firstOfEachDigit(): number[] {
  const classes = predict(model, data.test.images.subarray(0, 200 * 784), 200).map((row) =>
    row.indexOf(Math.max(...row)),
  );
  const indices: number[] = [];
  for (let digit = 0; digit < 10; digit++)
    indices.push(classes.findIndex((c, i) => c === digit && data.test.labels[i] === digit));
  assert.ok(
    indices.every((i) => i >= 0),
    `no right answer for some digit among the first 200 test images: ${indices}`,
  );
  return indices;
}

interface WidgetState {
  pixels: number[] | null;
  probabilities: number[] | null;
  predicted: number | null;
  /** The preview canvas's red channel (0-255). */
  preview: number[];
  /** The drawing canvas as base64 RGBA, and its side. */
  rgba: string;
  side: number;
}

/** The widget's state once the page has drawn the last update. */
async function widgetState(root: Locator): Promise<WidgetState> {
  return root.evaluate(
    async (element: HTMLElement & { mnistDraw?: Omit<WidgetState, 'preview' | 'rgba' | 'side'> }) => {
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const state = element.mnistDraw!;
      const preview = element.querySelector('canvas.mnist-draw-preview') as HTMLCanvasElement;
      const canvas = element.querySelector('canvas.mnist-draw-canvas') as HTMLCanvasElement;
      const p = preview.getContext('2d')!.getImageData(0, 0, 28, 28).data;
      const c = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let binary = '';
      for (let i = 0; i < c.length; i += 8192) binary += String.fromCharCode(...c.subarray(i, i + 8192));
      return {
        pixels: state.pixels,
        probabilities: state.probabilities,
        predicted: state.predicted,
        preview: Array.from({ length: 784 }, (_, i) => p[4 * i]),
        rgba: btoa(binary),
        side: canvas.width,
      };
    },
  );
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
};

/**
 * Checks a drawn digit against the package: PNG pipeline on the canvas, preview, `predict`. Returns the max probability
 * difference.
 */
function checkAgainstPackage(state: WidgetState, what: string): number {
  assert.ok(state.pixels !== null && state.probabilities !== null, `${what}: the widget shows no digit`);
  // The canvas as a PNG file through the package's PNG pipeline: the same 28 x 28 pixels.
  const png = new PNG({ width: state.side, height: state.side });
  png.data = Buffer.from(state.rgba, 'base64');
  const fromPng = preprocessDigitImage(new Uint8Array(PNG.sync.write(png)), { name: what });
  assert.equal(
    maxAbsDiff(fromPng.pixels, state.pixels),
    0,
    `${what}: the page's 28 x 28 image differs from preprocessDigitImage's`,
  );
  assert.deepEqual(
    state.preview,
    state.pixels.map((v) => Math.round(v * 255)),
    `${what}: the preview does not show the input`,
  );
  // In-page probabilities against the package's full-precision predict, and the same sums on the 8-bit weights.
  const [full] = predict(model, Float32Array.from(state.pixels), 1);
  const q = dequantizedParams(quantizeModel(model));
  try {
    const [eightBit] = predict(q, Float32Array.from(state.pixels), 1, model.config.activation);
    assert.ok(
      maxAbsDiff(eightBit, state.probabilities) < 1e-5,
      `${what}: the page's forward pass differs from predict on the same 8-bit weights`,
    );
  } finally {
    for (const v of [q.weights1, q.biases1, q.weights2, q.biases2]) v?.dispose();
  }
  return maxAbsDiff(full, state.probabilities);
}

describe('quantised weights', () => {
  it('round each weight to within half a column scale and keep the forward pass', () => {
    const rows = 7;
    const cols = 5;
    const weights = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.3) * (1 + (i % cols)));
    weights.fill(0, 0, 0);
    for (let i = 0; i < rows; i++) weights[i * cols + 4] = 0; // an all-zero column
    const biases = Float32Array.from([0.1, -0.2, 0.3, 0, 0.5]);
    const q = quantizeLayer(weights, biases, rows, cols);
    const back = dequantizeLayer(q);
    for (let i = 0; i < weights.length; i++)
      assert.ok(Math.abs(back.weights[i] - weights[i]) <= q.scales[i % cols] / 2 + 1e-7, `weight ${i}`);
    assert.equal(Math.max(...Array.from(q.values, Math.abs)), 127);
    assert.deepEqual(Array.from(back.weights.filter((_, i) => i % cols === 4)), new Array(rows).fill(0));
    assert.throws(() => quantizeLayer(weights, biases, rows, cols + 1), /a 7 x 6 matrix needs 42 weights, got 35/);
    assert.throws(
      () => quantizeLayer(Float32Array.from([Number.NaN]), Float32Array.from([0]), 1, 1),
      /column 0 holds a weight that is not finite/,
    );
  });

  it('predict the test set almost as well as the float32 weights, in JavaScript as with TensorFlow.js', () => {
    const tensors = tf.memory().numTensors;
    const result = quantizationAccuracy(model, data.test);
    assert.equal(tf.memory().numTensors, tensors);
    console.log(
      `test accuracy: float32 ${(result.full * 100).toFixed(2)} %, 8-bit ${(result.quantized * 100).toFixed(2)} % ` +
        `(${result.changedPredictions} of ${result.count} predictions changed, max probability difference ${result.maxProbabilityDifference.toExponential(2)})`,
    );
    assert.equal(result.count, 10_000);
    assert.ok(result.full > 0.9, `a ${STEPS}-step run should pass 90 %, got ${result.full}`);
    assert.ok(
      Math.abs(result.full - result.quantized) <= 0.002,
      `8 bits cost ${((result.full - result.quantized) * 100).toFixed(2)} points`,
    );
    // The page's plain-JavaScript pass gives TensorFlow.js's numbers on the same weights.
    const q = quantizeModel(model);
    const dense = { activation: q.activation, layers: q.layers.map(dequantizeLayer) };
    const params = dequantizedParams(q);
    try {
      const images = data.test.images.subarray(0, 50 * 784);
      const rows = predict(params, images, 50);
      rows.forEach((row, i) =>
        assert.ok(
          maxAbsDiff(row, quantizedForward(dense, images.subarray(i * 784, (i + 1) * 784))) < 1e-5,
          `image ${i}`,
        ),
      );
    } finally {
      for (const v of [params.weights1, params.biases1, params.weights2, params.biases2]) v?.dispose();
    }
  });
});

describe('drawDigit widget in Chromium', () => {
  it('reads digits drawn with the mouse as the package does, live, and clears', async () => {
    const html = drawDigitHtml(quantizeModel(model), { id: 'pad' });
    console.log(`widget output: ${html.length.toLocaleString('en-US')} bytes`);
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    try {
      await page.setContent(`<!doctype html><html><body>${html}</body></html>`);
      const root = page.locator('#pad');
      const canvas = root.locator('canvas.mnist-draw-canvas');
      await canvas.waitFor();
      assert.equal(await root.locator(`.${DRAW_NOTE_CLASS}`).count(), 0, 'the note stays where scripts run');
      const results: { label: number; predicted: number | null; text: string }[] = [];
      let worst = 0;
      for (const index of firstOfEachDigit()) {
        const label = data.test.labels[index];
        await root.locator('button.mnist-draw-clear').click();
        const strokes = skeletonStrokes(data.test.images.subarray(index * 784, (index + 1) * 784));
        // Half the strokes first: the probabilities are there while drawing.
        await drawStrokes(page, canvas, strokes.slice(0, Math.ceil(strokes.length / 2)));
        const partial = await widgetState(root);
        assert.ok(partial.probabilities !== null, `digit ${label}: no probabilities while drawing`);
        await drawStrokes(page, canvas, strokes.slice(Math.ceil(strokes.length / 2)));
        const state = await widgetState(root);
        const diff = checkAgainstPackage(state, `digit ${label} (test image ${index})`);
        worst = Math.max(worst, diff);
        results.push({
          label,
          predicted: state.predicted,
          text: `${label}->${state.predicted} (${(state.probabilities![state.predicted!] * 100).toFixed(1)} %, diff ${diff.toExponential(1)})`,
        });
        assert.equal(await root.getAttribute('data-predicted'), String(state.predicted));
        assert.match(
          (await root.locator('.mnist-draw-answer').textContent()) ?? '',
          new RegExp(`reads: ${state.predicted} `),
        );
        if (label === 7) await root.screenshot({ path: join(ARTIFACTS, 'draw-digit-chromium.png') });
      }
      console.log(`drawn digits (true->read): ${results.map((r) => r.text).join(', ')}`);
      assert.deepEqual(
        results.map((r) => r.predicted),
        results.map((r) => r.label),
        'every traced digit is read right',
      );
      console.log(`max |page - predict| probability difference: ${worst.toExponential(2)}`);
      assert.ok(worst < 0.02, `the page's probabilities differ from predict's by ${worst}`);
      await root.locator('button.mnist-draw-clear').click();
      const cleared = await widgetState(root);
      assert.equal(cleared.probabilities, null);
      assert.ok(
        cleared.preview.every((v) => v === 0),
        'the preview is black after Clear',
      );
      assert.equal(await root.getAttribute('data-predicted'), null);
    } finally {
      await page.close();
    }
  });

  it('draws with a finger and a pen too', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, hasTouch: true });
    const page = await context.newPage();
    try {
      await page.setContent(
        `<!doctype html><html><body>${drawDigitHtml(quantizeModel(model), { id: 'pad' })}</body></html>`,
      );
      const root = page.locator('#pad');
      const canvas = root.locator('canvas.mnist-draw-canvas');
      await canvas.waitFor();
      const box = (await canvas.boundingBox())!;
      const scale = box.width / 28;
      // Through Chromium's input pipeline (DevTools protocol), as a touch screen and a pen send them.
      const cdp = await context.newCDPSession(page);
      const [zero, one] = firstOfEachDigit();
      const strokesOf = (index: number) =>
        skeletonStrokes(data.test.images.subarray(index * 784, (index + 1) * 784)).map((s) =>
          s.map((p) => ({ x: box.x + p.x * scale, y: box.y + p.y * scale })),
        );
      for (const [kind, index, label] of [
        ['touch', one, 1],
        ['pen', zero, 0],
      ] as const) {
        await root.locator('button.mnist-draw-clear').click();
        for (const stroke of strokesOf(index)) {
          for (const [i, p] of stroke.entries()) {
            if (kind === 'touch') {
              await cdp.send('Input.dispatchTouchEvent', {
                type: i === 0 ? 'touchStart' : 'touchMove',
                touchPoints: [{ x: p.x, y: p.y }],
              });
            } else {
              await cdp.send('Input.dispatchMouseEvent', {
                type: i === 0 ? 'mousePressed' : 'mouseMoved',
                x: p.x,
                y: p.y,
                button: 'left',
                buttons: 1,
                clickCount: 1,
                pointerType: 'pen',
              });
            }
          }
          const last = stroke.at(-1)!;
          if (kind === 'touch') await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          else
            await cdp.send('Input.dispatchMouseEvent', {
              type: 'mouseReleased',
              x: last.x,
              y: last.y,
              button: 'left',
              buttons: 0,
              clickCount: 1,
              pointerType: 'pen',
            });
        }
        const state = await widgetState(root);
        checkAgainstPackage(state, `a ${label} drawn by ${kind}`);
        assert.equal(state.predicted, label, `a ${label} drawn by ${kind} was read as ${state.predicted}`);
      }
    } finally {
      await context.close();
    }
  });

  it('shows a note, and no pad, where scripts do not run', async () => {
    const page = await browser.newPage({ javaScriptEnabled: false });
    try {
      await page.setContent(`<!doctype html><html><body>${drawDigitHtml(quantizeModel(model))}</body></html>`);
      assert.match(
        (await page.locator(`.${DRAW_CLASS} .${DRAW_NOTE_CLASS}`).textContent()) ?? '',
        /scripts do not run here .*trust the notebook/,
      );
      assert.equal(await page.locator('canvas').count(), 0);
    } finally {
      await page.close();
    }
  });

  it('checks its options and the network shape, and sends its HTML to the output', () => {
    const q = quantizeModel(model);
    assert.throws(
      () => drawDigitHtml(q, { canvasSize: 20 }),
      /canvasSize must be a whole number of pixels 56-1000, got 20/,
    );
    assert.throws(() => drawDigitHtml(q, { brushSize: 0 }), /brushSize must be 1-140 pixels, got 0/);
    assert.throws(
      () => drawDigitHtml({ activation: 'relu', layers: q.layers.slice(0, 1) }),
      /must take 784 pixels and give 10 classes, got 784 inputs and 500 outputs/,
    );
    assert.throws(() => drawDigitHtml(q, { id: '1 bad' }), /"1 bad" is not a usable element id/);
    const sent: string[] = [];
    const shown = drawDigit(model, {
      output: { html: (h) => sent.push(h), newDisplay: () => ({ html: () => undefined }), note: () => undefined },
    });
    assert.deepEqual(sent, [shown.html]);
    assert.equal(shown.bytes, Buffer.byteLength(shown.html));
    assert.ok(shown.html.includes(`id="${shown.id}"`));
  });
});

/** Waits until the saved notebook holds the pad's output; its size in bytes. */
async function savedPadBytes(path: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const saved = JSON.parse(await readFile(path, 'utf8')) as {
      cells: { outputs: { data?: Record<string, string | string[]> }[] }[];
    };
    const html = saved.cells[1].outputs.map((o) => [o.data?.['text/html'] ?? ''].flat().join('')).join('');
    if (html.includes(DRAW_CLASS)) return Buffer.byteLength(html);
    if (Date.now() > deadline) throw new Error(`${path} was not saved with the pad's output`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('drawDigit in a real JupyterLab', () => {
  const setupCell = [
    "import { setupBackend, loadRunModel } from './mnist';",
    "import { drawDigit } from './mnist/notebook';",
    "await setupBackend('wasm');",
    "const model = await loadRunModel('draw', 'runs');",
    'console.log(`network: ${model.name}, ${model.config.trainingSteps} steps`);',
  ].join('\n');
  const drawCell = 'const pad = drawDigit(model);\nconsole.log(`the pad adds ${pad.bytes} bytes to the notebook`);';

  it("works, saved and trusted, in Debian's classic Notebook 6 without running a cell", async () => {
    const lab = await startLab({
      app: 'classic',
      files: {
        'saved.ipynb': notebookJson([
          {
            source: drawCell,
            outputs: [
              { output_type: 'display_data', data: { 'text/html': drawDigitHtml(quantizeModel(model)) }, metadata: {} },
            ],
          },
        ]),
      },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await trustNotebook(lab, 'saved.ipynb');
      await openNotebook(page, lab, 'saved.ipynb');
      const root = page.locator(`.${DRAW_CLASS}`);
      await root.locator('canvas.mnist-draw-canvas').waitFor({ timeout: 30_000 });
      const two = firstOfEachDigit()[2];
      await drawStrokes(
        page,
        root.locator('canvas.mnist-draw-canvas'),
        skeletonStrokes(data.test.images.subarray(two * 784, (two + 1) * 784)),
      );
      const state = await widgetState(root);
      checkAgainstPackage(state, 'the 2 in the classic Notebook');
      assert.equal(state.predicted, 2);
      await page.screenshot({ path: join(ARTIFACTS, 'draw-digit-classic-notebook.png') });
    } finally {
      await page.close();
      await lab.stop();
    }
  });

  for (const app of ['lab', 'notebook'] as const) {
    it(`Run All in ${app === 'lab' ? 'JupyterLab' : 'Notebook 7'}, draw a 7, screenshot, save${app === 'lab' ? '; reopened it works, and untrusted it shows the note' : ''}`, async () => {
      const savedHtml = drawDigitHtml(quantizeModel(model));
      const lab = await startLab({
        app,
        links: { mnist: join(REPO_ROOT, 'dist'), runs: runsDir },
        files: {
          'draw.ipynb': notebookJson([{ source: setupCell }, { source: drawCell }]),
          // Saved outputs nobody signed: an untrusted notebook, as a fresh clone is.
          'untrusted.ipynb': notebookJson([
            {
              source: drawCell,
              outputs: [{ output_type: 'display_data', data: { 'text/html': savedHtml }, metadata: {} }],
            },
          ]),
        },
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        await openNotebook(page, lab, 'draw.ipynb');
        const states = await runAll(page);
        assert.deepEqual(
          states.flatMap((c) => c.errors),
          [],
          lab.log().slice(-2000),
        );
        assert.deepEqual(
          states.map((c) => c.executionCount),
          [1, 2],
        );
        const root = page.locator(`.${DRAW_CLASS}`);
        const canvas = root.locator('canvas.mnist-draw-canvas');
        await canvas.waitFor({ timeout: 30_000 });
        const seven = firstOfEachDigit()[7];
        await drawStrokes(page, canvas, skeletonStrokes(data.test.images.subarray(seven * 784, (seven + 1) * 784)));
        const state = await widgetState(root);
        const diff = checkAgainstPackage(state, `the 7 in ${app}`);
        console.log(
          `${app}: the 7 was read as ${state.predicted} (${(state.probabilities![state.predicted!] * 100).toFixed(1)} %), max probability difference ${diff.toExponential(2)}`,
        );
        assert.equal(state.predicted, 7);
        await page.screenshot({
          path: join(ARTIFACTS, `draw-digit-${app === 'lab' ? 'jupyterlab' : 'notebook7'}.png`),
        });

        // Saved and reopened: trusted (the server signed it), so the pad works again without the kernel.
        // The size the pad adds to the saved notebook file.
        const path = join(lab.root, 'draw.ipynb');
        const empty = (await stat(path)).size;
        await labCommand(page, 'docmanager:save');
        const padBytes = await savedPadBytes(path);
        console.log(
          `${app}: notebook file ${empty} bytes before Run All, ${(await stat(path)).size} after saving; the pad's output ${padBytes} bytes`,
        );
        assert.ok(
          padBytes >= savedHtml.length * 0.99,
          `the saved notebook holds ${padBytes} bytes of the pad's output`,
        );

        if (app === 'lab') {
          // Reopened in a fresh page: the saved output is trusted and the pad works without running a cell.
          await labCommand(page, 'application:close-all');
          await page.reload();
          await openNotebook(page, lab, 'draw.ipynb');
          const reopened = page.locator(`.jp-NotebookPanel:not(.lm-mod-hidden) .${DRAW_CLASS}`);
          await reopened.locator('canvas.mnist-draw-canvas').waitFor({ timeout: 30_000 });
          assert.deepEqual(
            (await cellStates(page)).map((c) => c.executionCount),
            [1, 2],
            'reopened with its saved outputs',
          );
          await drawStrokes(
            page,
            reopened.locator('canvas.mnist-draw-canvas'),
            skeletonStrokes(data.test.images.subarray(seven * 784, (seven + 1) * 784)),
          );
          assert.equal((await widgetState(reopened)).predicted, 7, 'the reopened pad reads the 7');

          await labCommand(page, 'application:close-all');
          await openNotebook(page, lab, 'untrusted.ipynb');
          const note = page.locator(`.jp-NotebookPanel:not(.lm-mod-hidden) .${DRAW_CLASS} .${DRAW_NOTE_CLASS}`);
          await note.waitFor({ timeout: 30_000 });
          assert.match((await note.textContent()) ?? '', /scripts do not run here/);
          assert.equal(
            await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) canvas').count(),
            0,
            'no pad in an untrusted notebook',
          );
          assert.equal(
            await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea').getByText('encoded').count(),
            0,
            'no script text shown',
          );
          await note.screenshot({ path: join(ARTIFACTS, 'draw-digit-untrusted.png') });
        }
      } finally {
        await page.close();
        await lab.stop();
      }
    });
  }
});
