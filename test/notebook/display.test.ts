import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNotebookCharts, type SvgRenderer } from '../../src/notebook/display';
import type { NotebookOutput } from '../../src/notebook/kernel-output';
import { CHROMIUM_ARGS, ChromiumNotFoundError, findChromium, withRenderer } from '../../src/charts/chromium';
import { plotlySource } from '../../src/charts/html';
import { accuracyFigure, lossFigure } from '../../src/charts/figures';
import { longHistory, makeHistory } from '../charts/histories';
import {
  count,
  DEFINE_HIDE,
  FAKE_LIBRARY,
  FAKE_SVG,
  fakeOutput,
  fakeRenderer,
  fallbackSvgs,
  PLOTLY_BANNER,
  stripScripts,
} from './fake-output';

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
      /Jupyter notebook run by the tslab or the Deno kernel.*exportFigure/,
    );
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
