import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import {
  CHROMIUM_ARGS,
  ChromiumNotFoundError,
  decodeDataUrl,
  findChromium,
  withRenderer,
} from '../../src/charts/chromium';
import { exportFigure, exportRunCharts } from '../../src/charts/export';
import { figureToHtml, jsonForScript, plotlySource } from '../../src/charts/html';
import { createSharedRenderer } from '../../src/charts/shared-renderer';
import { accuracyFigure, gradientFigure, lossFigure, type Figure } from '../../src/charts/figures';
import { CSV_COLUMNS, parseHistory } from '../../src/core/history';
import { OutputError } from '../../src/util/io';
import { longHistory, makeHistory } from './histories';
import { browserSkip } from '../helpers/chromium';

const PLOTLY_BANNER = '* plotly.js v';
const count = (text: string, part: string) => text.split(part).length - 1;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'charts-export-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function checkSvg(svg: string, traceNames: string[]): void {
  assert.ok(svg.startsWith('<svg'), `starts with ${svg.slice(0, 20)}`);
  assert.match(svg, /<\/svg>\s*$/);
  // Drawn line traces: paths with at least one segment.
  assert.match(svg, /class="js-line"[^>]* d="M[-\d.e]+,[-\d.e]+[LHV]/);
  for (const name of traceNames) assert.ok(svg.includes(name), `legend shows ${name}`);
}

function checkPng(png: Buffer, width: number, height: number): void {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const image = PNG.sync.read(png);
  assert.equal(image.width, width);
  assert.equal(image.height, height);
  // Not blank: the luminance varies, and many pixels are not background.
  let sum = 0;
  let sumSquares = 0;
  let inked = 0;
  const pixels = image.width * image.height;
  for (let i = 0; i < image.data.length; i += 4) {
    const luminance = 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
    sum += luminance;
    sumSquares += luminance * luminance;
    if (luminance < 200) inked++;
  }
  const mean = sum / pixels;
  const variance = sumSquares / pixels - mean * mean;
  assert.ok(variance > 50, `pixel variance ${variance.toFixed(1)} is too low: a blank image?`);
  assert.ok(inked > pixels / 200, `only ${inked} of ${pixels} pixels are drawn`);
}

describe('figureToHtml', () => {
  it('is a standalone page with plotly.js inlined once and the figure data', () => {
    // A run of 30,000 steps: the reference curve is drawn over the steps a run reached.
    const fig = accuracyFigure(longHistory(3001), { reference: true });
    const html = figureToHtml(fig, { title: 'Accuracy <run 1>' });
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.equal(count(html, PLOTLY_BANNER), 1);
    assert.ok(html.includes(plotlySource()));
    assert.ok(html.includes('<title>Accuracy &lt;run 1&gt;</title>'));
    assert.ok(html.includes('"name":"tutorial (reported)"'));
    assert.ok(html.includes('98.3900010586'));
    assert.ok(html.includes('Plotly.newPlot('));
    // Offline: no external scripts or stylesheets.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/);
  });

  it('uses the figure title by default', () => {
    assert.ok(figureToHtml(lossFigure(makeHistory())).includes('<title>Training loss</title>'));
  });

  it('cannot be broken out of by the data', () => {
    const fig = lossFigure({ name: '</script><script>alert(1)</script>', history: makeHistory() });
    const html = figureToHtml(fig);
    assert.equal(count(html, '</script>'), 2);
    assert.ok(!html.includes('alert(1)</script>'));
    assert.equal(jsonForScript({ a: '</script>&\u2028' }), '{"a":"\\u003c/script\\u003e\\u0026\\u2028"}');
    assert.deepEqual(JSON.parse(jsonForScript({ a: '</script>&\u2028' })), { a: '</script>&\u2028' });
  });

  it('rejects what is not a figure', () => {
    assert.throws(() => figureToHtml({} as Figure), /expected a figure/);
  });
});

describe('findChromium', () => {
  it('takes CHROMIUM_PATH when it names an executable', () => {
    assert.equal(findChromium({ env: { CHROMIUM_PATH: process.execPath }, candidates: [] }), process.execPath);
  });

  it('takes the first candidate that exists', () => {
    assert.equal(findChromium({ env: {}, candidates: ['/nowhere/chromium', process.execPath] }), process.execPath);
  });

  it('explains what to install or set when there is none', async () => {
    const notExecutable = join(dir, 'not-a-browser');
    await writeFile(notExecutable, 'text', { mode: 0o644 });
    const attempt = () =>
      findChromium({ env: { CHROMIUM_PATH: '/nowhere/chrome' }, candidates: ['/nowhere/chromium', notExecutable] });
    assert.throws(attempt, ChromiumNotFoundError);
    assert.throws(attempt, (error: Error) => {
      assert.match(error.message, /No Chromium browser found/);
      assert.match(error.message, /CHROMIUM_PATH=\/nowhere\/chrome \(not an executable file\)/);
      assert.ok(error.message.includes('/nowhere/chromium'));
      assert.ok(error.message.includes(notExecutable));
      assert.match(error.message, /apt-get install chromium/);
      assert.match(error.message, /set CHROMIUM_PATH/);
      return true;
    });
    assert.throws(() => findChromium({ env: {}, candidates: [] }), /CHROMIUM_PATH \(not set\)/);
  });

  it('launch flags keep the browser off the network', () => {
    for (const flag of [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ]) {
      assert.ok(CHROMIUM_ARGS.includes(flag), flag);
    }
  });
});

describe('decodeDataUrl', () => {
  it('decodes percent-encoded and base64 data URLs', () => {
    assert.equal(decodeDataUrl('data:image/svg+xml,%3Csvg%3E%20%3C%2Fsvg%3E').toString(), '<svg> </svg>');
    assert.equal(decodeDataUrl('data:image/png;base64,aGVsbG8=').toString(), 'hello');
    assert.throws(() => decodeDataUrl('http://example.com/'), /not a data URL/);
  });
});

describe('rendering with headless Chromium', { skip: browserSkip }, () => {
  it('renders SVG and PNG of several figures with one browser', async () => {
    const history = longHistory(600);
    await withRenderer(async (renderer) => {
      const svg = await renderer.svg(accuracyFigure(history, { reference: true }));
      checkSvg(svg, ['validation', 'test', 'tutorial (reported)']);
      const [loss, gradients] = await Promise.all([
        renderer.svg(lossFigure(history, { smoothing: 0.9 })),
        renderer.svg(gradientFigure(history)),
      ]);
      checkSvg(loss, ['mean cross-entropy', 'total loss']);
      checkSvg(gradients, ['all parameters', 'weights1', 'biases2']);
      checkPng(await renderer.png(lossFigure(history)), 900, 500);
      checkPng(await renderer.png(accuracyFigure(history), { width: 400, height: 300, scale: 2 }), 800, 600);
    });
  });

  it('closes the browser when the work fails', async () => {
    await assert.rejects(
      withRenderer(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
  });

  it('reports a browser that cannot start', async () => {
    await assert.rejects(
      withRenderer(async () => undefined, { executablePath: '/nowhere/chromium', launchTimeoutMs: 5000 }),
      /could not start Chromium \(\/nowhere\/chromium\)/,
    );
  });

  it('a shared renderer serves several uses and closes', async () => {
    const shared = createSharedRenderer({ idleMs: 60_000 });
    try {
      const first = await shared.use((r) => r.svg(lossFigure(makeHistory())));
      const second = await shared.use((r) => r.svg(accuracyFigure(makeHistory())));
      assert.ok(first.startsWith('<svg') && second.startsWith('<svg'));
    } finally {
      await shared.close();
    }
  });

  it('exportFigure writes the format its extension names', async () => {
    const fig = lossFigure(makeHistory());
    const target = join(dir, 'single', 'nested');
    await withRenderer(async (renderer) => {
      for (const ext of ['svg', 'png', 'html', 'json'])
        await exportFigure(fig, join(target, `loss.${ext}`), { renderer });
    });
    checkSvg(await readFile(join(target, 'loss.svg'), 'utf8'), ['total loss']);
    checkPng(await readFile(join(target, 'loss.png')), 900, 500);
    assert.equal(count(await readFile(join(target, 'loss.html'), 'utf8'), PLOTLY_BANNER), 1);
    assert.deepEqual(JSON.parse(await readFile(join(target, 'loss.json'), 'utf8')), fig);
  });

  it('exportRunCharts writes every chart as html, svg and png, plus the metrics and history', async () => {
    const out = join(dir, 'run-charts', 'deeper');
    const history = longHistory(300);
    const paths = await exportRunCharts(out, { name: 'tutorial', history }, { reference: true });
    const expected = ['accuracy', 'loss', 'learning-rate', 'gradients'].flatMap((base) =>
      ['html', 'svg', 'png'].map((ext) => join(out, `${base}.${ext}`)),
    );
    assert.deepEqual(paths, [...expected, join(out, 'metrics.csv'), join(out, 'history.json')]);
    assert.deepEqual(
      (await readdir(out)).sort(),
      paths.map((p) => p.slice(out.length + 1)).sort(),
      'no temporary files left',
    );
    for (const path of paths) assert.ok((await stat(path)).size > 0, path);
    checkSvg(await readFile(join(out, 'accuracy.svg'), 'utf8'), ['tutorial (reported)']);
    checkSvg(await readFile(join(out, 'learning-rate.svg'), 'utf8'), []);
    checkPng(await readFile(join(out, 'gradients.png')), 900, 500);
    assert.ok((await readFile(join(out, 'loss.html'), 'utf8')).includes(PLOTLY_BANNER));
    assert.deepEqual(parseHistory(await readFile(join(out, 'history.json'), 'utf8'), 'history.json'), history);
    const csv = await readFile(join(out, 'metrics.csv'), 'utf8');
    assert.ok(csv.startsWith(CSV_COLUMNS.join(',')));
  });
});

describe('exportRunCharts without a browser', () => {
  it('writes html and json charts without starting Chromium', async () => {
    const out = join(dir, 'light');
    const paths = await exportRunCharts(out, makeHistory(), { formats: ['json'], data: false, renderer: undefined });
    assert.deepEqual(
      paths,
      ['accuracy', 'loss', 'learning-rate', 'gradients'].map((base) => join(out, `${base}.json`)),
    );
    const fig = JSON.parse(await readFile(join(out, 'gradients.json'), 'utf8')) as Figure;
    assert.equal(fig.data.length, 5);
  });

  it('rejects an unknown format or file extension', async () => {
    await assert.rejects(
      exportRunCharts(join(dir, 'bad'), makeHistory(), { formats: ['gif' as never] }),
      /unknown format "gif"/,
    );
    await assert.rejects(
      exportFigure(lossFigure(makeHistory()), join(dir, 'loss.gif')),
      /use \.html, \.svg, \.png or \.json/,
    );
  });

  it('gives an OutputError for a folder that cannot be made, before rendering anything', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const target = join(file, 'charts');
    await assert.rejects(exportRunCharts(target, makeHistory()), (error: unknown) => {
      assert.ok(error instanceof OutputError);
      assert.equal(error.path, target);
      assert.match(error.message, /cannot write output here/);
      return true;
    });
    await assert.rejects(exportFigure(lossFigure(makeHistory()), join(target, 'loss.svg')), OutputError);
  });

  it('gives an OutputError for a folder without write permission', async () => {
    // Permission bits do not bind root: as root, the export runs in a child process as the
    // unprivileged user "nobody", for whom the folder is read-only.
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(dir, 0o755);
    await chmod(locked, 0o555);
    try {
      const exportModule = join(__dirname, '..', '..', 'src', 'charts', 'export.js');
      const historyModule = join(__dirname, 'histories.js');
      const script = `
        const { exportRunCharts } = require(${JSON.stringify(exportModule)});
        const { makeHistory } = require(${JSON.stringify(historyModule)});
        exportRunCharts(${JSON.stringify(locked)}, makeHistory(), { formats: ['html'] }).then(
          () => console.log(JSON.stringify({ ok: true })),
          (error) => console.log(JSON.stringify({ name: error.name, message: error.message })));`;
      const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: tmpdir(), ...asNobody });
      assert.equal(result.status, 0, result.stderr);
      const outcome = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { name?: string; message?: string };
      assert.equal(outcome.name, 'OutputError');
      assert.match(outcome.message ?? '', /locked: cannot write output here: permission denied/);
      assert.deepEqual(await readdir(locked), []);
    } finally {
      await chmod(locked, 0o700);
    }
  });
});
