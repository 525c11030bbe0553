/**
 * Every chart of the four committed notebooks, as JupyterLab shows them at the default width
 * (a 1400 x 1000 window, the file browser open), screenshotted and checked from the DOM.
 *
 * The notebooks are the committed, already-executed files (copies in the server's folder),
 * signed so that their saved `text/html` outputs run their scripts and plotly.js draws, and are
 * not run again. For every drawn plotly.js chart: its title, axis titles, legend, annotations and
 * colour bar lie inside the chart and are not clipped by the output area; its legend does not
 * scroll; and the colours of traces in different legend groups are told apart (seeds of one
 * variant share their variant's colour and legend group by design). Image outputs are
 * screenshotted too and must lie inside their output area. Screenshots go to
 * test-artifacts/lab/charts/<notebook>-<n>.png, and a list of the charts is printed.
 *
 * Needs the project's Jupyter environment (`npm run notebooks:setup`): without it the tests are
 * skipped, except with CI=true, where they fail.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { labUnavailable, openBrowser, REPO_ROOT, startLab, trustNotebook, type Lab } from './harness';

const SCREENSHOTS = join(REPO_ROOT, 'test-artifacts', 'lab', 'charts');
const NAMES = ['01-mnist-walkthrough', '02-training-dynamics', '03-hyperparameters', '04-predictions'] as const;
type Name = (typeof NAMES)[number];

/** Pixels a label may overhang its chart or its output area (anti-aliasing, rounding of text boxes). */
const TOLERANCE_PX = 3;
/**
 * The smallest colour difference between two traces of different legend groups: CIE76 ΔE (CIELAB
 * distance) of the colours as drawn on the white page. ΔE 2.3 is just noticeable on large patches
 * side by side; thin lines apart need several times more. 10 flags two shades of one hue (#1f77b4
 * and #2a7fba: ΔE 3.5), while the 13 variant colours of 03's sweep chart are at least 27 apart.
 */
const MIN_DELTA_E = 10;

const unavailable = labUnavailable();
const skip = unavailable !== null && process.env.CI !== 'true' ? `Jupyter is not set up (${unavailable})` : false;

interface NotebookFile {
  cells: { cell_type: string; outputs?: { output_type: string; data?: Record<string, string | string[]> }[] }[];
}

/** The charts each cell's saved outputs hold: one static fallback image per chart the page draws with plotly.js. */
function chartsInFile(notebook: NotebookFile): Map<number, number> {
  const counts = new Map<number, number>();
  notebook.cells.forEach((cell, index) => {
    for (const output of cell.outputs ?? []) {
      const html = output.data?.['text/html'];
      if (html === undefined) continue;
      const text = Array.isArray(html) ? html.join('') : html;
      const charts = text.split('<img class="mnist-chart-fallback"').length - 1;
      if (charts > 0) counts.set(index, (counts.get(index) ?? 0) + charts);
    }
  });
  return counts;
}

/** A text element of a chart (title, axis title, legend, ...) against the chart and what clips it. */
interface Label {
  kind: string;
  text: string;
  box: Box;
}
interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
interface TraceColour {
  name: string;
  type: string;
  /** The legend group ('' when none: the trace is a group of its own). */
  group: string;
  /** Its line or marker colour as drawn on white (opacity applied), or null (a heatmap, per-point colours). */
  rgb: [number, number, number] | null;
  /** The distinct colours of its points when it colours them one by one (a bar picked out in red), as drawn. */
  pointRgbs: [number, number, number][];
}
/** A chart (a drawn plotly.js plot, or an image output) of the open notebook, as measured in the page. */
interface Chart {
  cell: number;
  kind: 'plotly' | 'image';
  title: string;
  box: Box;
  /** The part of the page the chart's ancestors up to its cell let through (output area, scrolling boxes). */
  clip: Box;
  labels: Label[];
  legendEntries: string[];
  /** Height of the legend's scroll bar: non-zero when entries are hidden in a scrolling legend. */
  legendScrollbar: number;
  traces: TraceColour[];
}

/** What `window.jupyterapp` offers that this file uses. */
interface App {
  shell: { currentWidget: { content?: { widgets: { node: HTMLElement }[] } } | null };
}

/** Scrolls through the open notebook (cells far from the view may not be laid out) and counts what is drawn. */
async function drawnPerCell(page: Page): Promise<{ plots: number[]; fallbacks: number }> {
  return page.evaluate(async () => {
    const app = (window as unknown as { jupyterapp?: App }).jupyterapp;
    const cells = app?.shell.currentWidget?.content?.widgets ?? [];
    for (const cell of cells) {
      cell.node.scrollIntoView();
      await new Promise((r) => setTimeout(r, 30));
    }
    return {
      plots: cells.map(
        (c) =>
          Array.from(c.node.querySelectorAll('.js-plotly-plot')).filter((p) => p.querySelector('.main-svg')).length,
      ),
      fallbacks: cells.reduce(
        (n, c) =>
          n +
          Array.from(c.node.querySelectorAll('img.mnist-chart-fallback')).filter(
            (img) => (img as HTMLElement).offsetParent !== null,
          ).length,
        0,
      ),
    };
  });
}

/** Scrolls chart `n` of the open notebook into view and measures it. */
async function measure(page: Page, n: number): Promise<Chart | null> {
  return page.evaluate(async (index) => {
    type Plot = HTMLElement & {
      _fullData?: {
        name?: string;
        type?: string;
        legendgroup?: string;
        visible?: boolean | string;
        mode?: string;
        opacity?: number;
        line?: { color?: unknown };
        marker?: { color?: unknown };
      }[];
      _fullLayout?: { title?: { text?: string } };
    };
    const app = (window as unknown as { jupyterapp?: App }).jupyterapp;
    const cells = app?.shell.currentWidget?.content?.widgets ?? [];
    // Charts in page order: drawn plots, and images shown in outputs (PNG outputs, fallbacks left visible).
    const found: { cell: number; element: HTMLElement }[] = [];
    cells.forEach((cell, i) => {
      for (const element of Array.from(
        cell.node.querySelectorAll('.jp-OutputArea-output .js-plotly-plot, .jp-OutputArea-output img'),
      ) as HTMLElement[])
        if (element.tagName !== 'IMG' || element.offsetParent !== null) found.push({ cell: i, element });
    });
    const target = found[index];
    if (!target) return null;
    // Found again by this mark for its screenshot.
    for (const marked of Array.from(document.querySelectorAll('[data-chart-shot]')))
      marked.removeAttribute('data-chart-shot');
    target.element.setAttribute('data-chart-shot', '');
    target.element.scrollIntoView({ block: 'center' });
    await new Promise((r) => setTimeout(r, 300));
    const box = (r: DOMRect) => ({ left: r.left, top: r.top, right: r.right, bottom: r.bottom });
    const cellNode = cells[target.cell].node;
    let clip = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    for (let node = target.element.parentElement; node && node !== cellNode; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
        const r = node.getBoundingClientRect();
        clip = {
          left: Math.max(clip.left, r.left),
          top: Math.max(clip.top, r.top),
          right: Math.min(clip.right, r.right),
          bottom: Math.min(clip.bottom, r.bottom),
        };
      }
    }
    if (target.element.tagName === 'IMG') {
      const img = target.element as HTMLImageElement;
      return {
        cell: target.cell,
        kind: 'image' as const,
        title: img.alt || 'an image output',
        box: box(img.getBoundingClientRect()),
        clip,
        labels: [],
        legendEntries: [],
        legendScrollbar: 0,
        traces: [],
      };
    }
    const plot = target.element as Plot;
    const labels: { kind: string; text: string; box: ReturnType<typeof box> }[] = [];
    const add = (kind: string, element: Element | null) => {
      if (!element) return;
      const r = element.getBoundingClientRect();
      const text = (element.textContent ?? '').trim();
      // Empty titles are drawn as empty text elements: nothing to cut.
      if (text === '' || r.width === 0 || r.height === 0) return;
      labels.push({ kind, text, box: box(r) });
    };
    add('title', plot.querySelector('text.gtitle'));
    for (const text of Array.from(plot.querySelectorAll('.infolayer text'))) {
      const kind = Array.from(text.classList).find((c) => /^[xy]\d*title$/.test(c));
      if (kind) add(kind, text);
    }
    const legend = plot.querySelector('g.legend');
    // The legend group's box takes in its entries, even those a scrolling legend hides.
    if (legend?.querySelector('.traces')) add('legend', legend);
    add('legend title', plot.querySelector('g.legend .legendtitletext'));
    for (const a of Array.from(plot.querySelectorAll('.annotation'))) add('annotation', a);
    for (const c of Array.from(plot.querySelectorAll('g.colorbar'))) add('colour bar', c);
    // A colour as drawn on the white page: rgba and the trace's opacity blended with white.
    const canvas = document.createElement('canvas').getContext('2d')!;
    const drawn = (colour: unknown, opacity: number): [number, number, number] | null => {
      if (typeof colour !== 'string') return null;
      canvas.clearRect(0, 0, 1, 1);
      canvas.fillStyle = '#ffffff';
      canvas.fillRect(0, 0, 1, 1);
      canvas.globalAlpha = opacity;
      canvas.fillStyle = colour;
      canvas.fillRect(0, 0, 1, 1);
      canvas.globalAlpha = 1;
      const [r, g, b] = canvas.getImageData(0, 0, 1, 1).data;
      return [r, g, b];
    };
    const traces = (plot._fullData ?? [])
      .filter((t) => t.visible !== false)
      .map((t) => {
        const lines = (t.mode ?? '').includes('lines');
        const colour = t.type === 'scatter' && lines ? t.line?.color : t.marker?.color;
        const perPoint = t.marker?.color;
        const points = Array.isArray(perPoint) ? [...new Set(perPoint.map(String))] : [];
        return {
          name: String(t.name ?? ''),
          type: String(t.type ?? ''),
          group: String(t.legendgroup ?? ''),
          // A heatmap's colour scale is one scale by design: not a set of colours to tell apart.
          rgb: t.type === 'heatmap' ? null : drawn(colour, t.opacity ?? 1),
          pointRgbs: points
            .map((c) => drawn(c, t.opacity ?? 1))
            .filter((c): c is [number, number, number] => c !== null),
        };
      });
    return {
      cell: target.cell,
      kind: 'plotly' as const,
      title: plot._fullLayout?.title?.text ?? plot.querySelector('text.gtitle')?.textContent ?? '',
      // Plotly's drawing surface: wider than its div when the figure has a fixed width.
      box: box((plot.querySelector('svg.main-svg') ?? plot).getBoundingClientRect()),
      clip,
      labels,
      legendEntries: Array.from(legend?.querySelectorAll('.traces') ?? []).map((t) => t.textContent ?? ''),
      legendScrollbar: Math.round(legend?.querySelector('.scrollbar')?.getBoundingClientRect().height ?? 0),
      traces,
    };
  }, n);
}

/** CIE76 ΔE between two sRGB colours (D65). */
function deltaE(a: [number, number, number], b: [number, number, number]): number {
  const lab = ([r, g, b]: [number, number, number]) => {
    const linear = (c: number) => {
      const v = c / 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    const [R, G, B] = [linear(r), linear(g), linear(b)];
    const xyz = [
      (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047,
      0.2126 * R + 0.7152 * G + 0.0722 * B,
      (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883,
    ];
    const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (t * 24389) / 27 / 116 + 16 / 116);
    const [fx, fy, fz] = xyz.map(f);
    return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
  };
  const [l1, a1, b1] = lab(a);
  const [l2, a2, b2] = lab(b);
  return Math.hypot(l1 - l2, a1 - a2, b1 - b2);
}

const inside = (inner: Box, outer: Box) =>
  inner.left >= outer.left - TOLERANCE_PX &&
  inner.top >= outer.top - TOLERANCE_PX &&
  inner.right <= outer.right + TOLERANCE_PX &&
  inner.bottom <= outer.bottom + TOLERANCE_PX;
const show = (b: Box) => `[${[b.left, b.top, b.right, b.bottom].map(Math.round).join(', ')}]`;
const hex = (rgb: [number, number, number]) => `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;

/**
 * The colours of a chart that must be told apart, with their difference: traces of different legend
 * groups (the seeds of one variant share a group and may share a colour; a trace without a group is
 * its own), and the distinct colours of one trace's points.
 */
function colourPairs(chart: Chart): { what: string; deltaE: number }[] {
  const pairs: { what: string; deltaE: number }[] = [];
  for (const trace of chart.traces)
    trace.pointRgbs.forEach((a, i) =>
      trace.pointRgbs
        .slice(i + 1)
        .forEach((b) =>
          pairs.push({ what: `points of "${trace.name}" in ${hex(a)} and ${hex(b)}`, deltaE: deltaE(a, b) }),
        ),
    );
  const coloured = chart.traces.flatMap((t) => (t.rgb === null ? [] : [{ ...t, rgb: t.rgb }]));
  coloured.forEach((a, i) =>
    coloured.slice(i + 1).forEach((b) => {
      if (a.group === '' || a.group !== b.group)
        pairs.push({
          what: `traces "${a.name}" ${hex(a.rgb)} and "${b.name}" ${hex(b.rgb)}`,
          deltaE: deltaE(a.rgb, b.rgb),
        });
    }),
  );
  return pairs;
}

/** What is wrong with a chart as the page shows it ([] when nothing). */
function chartProblems(chart: Chart): string[] {
  const problems: string[] = [];
  const where = `cell ${chart.cell} "${chart.title}"`;
  if (!inside(chart.box, chart.clip))
    problems.push(
      `${where}: the ${chart.kind === 'image' ? 'image' : 'chart'} ${show(chart.box)} is cut by its output area ${show(chart.clip)}`,
    );
  for (const label of chart.labels) {
    if (!inside(label.box, chart.box))
      problems.push(`${where}: ${label.kind} "${label.text}" ${show(label.box)} leaves the chart ${show(chart.box)}`);
    else if (!inside(label.box, chart.clip))
      problems.push(`${where}: ${label.kind} "${label.text}" ${show(label.box)} is cut by ${show(chart.clip)}`);
  }
  if (chart.legendScrollbar > 0)
    problems.push(`${where}: the legend scrolls (${chart.legendEntries.length} entries, some hidden)`);
  for (const pair of colourPairs(chart))
    if (pair.deltaE < MIN_DELTA_E)
      problems.push(`${where}: ${pair.what} differ by ΔE ${pair.deltaE.toFixed(1)} (< ${MIN_DELTA_E})`);
  return problems;
}

/** Shuts down every kernel of the server (each notebook opened starts one; none is used). */
async function shutdownKernels(lab: Lab): Promise<void> {
  const headers = { Authorization: `token ${lab.token}` };
  const sessions = (await (await fetch(`${lab.url}api/sessions`, { headers })).json()) as { id: string }[];
  for (const session of sessions) await fetch(`${lab.url}api/sessions/${session.id}`, { method: 'DELETE', headers });
}

describe('the checks on a measured chart', () => {
  const box = (left: number, top: number, right: number, bottom: number): Box => ({ left, top, right, bottom });
  const trace = (name: string, rgb: [number, number, number], group = ''): TraceColour => ({
    name,
    type: 'scatter',
    group,
    rgb,
    pointRgbs: [],
  });
  const chart = (changes: Partial<Chart>): Chart => ({
    cell: 3,
    kind: 'plotly',
    title: 'Validation accuracy',
    box: box(100, 100, 570, 460),
    clip: box(90, 90, 1000, 1000),
    labels: [{ kind: 'legend', text: 'validation', box: box(110, 420, 300, 450) }],
    legendEntries: ['validation'],
    legendScrollbar: 0,
    traces: [trace('validation', [31, 119, 180]), trace('tutorial', [85, 85, 85])],
    ...changes,
  });

  it('passes a chart whose labels are inside it and whose colours differ', () => {
    assert.deepEqual(chartProblems(chart({})), []);
  });

  it('reports a legend outside its chart, a title cut by the output area, a scrolling legend', () => {
    const problems = chartProblems(
      chart({
        labels: [
          { kind: 'legend', text: 'validation', box: box(580, 200, 700, 230) },
          { kind: 'title', text: 'Validation accuracy', box: box(200, 100, 400, 120) },
        ],
        clip: box(90, 110, 1000, 1000),
        legendScrollbar: 40,
      }),
    );
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems[0], /the chart .* is cut by its output area/);
    assert.match(problems[1], /legend "validation" .* leaves the chart/);
    assert.match(problems[2], /title "Validation accuracy" .* is cut by/);
    assert.match(problems[3], /the legend scrolls/);
  });

  it('reports two groups in close colours, not the seeds of one group, and close colours of points', () => {
    const close = chart({
      traces: [
        trace('full recipe', [31, 119, 180], 'full recipe'),
        trace('full recipe', [31, 119, 180], 'full recipe'),
        trace('hidden 100', [42, 127, 186], 'hidden 100'),
      ],
    });
    const problems = chartProblems(close);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.ok(problems.every((p) => /"full recipe" #1f77b4 and "hidden 100" #2a7fba differ by ΔE/.test(p)));
    const points = chart({
      traces: [
        {
          ...trace('accuracy', [31, 119, 180]),
          rgb: null,
          pointRgbs: [
            [31, 119, 180],
            [198, 40, 40],
            [200, 42, 40],
          ],
        },
      ],
    });
    assert.deepEqual(
      chartProblems(points).map((p) => p.replace(/ΔE [\d.]+/, 'ΔE')),
      ['cell 3 "Validation accuracy": points of "accuracy" in #c62828 and #c82a28 differ by ΔE (< 10)'],
    );
  });

  it('measures CIE76 ΔE: 0 for one colour, about 100 from black to white, small for near shades', () => {
    assert.equal(deltaE([31, 119, 180], [31, 119, 180]), 0);
    assert.ok(Math.abs(deltaE([0, 0, 0], [255, 255, 255]) - 100) < 0.1);
    assert.ok(deltaE([31, 119, 180], [42, 127, 186]) < MIN_DELTA_E);
    assert.ok(deltaE([31, 119, 180], [0, 0, 255]) > MIN_DELTA_E);
  });
});

describe('every chart of the committed notebooks in JupyterLab at the default width', { skip }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  const files = new Map<Name, NotebookFile>();
  const listing: string[] = [];

  before(async () => {
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });
    const texts: Record<string, string> = {};
    for (const name of NAMES) {
      const text = await readFile(join(REPO_ROOT, 'notebooks', `${name}.ipynb`), 'utf8');
      files.set(name, JSON.parse(text) as NotebookFile);
      texts[`notebooks/${name}.ipynb`] = text;
    }
    lab = await startLab({ files: texts, timeoutSeconds: 240 });
    // Signed as Jupyter signs a notebook it ran and saved: Lab opens it trusted and runs its outputs' scripts.
    for (const name of NAMES) await trustNotebook(lab, `notebooks/${name}.ipynb`);
    browser = await openBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    if (listing.length > 0) console.log(listing.join('\n'));
    await page?.close();
    await browser?.close();
    await lab?.stop();
  });

  for (const name of NAMES) {
    it(`${name}: every chart drawn, no label cut, colours told apart`, async () => {
      const path = `notebooks/${name}.ipynb`;
      await shutdownKernels(lab);
      // `reset`: a workspace with this notebook only. The kernel it starts is not waited for: nothing runs.
      await page.goto(`${lab.url}lab/tree/${path}?reset&token=${lab.token}`, { timeout: 90_000 });
      await page.waitForSelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook', { timeout: 90_000 });
      const expected = chartsInFile(files.get(name)!);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      assert.ok(total > 0, `${name}: no chart in the committed outputs`);
      // The draw scripts wait for plotly.js (the first chart output's script) and retry.
      let drawn = await drawnPerCell(page);
      for (const deadline = Date.now() + 90_000; ;) {
        const missing = [...expected].filter(([cell, count]) => drawn.plots[cell] !== count);
        if (missing.length === 0 && drawn.fallbacks === 0) break;
        if (Date.now() > deadline)
          assert.fail(
            `${name}: charts not drawn by plotly.js: ${missing.map(([c, k]) => `cell ${c}: ${drawn.plots[c] ?? 0} of ${k}`).join(', ')}; ${drawn.fallbacks} fallback images shown`,
          );
        await new Promise((r) => setTimeout(r, 500));
        drawn = await drawnPerCell(page);
      }

      // Nothing in front of the charts (a kernel or trust dialog would be in every screenshot).
      assert.equal(await page.locator('.jp-Dialog').count(), 0, `${name}: a dialog is open`);
      const problems: string[] = [];
      listing.push(`${name}:`);
      let plots = 0;
      for (let n = 0; ; n++) {
        const chart = await measure(page, n);
        if (chart === null) break;
        if (chart.kind === 'plotly') plots++;
        const file = join(SCREENSHOTS, `${name.slice(0, 2)}-${n + 1}.png`);
        await page.locator('[data-chart-shot]').screenshot({ path: file });
        problems.push(...chartProblems(chart));
        const width = Math.round(chart.box.right - chart.box.left);
        const height = Math.round(chart.box.bottom - chart.box.top);
        const pairs = colourPairs(chart);
        const closest =
          pairs.length === 0 ? '' : `, closest colours ΔE ${Math.min(...pairs.map((p) => p.deltaE)).toFixed(0)}`;
        listing.push(
          `  ${n + 1}. cell ${chart.cell} ${chart.kind} "${chart.title}": ${chart.traces.length} traces, ` +
            `legend [${chart.legendEntries.join(' | ')}], ${width} x ${height} px${closest}, ${file.slice(REPO_ROOT.length + 1)}`,
        );
      }
      assert.equal(plots, total, `${name}: ${plots} charts measured, ${total} in the committed outputs`);
      assert.deepEqual(problems, [], `${name}: charts as JupyterLab shows them`);
    });
  }
});
