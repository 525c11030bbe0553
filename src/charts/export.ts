/**
 * Charts as files: standalone offline HTML pages (src/charts/html.ts), SVG and PNG images rendered
 * by headless Chromium (src/charts/chromium.ts), and the figure JSON; a run's charts and data in
 * one call. Every file is written atomically.
 */
import { dirname, extname, join } from 'node:path';
import { historyToCsv, historyToJson } from '../core/history';
import { ensureWritableDir, writeFileAtomic } from '../util/io';
import { withRenderer, type ImageSize, type Renderer } from './chromium';
import { allRunFigures, resolveRuns, type PlotlyFigure, type Run, type RunFigures } from './figures';
import { checkFigure, figureToHtml } from './html';

/** A chart file format, named by its extension. */
export type ChartFormat = 'html' | 'svg' | 'png' | 'json';
/** Every format `exportFigure` writes. */
export const CHART_FORMATS: readonly ChartFormat[] = ['html', 'svg', 'png', 'json'];

function formatOf(path: string): ChartFormat {
  const ext = extname(path).toLowerCase().slice(1);
  if (!(CHART_FORMATS as readonly string[]).includes(ext)) {
    throw new Error(`cannot tell the chart format of "${path}" from its extension; use .html, .svg, .png or .json`);
  }
  return ext as ChartFormat;
}

/** Options of `exportFigure`. */
export interface ExportOptions {
  /** Renders SVG and PNG; default: a browser started for this call. */
  renderer?: Renderer;
  /** Image size for SVG and PNG. */
  size?: ImageSize;
  /** HTML page title. */
  title?: string;
}

async function figureFile(
  fig: PlotlyFigure,
  format: ChartFormat,
  renderer: Renderer | undefined,
  options: ExportOptions,
): Promise<string | Buffer> {
  switch (format) {
    case 'html':
      return figureToHtml(fig, { title: options.title });
    case 'json':
      return `${JSON.stringify(fig, null, 1)}\n`;
    case 'svg':
      return renderer!.svg(fig, options.size);
    case 'png':
      return renderer!.png(fig, options.size);
  }
}

const needsBrowser = (formats: readonly ChartFormat[]) => formats.some((f) => f === 'svg' || f === 'png');

/** Calls `use` with the given renderer, or with a fresh one when needed and none was given. */
async function maybeRenderer<T>(
  needed: boolean,
  given: Renderer | undefined,
  use: (renderer: Renderer | undefined) => Promise<T>,
): Promise<T> {
  if (!needed || given !== undefined) return use(given);
  return withRenderer((renderer) => use(renderer));
}

/**
 * Writes the figure to `path` in the format its extension names: .html (standalone page),
 * .svg, .png (rendered by Chromium) or .json (the figure). The folder is created if missing.
 */
export async function exportFigure(fig: PlotlyFigure, path: string, options: ExportOptions = {}): Promise<void> {
  checkFigure(fig, 'exportFigure');
  const format = formatOf(path);
  await ensureWritableDir(dirname(path));
  const content = await maybeRenderer(needsBrowser([format]), options.renderer, (renderer) =>
    figureFile(fig, format, renderer, options),
  );
  await writeFileAtomic(path, content);
}

/** File names (without extension) of a run's charts. */
export const RUN_CHART_FILES: Readonly<Record<keyof RunFigures, string>> = {
  accuracy: 'accuracy',
  loss: 'loss',
  learningRate: 'learning-rate',
  gradients: 'gradients',
};

/** Options of `exportRunCharts`. */
export interface RunChartsOptions {
  /** Default: html, svg and png. */
  formats?: readonly ChartFormat[];
  /** Also write metrics.csv and history.json (default true). */
  data?: boolean;
  /** Add the tutorial's reported accuracy to the accuracy chart. */
  reference?: boolean;
  /** Smoothing weight in [0, 1) of the loss and gradient charts (see `FigureOptions.smoothing`). */
  smoothing?: number;
  /** Renders SVG and PNG; default: a browser started for this call. */
  renderer?: Renderer;
  size?: ImageSize;
}

/**
 * Writes every chart of a run (accuracy, loss, learning-rate, gradients) in each format, plus
 * metrics.csv and history.json, into `dir` (created if missing). Returns the written paths.
 * An unwritable folder gives an `OutputError` before anything is rendered.
 */
export async function exportRunCharts(dir: string, run: Run, options: RunChartsOptions = {}): Promise<string[]> {
  const formats = options.formats ?? ['html', 'svg', 'png'];
  for (const format of formats) {
    if (!CHART_FORMATS.includes(format))
      throw new Error(`exportRunCharts: unknown format ${JSON.stringify(format)}; use ${CHART_FORMATS.join(', ')}`);
  }
  const [{ history }] = resolveRuns(run, 'exportRunCharts');
  const figures = allRunFigures(run, { reference: options.reference, smoothing: options.smoothing });
  await ensureWritableDir(dir);
  const written: string[] = [];
  await maybeRenderer(needsBrowser(formats), options.renderer, async (renderer) => {
    for (const [key, base] of Object.entries(RUN_CHART_FILES) as [keyof RunFigures, string][]) {
      for (const format of formats) {
        const path = join(dir, `${base}.${format}`);
        await writeFileAtomic(path, await figureFile(figures[key], format, renderer, { size: options.size }));
        written.push(path);
      }
    }
  });
  if (options.data ?? true) {
    for (const [name, text] of [
      ['metrics.csv', historyToCsv(history)],
      ['history.json', historyToJson(history)],
    ] as const) {
      const path = join(dir, name);
      await writeFileAtomic(path, text);
      written.push(path);
    }
  }
  return written;
}
