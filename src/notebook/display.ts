/**
 * Charts in Jupyter notebooks: the chart session of a kernel (`NotebookCharts`) and the functions
 * notebooks call, `showFigure` and `liveTraining`, which use a default session.
 *
 * - plotly.js goes into the notebook once per kernel session: the first chart output carries it,
 *   later ones use `window.Plotly` (the HTML: `chart-html.ts`).
 * - Each chart also carries a static SVG image rendered by headless Chromium; without Chromium,
 *   charts are live only, with a one-line note.
 * - `liveTraining()` redraws one output in place while a model trains (`live-training.ts`).
 *
 * Outputs go to the kernel's display functions by default (`kernel-output.ts`: tslab's, loaded only when
 * something is displayed, or Deno's), so this module imports fine outside a kernel.
 */
import { ChromiumNotFoundError, type ImageSize } from '../charts/chromium';
import type { PlotlyFigure } from '../charts/figures';
import { createSharedRenderer, type SharedRenderer, type SharedRendererOptions } from '../charts/shared-renderer';
import { firstLine } from '../util/text';
import { chartsHtml, libraryOnlyHtml, type ChartsHtmlOptions } from './chart-html';
import { kernelOutput, type NotebookOutput } from './kernel-output';
import { createLiveTraining, type LiveTraining, type LiveTrainingOptions } from './live-training';

/** Renders static SVG images of figures; throws `ChromiumNotFoundError` when it cannot. */
export type SvgRenderer = (figures: readonly PlotlyFigure[], size?: ImageSize) => Promise<string[]>;

/** Options of `notebookCharts`: where outputs go and how static images are rendered. */
export interface NotebookChartsOptions {
  /** Default: the kernel's display functions (tslab's or Deno's). */
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

/** Whether the session has sent plotly.js, and sending an output that may carry it. */
function libraryState() {
  let inlined = false;
  return {
    get inlined() {
      return inlined;
    },
    markSent(): void {
      inlined = true;
    },
    /** Writes the output built by `build` (none: nothing); if writing fails, the library counts as not sent. */
    send(build: () => string | null, write: (html: string) => void): void {
      const before = inlined;
      const html = build();
      if (html === null) return;
      try {
        write(html);
      } catch (error) {
        inlined = before;
        throw error;
      }
    },
  };
}

/** The default static images: each figure rendered by the shared headless Chromium. */
function chromiumSvgs(shared: SharedRenderer): SvgRenderer {
  return (figures, size) => shared.use((renderer) => Promise.all(figures.map((fig) => renderer.svg(fig, size))));
}

/** Static images, or null with a note: once for a missing Chromium, each time for other failures. */
function staticImageMaker(renderSvg: SvgRenderer | null, output: NotebookOutput): NotebookCharts['staticImages'] {
  let chromiumNoteShown = false;
  return async (figures, size) => {
    if (renderSvg === null) return null;
    try {
      return await renderSvg(figures, size);
    } catch (error) {
      if (!(error instanceof ChromiumNotFoundError)) {
        output.note(`charts: static image not rendered (${firstLine(error)}); showing the live chart only`);
      } else if (!chromiumNoteShown) {
        chromiumNoteShown = true;
        output.note(
          'charts: no Chromium found, so charts are live only (no static image for GitHub or untrusted notebooks); install it with `apt-get install chromium` or set CHROMIUM_PATH',
        );
      }
      return null;
    }
  };
}

/** The static image size of `show`: side by side, a chart is 470-640 px wide, and an image that wide stays legible. */
function showImageSize(figures: readonly PlotlyFigure[], options: ShowOptions): ImageSize | undefined {
  if (options.size !== undefined || options.sideBySide !== true) return options.size;
  return { width: 640, height: figures[0].layout?.height ?? 420 };
}

/** Keeps the shared renderer up until the returned function is called (without one: nothing to hold). */
function rendererHold(shared: SharedRenderer | null): () => void {
  if (shared === null) return () => undefined;
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  shared.use(() => held).catch(() => undefined);
  return release;
}

/**
 * The chart state of a notebook: create one per kernel session (e.g. in the first cell) and use
 * its `show` and `liveTraining`. `showFigure` and `liveTraining` use a default one.
 */
export function createNotebookCharts(options: NotebookChartsOptions = {}): NotebookCharts {
  const output = options.output ?? kernelOutput();
  const shared = options.renderSvg === undefined ? createSharedRenderer(options.renderer) : null;
  const library = libraryState();
  const staticImages = staticImageMaker(shared !== null ? chromiumSvgs(shared) : (options.renderSvg ?? null), output);
  const takeLibraryHtml = (): string | null => {
    if (library.inlined) return null;
    library.markSent();
    return libraryOnlyHtml(options.library);
  };

  const outputHtml: NotebookCharts['outputHtml'] = (figures, htmlOptions = {}) => {
    const html = chartsHtml(figures, { ...htmlOptions, includeLibrary: !library.inlined, library: options.library });
    library.markSent();
    return html;
  };

  const show: NotebookCharts['show'] = async (figs, showOptions = {}) => {
    const figures: readonly PlotlyFigure[] = Array.isArray(figs) ? figs : [figs as PlotlyFigure];
    if (figures.length === 0) throw new Error('show: no figures given');
    const svgs =
      showOptions.staticImage === false ? null : await staticImages(figures, showImageSize(figures, showOptions));
    const { sideBySide, status } = showOptions;
    library.send(() => outputHtml(figures, { fallbackSvgs: svgs ?? undefined, sideBySide, status }), output.html);
  };

  const liveTraining = (liveOptions: LiveTrainingOptions = {}): LiveTraining =>
    createLiveTraining(
      {
        output,
        sendLibrary: () => library.send(takeLibraryHtml, output.html),
        staticImages,
        holdRenderer: () => rendererHold(shared),
      },
      liveOptions,
    );

  return {
    get libraryInlined() {
      return library.inlined;
    },
    outputHtml,
    show,
    liveTraining,
    takeLibraryHtml,
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
