/**
 * Rendering figures as SVG and PNG in headless Chromium: finding the executable
 * (`findChromium`), and one browser that renders any number of figures (`withRenderer`) and is
 * always closed afterwards.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { PlotlyFigure } from './figures';
import { checkFigure, plotlySource } from './html';
import { PNG_SIGNATURE } from '../util/bytes';
import { firstLine } from '../util/text';

/** Where Chromium is looked for, after the `CHROMIUM_PATH` environment variable. */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

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
  svg(fig: PlotlyFigure, size?: ImageSize): Promise<string>;
  png(fig: PlotlyFigure, size?: ImageSize): Promise<Buffer>;
}

export interface RendererOptions {
  /** Default: `findChromium()`. */
  executablePath?: string;
  /** How long to wait for the browser to start, in ms; default 30,000. */
  launchTimeoutMs?: number;
}

export const DEFAULT_IMAGE_SIZE = { width: 900, height: 500 } as const;

/** The bytes of a `data:` URL. */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error(`not a data URL: ${url.slice(0, 40)}...`);
  const header = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

function imageSize(fig: PlotlyFigure, size: ImageSize = {}): Required<ImageSize> {
  const width = size.width ?? fig.layout?.width ?? DEFAULT_IMAGE_SIZE.width;
  const height = size.height ?? fig.layout?.height ?? DEFAULT_IMAGE_SIZE.height;
  const scale = size.scale ?? 1;
  for (const [name, value] of Object.entries({ width, height, scale })) {
    if (!(Number.isFinite(value) && value > 0))
      throw new RangeError(`image ${name} must be a positive number, got ${value}`);
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
export async function withRenderer<T>(
  use: (renderer: Renderer) => Promise<T>,
  options: RendererOptions = {},
): Promise<T> {
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
    throw new Error(`could not start Chromium (${executablePath}): ${firstLine(error)}`);
  }
  try {
    const page = await browser.newPage();
    await page.setContent(
      '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0"><div id="chart"></div></body></html>',
    );
    await page.addScriptTag({ content: plotlySource() });
    if (!(await page.evaluate(() => typeof (window as unknown as { Plotly?: unknown }).Plotly === 'object'))) {
      throw new Error('plotly.js did not load in the headless browser');
    }
    const draw = (fig: PlotlyFigure, format: 'svg' | 'png', size?: ImageSize): Promise<string> => {
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
