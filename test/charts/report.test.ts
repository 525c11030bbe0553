import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM_ARGS } from '../../src/charts/chromium';
import { allRunFigures } from '../../src/charts/figures';
import { exportRunReport, REPORT_CHART_CLASS, REPORT_FILE, runReportHtml } from '../../src/charts/report';
import { writeRunReport } from '../../src/bin/train';
import { longHistory, makeHistory } from './histories';
import { browserSkip, chromium } from '../helpers/chromium';

const PLOTLY_BANNER = '* plotly.js v';
const count = (text: string, part: string) => text.split(part).length - 1;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'report-test-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** What headless Chromium drew of a page: per chart element, the traces plotly.js drew in it. */
interface Drawn {
  charts: { id: string; traces: number; drawnTraces: number; width: number; height: number }[];
  errors: string[];
  requests: string[];
}

/** Opens `path` in headless Chromium with the network off, and reads what was drawn. */
async function openOffline(path: string): Promise<Drawn> {
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({ executablePath: chromium, args: [...CHROMIUM_ARGS] });
  try {
    const context = await browser.newContext({ offline: true });
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
    await page.waitForFunction(
      (cls) => Array.from(document.querySelectorAll(`.${cls}`)).every((div) => div.querySelector('.main-svg') !== null),
      REPORT_CHART_CLASS,
      { timeout: 30_000 },
    );
    const charts = await page.evaluate((cls) => {
      return Array.from(document.querySelectorAll<HTMLElement & { data?: unknown[] }>(`.${cls}`)).map((div) => ({
        id: div.id,
        traces: div.data?.length ?? 0,
        // Every trace draws one group of lines or markers in the plot area.
        drawnTraces: div.querySelectorAll('.scatterlayer .trace').length,
        width: div.getBoundingClientRect().width,
        height: div.getBoundingClientRect().height,
      }));
    }, REPORT_CHART_CLASS);
    return { charts, errors, requests };
  } finally {
    await browser.close();
  }
}

describe('runReportHtml', () => {
  it('inlines plotly.js once and every chart of the run, with the summary and settings', () => {
    const history = makeHistory();
    const html = runReportHtml({ name: 'tutorial', history });
    assert.equal(count(html, PLOTLY_BANNER), 1);
    assert.equal(count(html, `class="${REPORT_CHART_CLASS}"`), 4);
    assert.match(html, /<title>MNIST run: tutorial<\/title>/);
    assert.match(html, /completed: 50 steps in/);
    assert.match(html, /<th>learningRateBase<\/th><td>0\.8<\/td>/);
  });

  it('escapes the run name and the data description', () => {
    const history = makeHistory();
    history.data = '</script><script>alert(1)</script>';
    const html = runReportHtml({ name: '<img src=x onerror=alert(2)>', history });
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!html.includes('<script>alert(1)'));
    assert.match(html, /&lt;img src=x onerror=alert\(2\)&gt;/);
  });
});

describe('exportRunReport', () => {
  it(
    'a full-length run: one report.html under 6 MB, every chart and trace drawn offline in Chromium',
    { skip: browserSkip },
    async () => {
      const out = join(dir, 'full');
      // 30,000 steps recorded every 10: the tutorial's run.
      const history = longHistory(3000);
      const paths = await exportRunReport(out, { name: 'tutorial', history }, { data: false });
      const report = join(out, REPORT_FILE);
      const images = ['accuracy', 'loss', 'learning-rate', 'gradients'].flatMap((base) =>
        ['svg', 'png'].map((ext) => join(out, `${base}.${ext}`)),
      );
      assert.deepEqual(paths, [report, ...images]);
      assert.deepEqual(
        (await readdir(out)).sort(),
        paths.map((p) => p.slice(out.length + 1)).sort(),
        'no HTML page per chart, no temporary files',
      );
      const size = (await stat(report)).size;
      assert.ok(size < 6 * 1024 * 1024, `report.html is ${size} bytes`);

      const figures = allRunFigures({ name: 'tutorial', history });
      const drawn = await openOffline(report);
      assert.deepEqual(drawn.errors, []);
      assert.deepEqual(drawn.requests, [], 'the report loads nothing from the network');
      assert.deepEqual(
        drawn.charts.map(({ id, traces }) => ({ id, traces })),
        [
          { id: 'accuracy', traces: figures.accuracy.data.length },
          { id: 'loss', traces: figures.loss.data.length },
          { id: 'learning-rate', traces: figures.learningRate.data.length },
          { id: 'gradients', traces: figures.gradients.data.length },
        ],
      );
      for (const chart of drawn.charts) {
        assert.equal(chart.drawnTraces, chart.traces, `${chart.id}: traces drawn`);
        assert.ok(chart.width > 100 && chart.height > 100, `${chart.id} is ${chart.width} x ${chart.height}`);
      }
    },
  );

  it('rejects an image format that is not one', async () => {
    await assert.rejects(
      exportRunReport(join(dir, 'bad'), makeHistory(), { images: ['html' as never] }),
      /unknown image format "html"/,
    );
  });
});

describe('writeRunReport (the CLI)', () => {
  it('writes the report and the chart images, and prints where the report is', { skip: browserSkip }, async () => {
    const out = join(dir, 'cli');
    const lines: string[] = [];
    await writeRunReport(out, makeHistory(), (line) => lines.push(line));
    assert.deepEqual(lines, [`report: ${resolve(out, REPORT_FILE)}`]);
    assert.equal(count(await readFile(join(out, REPORT_FILE), 'utf8'), PLOTLY_BANNER), 1);
    assert.deepEqual(
      (await readdir(out)).filter((name) => name.endsWith('.html')),
      [REPORT_FILE],
    );
    assert.ok((await readdir(out)).includes('loss.png'));
  });
});
