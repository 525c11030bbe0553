/**
 * Text that users choose (run names, titles, file names, data descriptions, config values) reaches
 * HTML and SVG pages. Each is filled with markup that would run a script if it were pasted in
 * unescaped; every page is opened in headless Chromium, and none of it may run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chartsHtml } from '../../src/notebook/chart-html';
import { CHROMIUM_ARGS, withRenderer } from '../../src/charts/chromium';
import { exportRunCharts } from '../../src/charts/export';
import { figureToHtml } from '../../src/charts/html';
import { accuracyFigure, lossFigure, type PlotlyFigure } from '../../src/charts/figures';
import { imagesFigure } from '../../src/charts/predictions';
import type { TrainingConfig } from '../../src/core/config';
import { browserSkip, chromium } from '../helpers/chromium';
import { makeHistory } from './histories';

/** Markup that records in `window.__pwned` if any of it runs. */
function hostile(where: string): string {
  return [
    `${where} </script><script>window.__pwned.push('${where}: script')</script>`,
    `"><img src=x onerror="window.__pwned.push('${where}: attribute')">`,
    `'><svg onload="window.__pwned.push('${where}: svg')"></svg>`,
    `<a href="javascript:window.__pwned.push('${where}: link')">link</a>`,
    `<img src=x onerror=window.__pwned.push('${where}:img')>`,
  ].join(' ');
}

/** The same markup pasted in unescaped: it must run, or the test could not see a script that runs. */
const CONTROL = { html: `<img src=x onerror="window.__pwned.push('control')">` };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-escaping-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A history whose every free-text field is hostile. */
function hostileHistory() {
  const history = makeHistory();
  history.data = hostile('data description (a file name)');
  history.backend = hostile('backend');
  history.error = hostile('error');
  // A config value that is text; validation would refuse it, but a history file can say anything.
  history.config = { ...history.config, activation: hostile('config value') as TrainingConfig['activation'] };
  return history;
}

/**
 * Opens each page (a URL or HTML content) in Chromium, lets it draw, and returns what ran: the
 * entries of `window.__pwned`, dialogs, and the visible text (to show the markup is shown as text).
 */
async function open(pages: ({ url: string } | { html: string })[]): Promise<{ ran: string[]; texts: string[] }> {
  let n = 0;
  const { chromium: browserType } = await import('playwright-core');
  const browser = await browserType.launch({ executablePath: chromium, args: [...CHROMIUM_ARGS] });
  const ran: string[] = [];
  const texts: string[] = [];
  try {
    for (const page of pages) {
      const tab = await browser.newPage();
      await tab.addInitScript(() => {
        (window as unknown as { __pwned: string[] }).__pwned = [];
      });
      tab.on('dialog', (dialog) => {
        ran.push(`dialog: ${dialog.message()}`);
        void dialog.dismiss();
      });
      // HTML goes through a file: init scripts run for navigations, not for setContent.
      let url: string;
      if ('url' in page) url = page.url;
      else {
        const file = join(dir, `page-${n++}.html`);
        await writeFile(
          file,
          `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${page.html}</body></html>`,
        );
        url = pathToFileURL(file).href;
      }
      await tab.goto(url);
      await tab.waitForTimeout(700);
      ran.push(
        ...(await tab.evaluate(
          () => (window as unknown as { __pwned?: string[] }).__pwned ?? ['(__pwned was replaced)'],
        )),
      );
      texts.push(await tab.evaluate(() => document.documentElement.textContent ?? ''));
      await tab.close();
    }
  } finally {
    await browser.close();
  }
  return { ran, texts };
}

describe('text that reaches HTML is escaped', { skip: browserSkip }, () => {
  it('exported run charts (HTML and SVG): hostile run name, data description, backend and config value', async () => {
    const out = join(dir, 'run-charts');
    await exportRunCharts(
      out,
      { name: hostile('run name'), history: hostileHistory() },
      { formats: ['html', 'svg', 'json'], data: true },
    );
    const pages = (await readdir(out)).filter((f) => /\.(html|svg)$/.test(f));
    assert.equal(pages.length, 8);
    const { ran, texts } = await open([...pages.map((f) => ({ url: pathToFileURL(join(out, f)).href })), CONTROL]);
    assert.deepEqual(ran, ['control'], 'no script ran but the control page’s');
    assert.ok(
      texts.some((t) => t.includes('run name </script><script>')),
      'the run name is shown as text',
    );
  });

  it('figure pages and notebook outputs: hostile titles, run names, status line, image titles (file names) and fallback image text', async () => {
    const history = hostileHistory();
    const runs = [
      { name: hostile('run 1'), history },
      { name: hostile('run 2'), history: makeHistory({ scale: 2 }) },
    ];
    const figures: PlotlyFigure[] = [
      accuracyFigure(runs, { title: hostile('chart title') }),
      lossFigure(runs),
      imagesFigure([{ pixels: new Float32Array(784), width: 28, height: 28, title: hostile('digit file name') }], {
        title: hostile('images title'),
      }),
    ];
    const svgs = await withRenderer((renderer) => Promise.all(figures.map((fig) => renderer.svg(fig))));
    const { ran, texts } = await open([
      ...figures.map((fig) => ({ html: figureToHtml(fig, { title: hostile('page title') }) })),
      { html: chartsHtml(figures, { includeLibrary: true, status: hostile('status line'), fallbackSvgs: svgs }) },
      // Where scripts do not run (an untrusted notebook), the fallback images show.
      {
        html: chartsHtml(figures, { status: hostile('status line'), fallbackSvgs: svgs }).replace(
          /<script>[\s\S]*<\/script>$/,
          '',
        ),
      },
      CONTROL,
    ]);
    assert.deepEqual(ran, ['control'], 'no script ran but the control page’s');
    assert.ok(
      texts.some((t) => t.includes("status line </script><script>window.__pwned.push('status line: script')</script>")),
      'the status line is shown as text',
    );
    assert.ok(
      texts.some((t) => t.includes('run 1 </script><script>')),
      'the run names are shown as text',
    );
  });
});
