import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chartHtml,
  chartsHtml,
  createNotebookCharts,
  FALLBACK_CLASS,
  libraryHtml,
  type DisplaySlot,
  type NotebookOutput,
  type SvgRenderer,
} from '../../src/notebook/display';
import { CHROMIUM_ARGS, ChromiumNotFoundError, findChromium, withRenderer } from '../../src/charts/chromium';
import { plotlySource } from '../../src/charts/html';
import { accuracyFigure, lossFigure, type Figure } from '../../src/charts/figures';
import type { History } from '../../src/core/history';
import type { Progress } from '../../src/train/trainer';
import { longHistory, makeHistory } from '../charts/histories';

const FAKE_LIBRARY = '/* FAKE PLOTLY LIBRARY */ window.Plotly = window.Plotly || {};';
const FAKE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
const DEFINE_HIDE = 'window.define = undefined;';
const PLOTLY_BANNER = '* plotly.js v';
const count = (text: string, part: string) => text.split(part).length - 1;
const stripScripts = (html: string) => html.replace(/<script>[\s\S]*?<\/script>/g, '');

/** Records what a notebook would receive. */
function fakeOutput() {
  const outputs: string[] = [];
  const notes: string[] = [];
  const slots: string[][] = [];
  const output: NotebookOutput = {
    html: (html) => outputs.push(html),
    newDisplay: (): DisplaySlot => {
      const writes: string[] = [];
      slots.push(writes);
      return { html: (html) => writes.push(html) };
    },
    note: (line) => notes.push(line),
  };
  return { output, outputs, notes, slots };
}

const fakeRenderer: SvgRenderer = async (figures) => figures.map(() => FAKE_SVG);

function fallbackSvgs(html: string): string[] {
  const images = [
    ...html.matchAll(
      new RegExp(`<img class="${FALLBACK_CLASS}"[^>]* src="data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)">`, 'g'),
    ),
  ];
  return images.map((m) => Buffer.from(m[1], 'base64').toString('utf8'));
}

function progressOf(history: History, step: number, totalSteps: number): Progress {
  return {
    step,
    totalSteps,
    learningRate: 0.8,
    crossEntropy: 0.5,
    stepsPerSecond: 250,
    secondsLeft: (totalSteps - step) / 250,
    latestEvaluation: history.evaluations.at(-1) ?? null,
    history,
  };
}

describe('HTML builders', () => {
  it('libraryHtml hides window.define while plotly.js runs and restores it after', () => {
    const html = libraryHtml(FAKE_LIBRARY);
    const hide = html.indexOf(DEFINE_HIDE);
    const library = html.indexOf(FAKE_LIBRARY);
    const restore = html.indexOf('window.define = window.__mnistChartsSavedDefine');
    assert.ok(hide >= 0 && library > hide && restore > library, 'hide, library, restore in that order');
    // Three separate scripts: a failing library still lets the restore run.
    assert.equal(count(html, '<script>'), 3);
    assert.equal(count(libraryHtml(), PLOTLY_BANNER), 1);
  });

  it('chartHtml puts the static image inside the chart div, and the data in the script', () => {
    const fig = accuracyFigure(longHistory(300), { reference: true });
    const html = chartHtml(fig, { id: 'chart-1', fallbackSvg: FAKE_SVG });
    assert.ok(!html.includes(DEFINE_HIDE));
    assert.deepEqual(fallbackSvgs(html), [FAKE_SVG]);
    const div = html.indexOf('<div id="chart-1"');
    const img = html.indexOf(`<img class="${FALLBACK_CLASS}"`);
    const script = html.indexOf('<script>');
    assert.ok(div >= 0 && img > div && script > img);
    assert.ok(html.includes('"tutorial (reported)"'));
    assert.ok(html.includes('window.Plotly.newPlot('));
    assert.match(html, /alt="Validation and test accuracy"/);
  });

  it('without a static image there is no <img>, with includeLibrary the library comes first', () => {
    const html = chartHtml(lossFigure(makeHistory()), { includeLibrary: true, library: FAKE_LIBRARY });
    assert.ok(!html.includes('<img'));
    assert.ok(html.indexOf(FAKE_LIBRARY) < html.indexOf('<div id="mnist-chart-'));
  });

  it('what an untrusted notebook shows (scripts removed) still has the image', () => {
    const html = chartHtml(lossFigure(makeHistory()), { fallbackSvg: FAKE_SVG });
    assert.deepEqual(fallbackSvgs(stripScripts(html)), [FAKE_SVG]);
  });

  it("reserves a chart's height only where no image is there to show (an image scaled down left a gap under it)", () => {
    const figures = [accuracyFigure(makeHistory(), { height: 360 }), lossFigure(makeHistory(), { height: 360 })];
    const slotStyles = (html: string) =>
      [...html.matchAll(/<div data-chart-slot="\d" style="([^"]*)"/g)].map((m) => m[1]);
    const withImages = slotStyles(chartsHtml(figures, { sideBySide: true, fallbackSvgs: [FAKE_SVG, null] }));
    assert.equal(withImages.length, 2);
    assert.ok(!withImages[0].includes('height'), withImages[0]);
    assert.match(withImages[1], /min-height:360px/);
  });

  it('chartsHtml lays out several charts with a status line, escaped', () => {
    const html = chartsHtml([accuracyFigure(makeHistory()), lossFigure(makeHistory())], {
      status: 'step <1>',
      sideBySide: true,
      fallbackSvgs: [FAKE_SVG, null],
    });
    assert.equal(count(html, 'data-chart-slot='), 2);
    assert.ok(html.includes('step &lt;1&gt;'));
    assert.equal(fallbackSvgs(html).length, 1);
    assert.throws(() => chartsHtml([]), /no figures/);
    assert.throws(() => chartsHtml([lossFigure(makeHistory())], { id: 'x" onload="y' }), /not a usable element id/);
    assert.throws(() => chartsHtml([{ data: 1 } as unknown as Figure]), /expected a figure/);
  });
});

describe('NotebookCharts', () => {
  it('sends plotly.js with the first chart output of the session only', async () => {
    const { output, outputs } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: fakeRenderer, library: FAKE_LIBRARY });
    assert.equal(charts.libraryInlined, false);
    await charts.show(accuracyFigure(makeHistory()));
    await charts.show(lossFigure(makeHistory()));
    assert.equal(outputs.length, 2);
    assert.ok(outputs[0].includes(FAKE_LIBRARY) && outputs[0].includes(DEFINE_HIDE));
    assert.ok(!outputs[1].includes(FAKE_LIBRARY) && !outputs[1].includes(DEFINE_HIDE));
    assert.deepEqual(fallbackSvgs(outputs[0]), [FAKE_SVG]);
    assert.deepEqual(fallbackSvgs(outputs[1]), [FAKE_SVG]);
    assert.equal(charts.libraryInlined, true);
  });

  it('inlines the real plotly.js once', async () => {
    const { output, outputs } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: fakeRenderer });
    await charts.show(accuracyFigure(makeHistory()));
    await charts.show([lossFigure(makeHistory()), accuracyFigure(makeHistory())], { sideBySide: true });
    assert.equal(count(outputs[0], PLOTLY_BANNER), 1);
    assert.ok(outputs[0].includes(plotlySource()));
    assert.equal(count(outputs[1], PLOTLY_BANNER), 0);
    assert.ok(outputs[1].length < 100_000, `second output is ${outputs[1].length} characters`);
    assert.equal(fallbackSvgs(outputs[1]).length, 2);
  });

  it('outputHtml counts the library as sent', () => {
    const charts = createNotebookCharts({ output: fakeOutput().output, renderSvg: null, library: FAKE_LIBRARY });
    assert.ok(charts.outputHtml([lossFigure(makeHistory())]).includes(FAKE_LIBRARY));
    assert.ok(!charts.outputHtml([lossFigure(makeHistory())]).includes(FAKE_LIBRARY));
  });

  it('shows live charts only, with a single one-line note, when there is no Chromium', async () => {
    const { output, outputs, notes } = fakeOutput();
    const noBrowser: SvgRenderer = async () => {
      throw new ChromiumNotFoundError(['/usr/bin/chromium']);
    };
    const charts = createNotebookCharts({ output, renderSvg: noBrowser, library: FAKE_LIBRARY });
    await charts.show(lossFigure(makeHistory()));
    await charts.show(lossFigure(makeHistory()));
    assert.equal(outputs.length, 2);
    for (const html of outputs) {
      assert.ok(!html.includes('<img'));
      assert.ok(html.includes('window.Plotly.newPlot('));
    }
    assert.equal(notes.length, 1);
    assert.ok(!notes[0].includes('\n'));
    assert.match(notes[0], /no Chromium found.*apt-get install chromium.*CHROMIUM_PATH/);
  });

  it('notes other rendering failures and still shows the chart', async () => {
    const { output, outputs, notes } = fakeOutput();
    const broken: SvgRenderer = async () => {
      throw new Error('browser crashed\nstack');
    };
    await createNotebookCharts({ output, renderSvg: broken, library: FAKE_LIBRARY }).show(lossFigure(makeHistory()));
    assert.equal(outputs.length, 1);
    assert.deepEqual(notes, ['charts: static image not rendered (browser crashed); showing the live chart only']);
  });

  it('skips the static image on request', async () => {
    const { output, outputs } = fakeOutput();
    let rendered = 0;
    const counting: SvgRenderer = async (figures) => {
      rendered++;
      return figures.map(() => FAKE_SVG);
    };
    await createNotebookCharts({ output, renderSvg: counting, library: FAKE_LIBRARY }).show(lossFigure(makeHistory()), {
      staticImage: false,
    });
    assert.equal(rendered, 0);
    assert.ok(!outputs[0].includes('<img'));
  });

  it('keeps the library for the next output when sending fails', async () => {
    const outputs: string[] = [];
    let fail = true;
    const output: NotebookOutput = {
      html: (html) => {
        if (fail) throw new Error('not in a kernel');
        outputs.push(html);
      },
      newDisplay: () => ({ html: () => undefined }),
      note: () => undefined,
    };
    const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
    await assert.rejects(charts.show(lossFigure(makeHistory())), /not in a kernel/);
    assert.equal(charts.libraryInlined, false);
    fail = false;
    await charts.show(lossFigure(makeHistory()));
    assert.ok(outputs[0].includes(FAKE_LIBRARY));
  });

  it('explains that showing charts needs the tslab kernel', async () => {
    const charts = createNotebookCharts({ renderSvg: null, library: FAKE_LIBRARY });
    await assert.rejects(
      charts.show(lossFigure(makeHistory())),
      /Jupyter notebook run by the tslab kernel.*exportFigure/,
    );
  });
});

describe('liveTraining', () => {
  it('redraws one output at most every intervalMs, without the library or images', async () => {
    const { output, outputs, slots } = fakeOutput();
    let clock = 0;
    let rendered = 0;
    const counting: SvgRenderer = async (figures) => {
      rendered++;
      return figures.map(() => FAKE_SVG);
    };
    const charts = createNotebookCharts({ output, renderSvg: counting, library: FAKE_LIBRARY });
    const live = charts.liveTraining({ now: () => clock, reference: true });
    const history = makeHistory();
    // 1,000 progress calls 10 ms apart: 10 s of training.
    for (let i = 0; i < 1000; i++) {
      live.onProgress(progressOf(history, i, 1000));
      clock += 10;
    }
    assert.equal(live.stats.calls, 1000);
    assert.equal(live.stats.redraws, 5);
    assert.equal(rendered, 0, 'no static images during training');
    // A separate output carried the library; the live output is a single display slot.
    assert.equal(outputs.length, 1);
    assert.ok(outputs[0].includes(FAKE_LIBRARY));
    assert.equal(slots.length, 1);
    // The output is made with the live display, before any progress: above the run's log.
    assert.equal(slots[0].length, 6);
    assert.match(slots[0][0], /the charts appear here/);
    assert.equal(count(slots[0][0], 'data-chart-slot='), 0);
    slots[0].shift();
    for (const frame of slots[0]) {
      assert.ok(!frame.includes(FAKE_LIBRARY) && !frame.includes(DEFINE_HIDE) && !frame.includes('<img'));
      assert.equal(count(frame, 'data-chart-slot='), 2);
    }
    assert.match(
      slots[0][0],
      /step 0 \/ 1,000 \(0\.0 %\) · 250 steps\/s · 4 s left · validation 87\.50 % \(at step 50\)/,
    );
    assert.match(slots[0][4], /step 800 \/ 1,000/);

    history.wallTimeSeconds = 10;
    await live.finish({ name: 'tutorial', history });
    assert.equal(rendered, 1);
    assert.equal(slots.length, 1, 'finish draws in the same output');
    const last = slots[0].at(-1)!;
    assert.deepEqual(fallbackSvgs(last), [FAKE_SVG, FAKE_SVG]);
    assert.match(last, /completed: 50 steps in 10 s/);
    assert.ok(!last.includes(FAKE_LIBRARY));
  });

  it('keeps each update small and cheap for a long run', () => {
    const { output, slots } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
    const live = charts.liveTraining({ intervalMs: 0 });
    const history = longHistory(3000);
    const rounds = 20;
    for (let i = 0; i < rounds; i++) live.onProgress(progressOf(history, 30_000, 30_000));
    const frame = slots[0][0];
    assert.ok(frame.length < 80_000, `an update is ${frame.length} characters`);
    const perRedraw = live.stats.redrawMs / live.stats.redraws;
    // Against the default 2 s interval, a redraw must cost far below 5 % (100 ms).
    assert.ok(perRedraw < 40, `a redraw takes ${perRedraw.toFixed(1)} ms`);
    assert.ok(live.stats.redraws >= 1);
  });

  it('costs next to nothing between redraws', () => {
    const { output } = fakeOutput();
    const live = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY }).liveTraining();
    const progress = progressOf(longHistory(3000), 10, 30_000);
    live.onProgress(progress);
    const start = performance.now();
    for (let i = 0; i < 100_000; i++) live.onProgress(progress);
    const perCall = (performance.now() - start) / 100_000;
    assert.equal(live.stats.redraws, 1);
    assert.ok(perCall < 0.01, `a skipped call takes ${perCall} ms`);
  });

  it('sends the library only if the session has not yet', async () => {
    const { output, outputs, slots } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
    await charts.show(lossFigure(makeHistory()));
    const live = charts.liveTraining();
    live.onProgress(progressOf(makeHistory(), 1, 10));
    assert.equal(outputs.length, 1);
    assert.equal(slots.length, 1);
    await live.finish(makeHistory());
    assert.equal(slots[0].length, 3);
  });

  it('never stops the training: a failing display is noted once and left alone', () => {
    const notes: string[] = [];
    let writes = 0;
    const output: NotebookOutput = {
      html: () => undefined,
      newDisplay: () => ({
        html: () => {
          writes++;
          throw new Error('Not ready');
        },
      }),
      note: (line) => notes.push(line),
    };
    const live = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY }).liveTraining({
      intervalMs: 0,
    });
    const progress = progressOf(makeHistory(), 1, 10);
    assert.doesNotThrow(() => {
      for (let i = 0; i < 5; i++) live.onProgress(progress);
    });
    assert.equal(writes, 1);
    assert.equal(live.stats.redraws, 0);
    assert.deepEqual(notes, ['charts: live display stopped (Not ready); training goes on']);
  });

  it('rejects a bad interval', () => {
    const charts = createNotebookCharts({ output: fakeOutput().output, renderSvg: null });
    assert.throws(() => charts.liveTraining({ intervalMs: -1 }), /intervalMs/);
  });
});

describe(
  'chart outputs in a browser',
  {
    skip: (() => {
      try {
        findChromium();
        return false;
      } catch (error) {
        return (error as Error).message;
      }
    })(),
  },
  () => {
    it('load plotly.js past require.js, draw late-attached outputs, and keep images when scripts do not run', async () => {
      const { chromium } = await import('playwright-core');
      const history = longHistory(200);
      const figures = [accuracyFigure(history, { reference: true }), lossFigure(history)];
      const svgs = await withRenderer((r) => Promise.all(figures.map((f) => r.svg(f, { width: 600, height: 400 }))));
      const { output, outputs } = fakeOutput();
      const charts = createNotebookCharts({ output, renderSvg: async () => svgs.slice(0, 1) });
      await charts.show(figures[0]);
      const second = createNotebookCharts({ output: fakeOutput().output, renderSvg: null });
      second.outputHtml([figures[1]]); // the library counts as sent in this session
      outputs.push(second.outputHtml([figures[1]], { fallbackSvgs: [svgs[1]] }));

      const browser = await chromium.launch({ executablePath: findChromium(), args: [...CHROMIUM_ARGS] });
      try {
        const page = await browser.newPage();
        await page.setContent('<!DOCTYPE html><html><body><div id="notebook"></div></body></html>');
        const result = await page.evaluate(async (htmls) => {
          // A require.js-like AMD loader, as in the classic Notebook.
          const amd = Object.assign(() => undefined, { amd: {} });
          (window as unknown as { define: unknown }).define = amd;
          // How JupyterLab renders trusted HTML: innerHTML in a detached node, then each script re-created.
          const hosts = htmls.map((html) => {
            const host = document.createElement('div');
            host.innerHTML = html;
            for (const old of Array.from(host.querySelectorAll('script'))) {
              const script = document.createElement('script');
              script.textContent = old.textContent;
              old.replaceWith(script);
            }
            return host;
          });
          // Attached to the page only later.
          await new Promise((resolve) => setTimeout(resolve, 300));
          for (const host of hosts) document.getElementById('notebook')!.appendChild(host);
          const deadline = Date.now() + 20_000;
          const done = () =>
            document.querySelectorAll('#notebook .js-plotly-plot').length === 2 &&
            document.querySelectorAll('#notebook img').length === 0;
          while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
          return {
            defineRestored: (window as unknown as { define: unknown }).define === amd,
            plotly: typeof (window as unknown as { Plotly?: unknown }).Plotly,
            charts: document.querySelectorAll('#notebook .js-plotly-plot').length,
            images: document.querySelectorAll('#notebook img').length,
            traces: document.querySelectorAll('#notebook .scatterlayer .trace').length,
          };
        }, outputs);
        assert.deepEqual(result, { defineRestored: true, plotly: 'object', charts: 2, images: 0, traces: 5 });

        // An untrusted notebook: the same HTML, scripts not run. The images show.
        const untrusted = await browser.newPage();
        await untrusted.setContent(`<!DOCTYPE html><html><body>${outputs.map(stripScripts).join('\n')}</body></html>`);
        const images = await untrusted.evaluate(async () => {
          const all = Array.from(document.querySelectorAll('img'));
          await Promise.all(all.map((img) => img.decode()));
          return all.map((img) => ({
            width: img.naturalWidth,
            height: img.naturalHeight,
            visible: img.getBoundingClientRect().height > 0,
          }));
        });
        assert.deepEqual(images, [
          { width: 600, height: 400, visible: true },
          { width: 600, height: 400, visible: true },
        ]);
      } finally {
        await browser.close();
      }
    });
  },
);
