/**
 * Charts as files: standalone offline HTML pages (plotly.js inlined), SVG and PNG images
 * rendered by headless Chromium, and the figure JSON. Every file is written atomically.
 *
 * Rendering needs a Chromium or Chrome executable (`findChromium`); one browser renders any
 * number of figures (`withRenderer`) and is always closed afterwards.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { historyToCsv, historyToJson } from '../history';
import { ensureWritableDir, writeFileAtomic } from '../io';
import { allRunFigures, resolveRuns, type Figure, type Run, type RunFigures } from './figures';

// ---------------------------------------------------------------------------------------------
// HTML

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

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
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
export function figureToHtml(fig: Figure, options: HtmlOptions = {}): string {
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
export function checkFigure(fig: Figure, what: string): void {
  const f = fig as Partial<Figure> | null;
  if (typeof f !== 'object' || f === null || !Array.isArray(f.data) || typeof f.layout !== 'object' || f.layout === null) {
    throw new TypeError(`${what}: expected a figure { data: Trace[], layout: {...} }`);
  }
}

// ---------------------------------------------------------------------------------------------
// Chromium

/** Where Chromium is looked for, after the `CHROMIUM_PATH` environment variable. */
export const CHROMIUM_CANDIDATES: readonly string[] = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** No Chromium executable was found; the message says what to install or set. */
export class ChromiumNotFoundError extends Error {
  constructor(readonly tried: string[]) {
    super(
      `No Chromium browser found; it is needed to render charts as SVG or PNG. Looked for: ${tried.join('; ')}. ` +
        'Install it (Debian/Ubuntu: `apt-get install chromium`), or set CHROMIUM_PATH to a Chromium or Google Chrome executable. ' +
        'HTML and JSON charts do not need it.',
    );
    this.name = 'ChromiumNotFoundError';
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface FindChromiumOptions {
  /** Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default: `CHROMIUM_CANDIDATES`. */
  candidates?: readonly string[];
}

/**
 * The path of a Chromium (or Chrome) executable: `CHROMIUM_PATH` if it names one, else the first
 * of `CHROMIUM_CANDIDATES` that exists. Throws `ChromiumNotFoundError` when there is none.
 */
export function findChromium(options: FindChromiumOptions = {}): string {
  const env = options.env ?? process.env;
  const candidates = options.candidates ?? CHROMIUM_CANDIDATES;
  const tried: string[] = [];
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (isExecutableFile(fromEnv)) return fromEnv;
    tried.push(`CHROMIUM_PATH=${fromEnv} (not an executable file)`);
  } else {
    tried.push('CHROMIUM_PATH (not set)');
  }
  for (const path of candidates) {
    if (isExecutableFile(path)) return path;
    tried.push(path);
  }
  throw new ChromiumNotFoundError(tried);
}

/** Flags for a headless browser on a machine without internet access (no background requests). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The pixel size of an SVG or PNG image of a figure. */
export interface ImageSize {
  /** Pixels; default: the layout's width, else 900. */
  width?: number;
  /** Pixels; default: the layout's height, else 500. */
  height?: number;
  /** PNG pixel density (2 = twice the pixels); default 1. */
  scale?: number;
}

/** Renders figures with one headless browser. Calls may overlap; they run one after another. */
export interface Renderer {
  svg(fig: Figure, size?: ImageSize): Promise<string>;
  png(fig: Figure, size?: ImageSize): Promise<Buffer>;
}

export interface RendererOptions {
  /** Default: `findChromium()`. */
  executablePath?: string;
  /** How long to wait for the browser to start, in ms; default 30,000. */
  launchTimeoutMs?: number;
}

export const DEFAULT_IMAGE_SIZE = { width: 900, height: 500 } as const;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The bytes of a `data:` URL. */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`not a data URL: ${url.slice(0, 40)}...`);
  const header = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

function imageSize(fig: Figure, size: ImageSize = {}): Required<ImageSize> {
  const width = size.width ?? fig.layout?.width ?? DEFAULT_IMAGE_SIZE.width;
  const height = size.height ?? fig.layout?.height ?? DEFAULT_IMAGE_SIZE.height;
  const scale = size.scale ?? 1;
  for (const [name, value] of Object.entries({ width, height, scale })) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`image ${name} must be a positive number, got ${value}`);
  }
  return { width, height, scale };
}

/** What the page script needs of plotly.js. */
interface PlotlyInPage {
  newPlot(div: HTMLElement, data: unknown, layout: unknown, config: unknown): Promise<unknown>;
  toImage(div: HTMLElement, options: { format: string; width: number; height: number; scale: number }): Promise<string>;
  purge(div: HTMLElement): void;
}

/**
 * Starts a headless Chromium, hands `use` a renderer, and closes the browser when `use` is done
 * (or fails). Render many figures in one call: starting the browser takes about a second.
 */
export async function withRenderer<T>(use: (renderer: Renderer) => Promise<T>, options: RendererOptions = {}): Promise<T> {
  const executablePath = options.executablePath ?? findChromium();
  const { chromium } = await import('playwright-core');
  let browser;
  try {
    // Playwright's own signal handlers would exit the process on Ctrl-C (in a notebook: on
    // "interrupt kernel" while the shared browser is open); the owner of the process decides.
    browser = await chromium.launch({
      executablePath,
      args: [...CHROMIUM_ARGS],
      timeout: options.launchTimeoutMs ?? 30_000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (error) {
    throw new Error(`could not start Chromium (${executablePath}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  try {
    const page = await browser.newPage();
    await page.setContent('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0"><div id="chart"></div></body></html>');
    await page.addScriptTag({ content: plotlySource() });
    if (!(await page.evaluate(() => typeof (window as unknown as { Plotly?: unknown }).Plotly === 'object'))) {
      throw new Error('plotly.js did not load in the headless browser');
    }
    const draw = (fig: Figure, format: 'svg' | 'png', size?: ImageSize): Promise<string> => {
      checkFigure(fig, format);
      const { width, height, scale } = imageSize(fig, size);
      return page.evaluate(
        async ({ data, layout, format, width, height, scale }) => {
          const Plotly = (window as unknown as { Plotly: PlotlyInPage }).Plotly;
          const div = document.getElementById('chart')!;
          await Plotly.newPlot(div, data, { ...layout, width, height }, { staticPlot: true });
          try {
            return await Plotly.toImage(div, { format, width, height, scale });
          } finally {
            Plotly.purge(div);
          }
        },
        { data: fig.data, layout: fig.layout as unknown as Record<string, unknown>, format, width, height, scale },
      );
    };
    // One page, one figure at a time.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <R>(job: () => Promise<R>): Promise<R> => {
      const result = queue.then(job, job);
      queue = result.catch(() => undefined);
      return result;
    };
    const renderer: Renderer = {
      svg: (fig, size) =>
        serial(async () => {
          const svg = decodeDataUrl(await draw(fig, 'svg', size)).toString('utf8');
          if (!svg.startsWith('<svg')) throw new Error('the browser did not return an SVG image');
          return svg;
        }),
      png: (fig, size) =>
        serial(async () => {
          const png = decodeDataUrl(await draw(fig, 'png', size));
          if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('the browser did not return a PNG image');
          return png;
        }),
    };
    const result = await use(renderer);
    await queue;
    return result;
  } finally {
    await browser.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Files

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

async function figureFile(fig: Figure, format: ChartFormat, renderer: Renderer | undefined, options: ExportOptions): Promise<string | Buffer> {
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
async function maybeRenderer<T>(needed: boolean, given: Renderer | undefined, use: (renderer: Renderer | undefined) => Promise<T>): Promise<T> {
  if (!needed || given !== undefined) return use(given);
  return withRenderer((renderer) => use(renderer));
}

/**
 * Writes the figure to `path` in the format its extension names: .html (standalone page),
 * .svg, .png (rendered by Chromium) or .json (the figure). The folder is created if missing.
 */
export async function exportFigure(fig: Figure, path: string, options: ExportOptions = {}): Promise<void> {
  checkFigure(fig, 'exportFigure');
  const format = formatOf(path);
  await ensureWritableDir(dirname(path));
  const content = await maybeRenderer(needsBrowser([format]), options.renderer, (renderer) => figureFile(fig, format, renderer, options));
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
  /** Moving-average window of the loss and gradient charts. */
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
    if (!CHART_FORMATS.includes(format)) throw new Error(`exportRunCharts: unknown format ${JSON.stringify(format)}; use ${CHART_FORMATS.join(', ')}`);
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

/** A browser kept between uses and closed after a quiet period. */
export interface SharedRenderer {
  /** Runs `job` with the shared browser, starting it when needed. */
  use<T>(job: (renderer: Renderer) => Promise<T>): Promise<T>;
  /** Closes the browser now (a later `use` starts a new one). */
  close(): Promise<void>;
}

export interface SharedRendererOptions extends RendererOptions {
  /** Close the browser after this many ms without use; 0 closes it after every use. Default 15,000. */
  idleMs?: number;
}

/**
 * One browser for renders that come one by one (notebook cells): starting Chromium and loading
 * plotly.js takes seconds, so the browser stays up until `idleMs` pass without a render. The idle
 * timer does not keep the process alive.
 */
export function createSharedRenderer(options: SharedRendererOptions = {}): SharedRenderer {
  const idleMs = options.idleMs ?? 15_000;
  let session: { ready: Promise<Renderer>; release: () => void; closed: Promise<void> } | null = null;
  let timer: NodeJS.Timeout | undefined;
  let busy = 0;

  const start = () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let handOver!: (renderer: Renderer) => void;
    const given = new Promise<Renderer>((resolve) => (handOver = resolve));
    const done = withRenderer(async (renderer) => {
      handOver(renderer);
      await hold;
    }, options);
    const ready = Promise.race([given, done.then((): never => { throw new Error('the chart renderer closed'); })]);
    const current = { ready, release, closed: done.catch(() => undefined) };
    session = current;
    return current;
  };

  const close = async () => {
    clearTimeout(timer);
    const current = session;
    session = null;
    if (current === null) return;
    current.release();
    await current.closed;
  };

  const use = async <T>(job: (renderer: Renderer) => Promise<T>): Promise<T> => {
    clearTimeout(timer);
    busy++;
    const current = session ?? start();
    try {
      return await job(await current.ready);
    } catch (error) {
      // A failed start or a crashed browser: begin afresh next time.
      if (session === current) {
        session = null;
        current.release();
      }
      throw error;
    } finally {
      busy--;
      if (busy === 0 && session !== null) {
        if (idleMs <= 0) await close();
        else timer = setTimeout(() => void close(), idleMs).unref();
      }
    }
  };

  return { use, close };
}
