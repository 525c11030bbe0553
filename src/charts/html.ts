/**
 * Charts as standalone HTML: plotly.js inlined (so a page opens offline), a figure's JSON made
 * safe inside a `<script>` element, text escaped for HTML.
 */
import { readFileSync } from 'node:fs';
import type { PlotlyFigure } from './figures';

/**
 * Per-process cache of plotly.min.js (about 4.8 MB): read on first use, never changed after.
 * The only module-level state here; it holds an immutable file's text.
 */
let plotlyCache: string | undefined;

/** The text of plotly.js (the `plotly.js-dist-min` bundle), safe to put inside a `<script>` element. */
export function plotlySource(): string {
  plotlyCache ??= scriptSafe(readFileSync(require.resolve('plotly.js-dist-min'), 'utf8'));
  return plotlyCache;
}

/** JavaScript that can sit inside `<script>...</script>`: no `</script` in it. */
export function scriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1');
}

/** A value as a JavaScript expression to embed in a `<script>` element (no `<`, `>`, `&`, or line separators). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * JavaScript that calls `fn` in a page with `args` (as JSON). The page gets `fn`'s compiled text
 * only, so `fn` must be self-contained: no imports, no names from its module's scope.
 */
export function pageCall<A extends unknown[]>(fn: (...args: A) => void, ...args: A): string {
  return `(${fn.toString()})(${args.map(jsonForScript).join(', ')});`;
}

/**
 * A `<script>` element running `code` in strict mode (as it was compiled) and in a function scope
 * of its own, so that its names stay out of the page's globals.
 */
export function scriptElement(code: string): string {
  return `<script>\n(function () {\n"use strict";\n${scriptSafe(code)}\n})();\n</script>`;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The chart options used for interactive charts. */
export const PLOT_CONFIG = { responsive: true, displaylogo: false } as const;

/** Options of `figureToHtml`. */
export interface HtmlOptions {
  /** The page title; default: the figure's title. */
  title?: string;
}

/** A standalone page with plotly.js inlined in its head: works offline, from a file. */
export function plotlyPageHtml(title: string, style: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
<script>${plotlySource()}</script>
</head>
<body>
${body}
</body>
</html>
`;
}

/** A standalone HTML page showing the figure, with plotly.js inlined: works offline, from a file. */
export function figureToHtml(fig: PlotlyFigure, options: HtmlOptions = {}): string {
  checkFigure(fig, 'figureToHtml');
  const title = options.title ?? fig.layout?.title?.text ?? 'chart';
  return plotlyPageHtml(
    title,
    'html, body { margin: 0; height: 100%; } #chart { width: 100%; height: 100%; min-height: 400px; }',
    `<div id="chart"></div>
<script>
(function () {
  var fig = ${jsonForScript(fig)};
  Plotly.newPlot(document.getElementById('chart'), fig.data, fig.layout, ${JSON.stringify(PLOT_CONFIG)});
})();
</script>`,
  );
}

/** Throws a TypeError naming `what` unless `fig` looks like a Plotly figure. */
export function checkFigure(fig: PlotlyFigure, what: string): void {
  const f = fig as Partial<PlotlyFigure> | null;
  if (
    typeof f !== 'object' ||
    f === null ||
    !Array.isArray(f.data) ||
    typeof f.layout !== 'object' ||
    f.layout === null
  ) {
    throw new TypeError(`${what}: expected a figure { data: Trace[], layout: {...} }`);
  }
}
