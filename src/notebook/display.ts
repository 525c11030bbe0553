/**
 * Charts in Jupyter notebooks run by the tslab kernel, as `text/html` outputs.
 *
 * - plotly.js (about 4.8 MB) goes into the notebook once per kernel session: the first chart
 *   output carries it, later ones use `window.Plotly`. It loads in JupyterLab and in the classic
 *   Notebook (whose require.js would otherwise capture it: `window.define` is hidden while it runs).
 * - Each chart also carries a static SVG image (rendered by headless Chromium) inside its div;
 *   the chart's script swaps it for the live chart when scripts run and plotly.js is there. A
 *   reopened untrusted notebook (scripts do not run) and GitHub's viewer show the image. Without
 *   Chromium, charts are live only, with a one-line note.
 * - `liveTraining()` redraws one output in place while a model trains (throttled; no images and
 *   no library in the updates), and draws the final charts with their images at `finish`.
 *
 * tslab is loaded only when something is displayed, so this module imports fine outside a kernel.
 * The HTML builders (`libraryHtml`, `chartsHtml`, `liveFrameHtml`, ...) are pure functions.
 */
import { randomBytes } from 'node:crypto';
import type { Progress } from '../train/trainer';
import { formatProgress, formatSummary } from '../train/messages';
import { ChromiumNotFoundError, type ImageSize } from '../charts/chromium';
import { checkFigure, escapeHtml, jsonForScript, PLOT_CONFIG, plotlySource } from '../charts/html';
import { createSharedRenderer, type SharedRendererOptions } from '../charts/shared-renderer';
import { accuracyFigure, lossFigure, resolveRuns, type Figure, type PlotlyFigure, type Run } from '../charts/figures';

// ---------------------------------------------------------------------------------------------
// HTML builders (pure)

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
 * The script that draws the figures into the slots `[data-chart-slot]` of the element `id` once it
 * is in the page and `window.Plotly` exists, replacing each slot's fallback image. It waits (up to
 * about ten minutes): outputs can be attached to the page after their scripts ran, and plotly.js
 * may still be loading. Without plotly.js the images stay.
 */
export function drawScript(id: string, figures: readonly PlotlyFigure[]): string {
  return `<script>
(function () {
  var id = ${jsonForScript(id)}, figures = ${jsonForScript(figures)}, config = ${jsonForScript(PLOT_CONFIG)}, tries = 0;
  function draw() {
    var root = document.getElementById(id);
    if (!root || !window.Plotly) {
      tries += 1;
      if (tries < 700) setTimeout(draw, tries < 100 ? 100 : 1000);
      return;
    }
    var slots = root.querySelectorAll('[data-chart-slot]');
    figures.forEach(function (fig, i) {
      var slot = slots[i];
      if (!slot) return;
      var img = slot.querySelector('img.${FALLBACK_CLASS}');
      var live = document.createElement('div');
      slot.appendChild(live);
      if (img) img.style.display = 'none';
      window.Plotly.newPlot(live, fig.data, fig.layout, config).then(function () {
        if (img && img.parentNode) img.parentNode.removeChild(img);
      }, function (error) {
        if (live.parentNode) live.parentNode.removeChild(live);
        if (img) img.style.display = '';
        console.error('chart not drawn', error);
      });
    });
  }
  draw();
})();
</script>`;
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

// ---------------------------------------------------------------------------------------------
// Notebook session

/** One notebook output that later writes overwrite (tslab's `newDisplay()`). */
export interface DisplaySlot {
  html(html: string): void;
}

/** Where chart outputs go: by default tslab's display functions. */
export interface NotebookOutput {
  /** A new output. */
  html(html: string): void;
  /** A new output that can be redrawn in place. */
  newDisplay(): DisplaySlot;
  /** A one-line note (printed to the cell's output). */
  note(line: string): void;
}

type Tslab = typeof import('tslab');

function loadTslab(): Tslab {
  try {
    // Loaded here, not at the top: importing the charts must not need a kernel.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('tslab') as Tslab;
  } catch (error) {
    throw new Error(
      `notebook display needs the tslab package (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
    );
  }
}

function inKernel<T>(what: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof Error && error.message === 'Not ready') {
      throw new Error(
        `${what} works in a Jupyter notebook run by the tslab kernel; outside one, write files with exportFigure or exportRunCharts`,
      );
    }
    throw error;
  }
}

/** tslab's display functions (loaded on first use). */
export function tslabOutput(): NotebookOutput {
  return {
    html: (html) => inKernel('showing a chart', () => loadTslab().display.html(html)),
    newDisplay: () => {
      const slot = loadTslab().newDisplay();
      return { html: (html) => inKernel('showing a chart', () => slot.html(html)) };
    },
    note: (line) => console.log(line),
  };
}

/** Renders static SVG images of figures; throws `ChromiumNotFoundError` when it cannot. */
export type SvgRenderer = (figures: readonly PlotlyFigure[], size?: ImageSize) => Promise<string[]>;

/** Options of `notebookCharts`: where outputs go and how static images are rendered. */
export interface NotebookChartsOptions {
  /** Default: tslab's display functions. */
  output?: NotebookOutput;
  /** Static images; default: headless Chromium; null: none (live charts only). */
  renderSvg?: SvgRenderer | null;
  /** Options of the default renderer (Chromium path, idle time before it closes). */
  renderer?: SharedRendererOptions;
  /** The library to inline; default: plotly.js. */
  library?: string;
}

/** Options of `showFigure`: layout of several charts and their static images. */
export interface ShowOptions {
  /** Static image size; default: the layout's, else 900 x 500 (640 x 420 side by side). */
  size?: ImageSize;
  /** Include a static image (default true). */
  staticImage?: boolean;
  /** Several figures side by side (default false: one under the other). */
  sideBySide?: boolean;
  /** A line of text above the charts. */
  status?: string;
}

/** Options of `liveTraining`: the reference curve, smoothing and the static images drawn at the end. */
export interface LiveTrainingOptions {
  /** Redraw at most this often, in ms (default 2,000). */
  intervalMs?: number;
  /** Add the tutorial's reported accuracy to the accuracy chart. */
  reference?: boolean;
  /** Smoothing weight in [0, 1) of the loss chart (default 0.9; see `FigureOptions.smoothing`). */
  smoothing?: number;
  /**
   * Most points per loss trace in the live chart (default 400), to keep each update small; the final charts keep up to
   * 1,000.
   */
  maxPoints?: number;
  /** Height of each chart in pixels (default 360). */
  height?: number;
  /** Size of the static images drawn at `finish` (default 640 x 400). */
  imageSize?: ImageSize;
  /** Clock in ms (default `performance.now`), for tests. */
  now?: () => number;
}

/** What a live display shows until the first progress report. */
const WAITING = 'training: the charts appear here at the first evaluation';

/** Most points per loss trace in the final charts of `liveTraining`. */
const FINAL_MAX_POINTS = 1000;

/**
 * A live display of a training run. Its output is created when it is made, so make it in the
 * training cell, before the run: the charts then sit above the training log and are redrawn there.
 */
export interface LiveTraining {
  /**
   * Pass as `RunOptions.onProgress`: redraws the output, at most every `intervalMs`. Never
   * throws: if the output cannot be drawn, it notes why once and stops redrawing.
   */
  readonly onProgress: (progress: Progress) => void;
  /** Draws the final accuracy and loss charts, with static images, in the same output. */
  finish(run: Run): Promise<void>;
  /** Redraws so far, and the time they took in ms (to check the display's cost). */
  readonly stats: { redraws: number; calls: number; redrawMs: number };
}

/** The chart state of one kernel session: whether plotly.js is in the notebook yet, and the renderer. */
export interface NotebookCharts {
  /** Whether an output of this session has carried plotly.js. */
  readonly libraryInlined: boolean;
  /**
   * The HTML of the next chart output: with plotly.js when the session has not sent it yet
   * (and then counts it as sent). Pure apart from that flag.
   */
  outputHtml(figures: readonly PlotlyFigure[], options?: Omit<ChartsHtmlOptions, 'includeLibrary' | 'library'>): string;
  /** Shows figures in one output, with static images when Chromium is there. */
  show(figures: PlotlyFigure | readonly PlotlyFigure[], options?: ShowOptions): Promise<void>;
  /** A live display for a training run. */
  liveTraining(options?: LiveTrainingOptions): LiveTraining;
  /**
   * An output of its own carrying plotly.js, for a display that redraws its charts in place: the
   * HTML the first time in a session (then counted as sent), null after.
   */
  takeLibraryHtml(): string | null;
  /** Static SVGs of figures, or null (with a note, once) when they cannot be rendered. */
  staticImages(figures: readonly PlotlyFigure[], size?: ImageSize): Promise<string[] | null>;
  /** Closes the browser used for static images (it also closes itself when idle). */
  close(): Promise<void>;
}

/**
 * The chart state of a notebook: create one per kernel session (e.g. in the first cell) and use
 * its `show` and `liveTraining`. `showFigure` and `liveTraining` use a default one.
 */
export function createNotebookCharts(options: NotebookChartsOptions = {}): NotebookCharts {
  const output = options.output ?? tslabOutput();
  const shared = options.renderSvg === undefined ? createSharedRenderer(options.renderer) : null;
  const renderSvg: SvgRenderer | null =
    options.renderSvg !== undefined
      ? options.renderSvg
      : (figures, size) => shared!.use((renderer) => Promise.all(figures.map((fig) => renderer.svg(fig, size))));
  let libraryInlined = false;
  let chromiumNoteShown = false;

  const outputHtml: NotebookCharts['outputHtml'] = (figures, htmlOptions = {}) => {
    const html = chartsHtml(figures, { ...htmlOptions, includeLibrary: !libraryInlined, library: options.library });
    libraryInlined = true;
    return html;
  };

  /** Sends an output built by `build`; if sending fails, the library counts as not sent. */
  const send = (build: () => string, write: (html: string) => void) => {
    const before = libraryInlined;
    const html = build();
    try {
      write(html);
    } catch (error) {
      libraryInlined = before;
      throw error;
    }
  };

  const staticImages: NotebookCharts['staticImages'] = async (figures, size) => {
    if (renderSvg === null) return null;
    try {
      return await renderSvg(figures, size);
    } catch (error) {
      if (error instanceof ChromiumNotFoundError) {
        if (!chromiumNoteShown) {
          chromiumNoteShown = true;
          output.note(
            'charts: no Chromium found, so charts are live only (no static image for GitHub or untrusted notebooks); install it with `apt-get install chromium` or set CHROMIUM_PATH',
          );
        }
      } else {
        output.note(
          `charts: static image not rendered (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); showing the live chart only`,
        );
      }
      return null;
    }
  };

  const show: NotebookCharts['show'] = async (figs, showOptions = {}) => {
    const figures: readonly PlotlyFigure[] = Array.isArray(figs) ? figs : [figs as PlotlyFigure];
    if (figures.length === 0) throw new Error('show: no figures given');
    // Side by side, a chart is about 470-640 px wide: an image of that width keeps its text legible.
    const size =
      showOptions.size ??
      (showOptions.sideBySide === true ? { width: 640, height: figures[0].layout?.height ?? 420 } : undefined);
    const fallbackSvgs = showOptions.staticImage === false ? null : await staticImages(figures, size);
    send(
      () =>
        outputHtml(figures, {
          fallbackSvgs: fallbackSvgs ?? undefined,
          sideBySide: showOptions.sideBySide,
          status: showOptions.status,
        }),
      output.html,
    );
  };

  const liveTraining = (liveOptions: LiveTrainingOptions = {}): LiveTraining => {
    const intervalMs = liveOptions.intervalMs ?? 2000;
    if (!(Number.isFinite(intervalMs) && intervalMs >= 0))
      throw new RangeError(`liveTraining: intervalMs must be a number of ms >= 0, got ${intervalMs}`);
    const now = liveOptions.now ?? (() => performance.now());
    const height = liveOptions.height ?? 360;
    const smoothing = liveOptions.smoothing ?? 0.9;
    const maxPoints = liveOptions.maxPoints ?? 400;
    const stats = { redraws: 0, calls: 0, redrawMs: 0 };
    let slot: DisplaySlot | null = null;
    let lastDraw = Number.NEGATIVE_INFINITY;
    let lastCost = 0;

    // Live updates carry few points; the final charts more (still well above a chart's pixel width).
    const figuresOf = (run: Run, live: boolean): Figure[] => [
      accuracyFigure(run, { reference: liveOptions.reference, height }),
      lossFigure(run, { smoothing, height, maxPoints: live ? maxPoints : Math.max(maxPoints, FINAL_MAX_POINTS) }),
    ];
    /** The output to draw in; the first one of a session is preceded by one carrying plotly.js. */
    const target = (): DisplaySlot => {
      if (slot === null) {
        if (!libraryInlined) {
          send(() => {
            libraryInlined = true;
            return libraryOnlyHtml(options.library);
          }, output.html);
        }
        slot = output.newDisplay();
      }
      return slot;
    };

    let broken = false;
    /** Draws in the output, or notes once why it cannot (training must go on regardless). */
    const draw = (html: () => string): boolean => {
      if (broken) return false;
      try {
        target().html(html());
        return true;
      } catch (error) {
        broken = true;
        output.note(
          `charts: live display stopped (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); training goes on`,
        );
        return false;
      }
    };
    // Chromium starts now, while the run trains, so that the still images at `finish` (also after
    // an interrupt) wait only for their rendering. A missing Chromium is noted at `finish`.
    let releaseRenderer = (): void => undefined;
    if (shared !== null) {
      const held = new Promise<void>((resolve) => (releaseRenderer = resolve));
      shared.use(() => held).catch(() => undefined);
    }
    // The output is made now, where the cell starts: above the log lines the run prints.
    draw(
      () =>
        `<div class="mnist-charts"><div class="mnist-charts-status" style="font-family:monospace;margin:4px 0">${escapeHtml(WAITING)}</div></div>`,
    );

    const onProgress = (progress: Progress): void => {
      stats.calls++;
      if (broken) return;
      const start = now();
      // At most every intervalMs, and never more than 2 % of the time on redraws.
      if (start - lastDraw < Math.max(intervalMs, 50 * lastCost)) return;
      if (
        !draw(() =>
          chartsHtml(figuresOf(progress.history, true), { status: formatProgress(progress), sideBySide: true }),
        )
      )
        return;
      const end = now();
      lastDraw = end;
      stats.redraws++;
      stats.redrawMs += end - start;
      // The first redraw also loads tslab and warms up the code: not a fair cost estimate.
      lastCost = stats.redraws === 1 ? 0 : end - start;
    };

    const finish = async (run: Run): Promise<void> => {
      const [{ history }] = resolveRuns(run, 'liveTraining.finish');
      const figures = figuresOf(run, false);
      const fallbackSvgs = await staticImages(figures, liveOptions.imageSize ?? { width: 640, height: 400 }).finally(
        releaseRenderer,
      );
      target().html(
        chartsHtml(figures, {
          status: formatSummary(history),
          sideBySide: true,
          fallbackSvgs: fallbackSvgs ?? undefined,
        }),
      );
    };

    return { onProgress, finish, stats };
  };

  return {
    get libraryInlined() {
      return libraryInlined;
    },
    outputHtml,
    show,
    liveTraining,
    takeLibraryHtml: () => {
      if (libraryInlined) return null;
      libraryInlined = true;
      return libraryOnlyHtml(options.library);
    },
    staticImages,
    close: async () => {
      await shared?.close();
    },
  };
}

/**
 * The default chart session, created on first use: state of this kernel session (whether
 * plotly.js has been sent), which lives as long as the kernel process.
 */
let defaultCharts: NotebookCharts | null = null;

/** The session used by `showFigure` and `liveTraining`. */
export function notebookCharts(): NotebookCharts {
  defaultCharts ??= createNotebookCharts();
  return defaultCharts;
}

/** Shows a figure (or several in one output) in the notebook: any Plotly figure, e.g. those of `predictions.ts`. */
export function showFigure(figure: PlotlyFigure | readonly PlotlyFigure[], options?: ShowOptions): Promise<void> {
  return notebookCharts().show(figure, options);
}

/** `showFigure` by the name notebook 04 has used for the figures of `predictions.ts`. */
export const showPredictionFigure = showFigure;

/** A live display of a training run in the notebook; see `NotebookCharts.liveTraining`. */
export function liveTraining(options?: LiveTrainingOptions): LiveTraining {
  return notebookCharts().liveTraining(options);
}
