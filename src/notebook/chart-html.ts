/**
 * The HTML of chart outputs in Jupyter notebooks (pure functions).
 *
 * - plotly.js (about 4.8 MB) is inlined so that it loads in JupyterLab and in the classic
 *   Notebook, whose require.js would otherwise capture it: `window.define` is hidden while it runs.
 * - Each chart carries a static SVG image (rendered by headless Chromium) inside its div; the
 *   chart's script swaps it for the live chart when scripts run and plotly.js is there. A reopened
 *   untrusted notebook (scripts do not run) and GitHub's viewer show the image.
 */
import { randomBytes } from 'node:crypto';
import { checkFigure, escapeHtml, pageCall, PLOT_CONFIG, plotlySource, scriptElement } from '../charts/html';
import type { PlotlyFigure } from '../charts/figures';
import { drawCharts } from './browser/draw-charts';

/** The class of the static fallback image inside a chart's div. */
export const FALLBACK_CLASS = 'mnist-chart-fallback';
const SAVED_DEFINE = '__mnistChartsSavedDefine';

/** A fresh element id for a chart output. */
export function newChartId(): string {
  return `mnist-chart-${randomBytes(6).toString('hex')}`;
}

/**
 * plotly.js inlined so that it sets `window.Plotly` in both JupyterLab and the classic Notebook:
 * require.js's `window.define` is hidden while the library runs (a UMD bundle would register an
 * AMD module instead of the global) and put back afterwards, even if the library fails.
 */
export function libraryHtml(plotly: string = plotlySource()): string {
  return [
    `<script>window.${SAVED_DEFINE} = window.define; window.define = undefined;</script>`,
    `<script>${plotly}</script>`,
    `<script>window.define = window.${SAVED_DEFINE}; try { delete window.${SAVED_DEFINE}; } catch (e) { window.${SAVED_DEFINE} = undefined; }</script>`,
  ].join('\n');
}

/** An SVG image as an `<img>` with a data URL (what the untrusted-notebook and GitHub views show). */
export function fallbackImageHtml(svg: string, alt: string): string {
  return `<img class="${FALLBACK_CLASS}" alt="${escapeHtml(alt)}" style="max-width:100%;height:auto" src="data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}">`;
}

/**
 * The script that draws the figures into the slots of the element `id` once it is in the page and
 * plotly.js has loaded, replacing each slot's fallback image (see `drawCharts`).
 */
export function drawScript(id: string, figures: readonly PlotlyFigure[]): string {
  return scriptElement(pageCall(drawCharts, { id, figures, config: PLOT_CONFIG, fallbackClass: FALLBACK_CLASS }));
}

export interface ChartsHtmlOptions {
  /** Element id; default: a fresh one. */
  id?: string;
  /** Put plotly.js in front (the session's first chart output). */
  includeLibrary?: boolean;
  /** The library text to inline; default: plotly.js. */
  library?: string;
  /** A static SVG per figure (null or missing: live chart only). */
  fallbackSvgs?: readonly (string | null | undefined)[];
  /** A line of text above the charts (e.g. training progress). */
  status?: string;
  /** Lay the charts side by side (they wrap on narrow screens). */
  sideBySide?: boolean;
}

/** The HTML of one output holding one or more charts (each with its fallback image, if given). */
export function chartsHtml(figures: readonly PlotlyFigure[], options: ChartsHtmlOptions = {}): string {
  if (figures.length === 0) throw new Error('chartsHtml: no figures given');
  for (const fig of figures) checkFigure(fig, 'chartsHtml');
  const id = options.id ?? newChartId();
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`chartsHtml: "${id}" is not a usable element id`);
  const slotStyle = options.sideBySide === true ? 'flex:1 1 420px;min-width:300px' : 'width:100%';
  const slots = figures
    .map((fig, i) => {
      const svg = options.fallbackSvgs?.[i];
      // Any Plotly figure may come here: its layout may lack a title or a height.
      const image = typeof svg === 'string' ? fallbackImageHtml(svg, fig.layout?.title?.text ?? 'chart') : '';
      // Without an image, room for the chart to come (so the page does not jump); with one, the
      // image's own height: a fixed height would leave a gap under a scaled-down image.
      const height = image === '' ? `;min-height:${fig.layout?.height ?? 450}px` : '';
      return `<div data-chart-slot="${i}" style="${slotStyle}${height}">${image}</div>`;
    })
    .join('\n');
  const parts: string[] = [];
  if (options.includeLibrary === true) parts.push(libraryHtml(options.library));
  parts.push(`<div id="${id}" class="mnist-charts">`);
  if (options.status !== undefined)
    parts.push(
      `<div class="mnist-charts-status" style="font-family:monospace;white-space:pre-wrap;margin:4px 0">${escapeHtml(options.status)}</div>`,
    );
  parts.push(
    options.sideBySide === true ? `<div style="display:flex;flex-wrap:wrap;gap:8px">\n${slots}\n</div>` : slots,
  );
  parts.push('</div>');
  parts.push(drawScript(id, figures));
  return parts.join('\n');
}

/** The HTML of one chart output. */
export function chartHtml(
  fig: PlotlyFigure,
  options: Omit<ChartsHtmlOptions, 'fallbackSvgs'> & { fallbackSvg?: string | null } = {},
): string {
  const { fallbackSvg, ...rest } = options;
  return chartsHtml([fig], { ...rest, fallbackSvgs: [fallbackSvg] });
}

/** An output that only loads plotly.js (nothing visible). */
export function libraryOnlyHtml(library?: string): string {
  return `${libraryHtml(library)}\n<div class="mnist-charts-library" style="display:none"></div>`;
}
