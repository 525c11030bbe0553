/**
 * Charts of training histories as Plotly figures: plain JSON objects `{ data, layout }` that
 * `Plotly.newPlot(div, fig.data, fig.layout)` draws. Pure functions: no I/O, no DOM, no kernel.
 *
 * Every chart takes one run or several (overlaid, with a legend). A run is a `History` or a
 * `{ name, history }`; the names label the traces of overlays. `compareFigure` also takes a
 * `group` per run (e.g. a variant run with several seeds): a colour and one legend entry per
 * group, a line style per run within it.
 */
import type { History, StepRecord } from '../core/history';
import type { ParamName } from '../core/model';
import { REPORTED_ACCURACY } from './reference';

/** A Plotly scatter trace (the subset these charts use). */
export interface Trace {
  type: 'scatter';
  mode: 'lines' | 'markers' | 'lines+markers';
  name: string;
  x: number[];
  /** `null` leaves a gap (missing, non-finite, or not positive on a log axis). */
  y: (number | null)[];
  line?: {
    color?: string;
    dash?: 'solid' | 'dot' | 'dash' | 'longdash' | 'dashdot';
    width?: number;
    shape?: 'linear' | 'hv';
  };
  marker?: { color?: string; size?: number };
  legendgroup?: string;
  showlegend?: boolean;
  opacity?: number;
  hovertemplate?: string;
}

/** The subset of a Plotly axis that the figures set. */
export interface Axis {
  title: { text: string };
  type?: 'linear' | 'log';
  /** In data units on a linear axis, in log10 units on a log axis (Plotly's convention). */
  range?: [number, number];
  autorange?: boolean;
  rangemode?: 'normal' | 'tozero' | 'nonnegative';
  exponentformat?: 'none' | 'e' | 'E' | 'power' | 'SI' | 'B';
  separatethousands?: boolean;
  showgrid?: boolean;
}

/** The subset of a Plotly layout that the figures set. */
export interface Layout {
  title: { text: string };
  xaxis: Axis;
  yaxis: Axis;
  showlegend: boolean;
  legend?: {
    orientation?: 'v' | 'h';
    /** Space between legend entries of different groups, in pixels. */
    tracegroupgap?: number;
    x?: number;
    y?: number;
    /** 'container': x and y measured on the whole figure, not the plot area. */
    xref?: 'paper' | 'container';
    yref?: 'paper' | 'container';
    xanchor?: 'auto' | 'left' | 'center' | 'right';
    yanchor?: 'auto' | 'top' | 'middle' | 'bottom';
    title?: { text: string; side?: 'top' | 'left' | 'top left' };
  };
  margin?: { l?: number; r?: number; t?: number; b?: number };
  hovermode?: 'closest' | 'x' | 'x unified';
  width?: number;
  height?: number;
}

/** A Plotly figure as JSON. */
export interface Figure {
  data: Trace[];
  layout: Layout;
}

/**
 * Any Plotly figure as JSON (these line charts, the heatmaps and bars of `predictions.ts`, or one
 * made by hand): what the notebook display and the export functions draw.
 */
export interface PlotlyFigure {
  data: readonly object[];
  layout: { title?: { text: string }; width?: number; height?: number };
}

/** A history with the name its traces carry in legends. */
export interface NamedRun {
  name: string;
  history: History;
  /**
   * Runs of one group (e.g. the seeds of one variant) share a colour and one legend entry named
   * after the group, each with a line style of its own (`compareFigure` only).
   */
  group?: string;
  /** What tells this run from the others of its group, e.g. `seed 2` (the legend's key to the line styles). */
  member?: string;
}

/** A training run: its history, optionally with a name for legends. */
export type Run = History | NamedRun;

/** One run, or several to overlay. */
export type Runs = Run | readonly Run[];

/** The metrics `compareFigure` overlays. */
export type Metric =
  'validationAccuracy' | 'testAccuracy' | 'crossEntropy' | 'totalLoss' | 'learningRate' | 'meanAbsGradient';

/** Every metric a history records that the figures can draw. */
export const METRICS: readonly Metric[] = [
  'validationAccuracy',
  'testAccuracy',
  'crossEntropy',
  'totalLoss',
  'learningRate',
  'meanAbsGradient',
];

/** Options common to every figure of a history: title, size, smoothing, axes. */
export interface FigureOptions {
  /** Replaces the default title. */
  title?: string;
  /**
   * Smoothing weight in [0, 1) for the noisy per-step series (losses, gradients), as in
   * TensorBoard: debiased exponential smoothing (see `smooth`); 0 = raw values, 0.9 = strong.
   * Accuracies and the learning rate are never smoothed.
   */
  smoothing?: number;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** The y axis range, in data units (also on a log axis). */
  yRange?: [number, number];
  /** Keep at most this many points per per-step trace (evenly spaced, the last one kept). */
  maxPoints?: number;
  /** Height in pixels (default: Plotly's, or the renderer's). */
  height?: number;
}

/** Options of `accuracyFigure`: also the tutorial's reported curve. */
export interface AccuracyFigureOptions extends FigureOptions {
  /** Add the accuracy the tutorial reported, as a dashed reference curve. */
  reference?: boolean;
  /**
   * Draw the test accuracy beside the validation accuracy (default true). False keeps the test set out of sight
   * while a run trains: validation is for choices, the test set is looked at once, at the end.
   */
  testAccuracy?: boolean;
}

/**
 * Plotly's default colours (D3 category 10), then six more for charts of up to 16 groups: each
 * chosen as far as possible (CIELAB distance) from the colours before it, of medium lightness
 * so that a line stays visible on white. No two are closer than the purple and pink of category 10.
 */
export const COLORS: readonly string[] = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#0000ff',
  '#ff22ff',
  '#224400',
  '#4411aa',
  '#ff0077',
  '#886600',
];
const REFERENCE_COLOR = '#555555';
const color = (index: number) => COLORS[index % COLORS.length];
/** Line styles of the runs of one group, in order; the legend names them. */
export const GROUP_DASHES = ['solid', 'dash', 'dot', 'dashdot', 'longdash'] as const;
const DASH_WORDS: Record<(typeof GROUP_DASHES)[number], string> = {
  solid: 'solid',
  dash: 'dashed',
  dot: 'dotted',
  dashdot: 'dash-dot',
  longdash: 'long dashes',
};

const STEP_AXIS = 'training step';
const ACCURACY_AXIS = 'accuracy (%)';
const GRADIENT_PARAMS: readonly ParamName[] = ['weights1', 'biases1', 'weights2', 'biases2'];

interface MetricInfo {
  label: string;
  axis: string;
  /** Recorded at evaluations (every `evalEvery` steps) or at recorded training steps. */
  source: 'evaluation' | 'step';
  smoothable: boolean;
  logByDefault: boolean;
  shape: 'linear' | 'hv';
}

const METRIC_INFO: Record<Metric, MetricInfo> = {
  validationAccuracy: {
    label: 'validation accuracy',
    axis: 'validation accuracy (%)',
    source: 'evaluation',
    smoothable: false,
    logByDefault: false,
    shape: 'linear',
  },
  testAccuracy: {
    label: 'test accuracy',
    axis: 'test accuracy (%)',
    source: 'evaluation',
    smoothable: false,
    logByDefault: false,
    shape: 'linear',
  },
  crossEntropy: {
    label: 'mean cross-entropy',
    axis: 'mean cross-entropy (nats)',
    source: 'step',
    smoothable: true,
    logByDefault: false,
    shape: 'linear',
  },
  totalLoss: {
    label: 'total loss',
    axis: 'total loss (cross-entropy + L2)',
    source: 'step',
    smoothable: true,
    logByDefault: false,
    shape: 'linear',
  },
  learningRate: {
    label: 'learning rate',
    axis: 'learning rate',
    source: 'step',
    smoothable: false,
    logByDefault: false,
    shape: 'hv',
  },
  meanAbsGradient: {
    label: 'mean |gradient|',
    axis: 'mean absolute gradient',
    source: 'step',
    smoothable: true,
    logByDefault: true,
    shape: 'linear',
  },
};

/** Why a smoothing weight is not usable, or null when it is. */
function smoothingProblem(weight: number): string | null {
  if (typeof weight === 'number' && Number.isFinite(weight) && weight >= 0 && weight < 1) return null;
  const hint =
    typeof weight === 'number' && Number.isInteger(weight) && weight > 1
      ? ` (it is no longer a window of points: ${weight} points is about ${(1 - 2 / (weight + 1)).toFixed(2)})`
      : '';
  return `smoothing is a weight in [0, 1) such as 0.9, got ${String(weight)}${hint}`;
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `weight` in [0, 1),
 * debiased so that the start is not pulled towards 0 (the first value is kept as it is). Each
 * point depends on all earlier ones with geometrically falling weights, so no single value
 * drops out of it at once (a trailing window makes a cliff there). Non-finite values stay
 * NaN (a gap) and do not count. Weight 0 returns a copy.
 */
export function smooth(values: readonly number[], weight: number): number[] {
  const problem = smoothingProblem(weight);
  if (problem !== null) throw new RangeError(problem);
  let last = 0;
  let count = 0;
  return values.map((value) => {
    if (!Number.isFinite(value)) return Number.NaN;
    last = last * weight + (1 - weight) * value;
    count++;
    return last / (1 - weight ** count);
  });
}

/** At most `maxPoints` evenly spaced points: every `stride`-th one from the first, and the last one. */
function thin<T>(values: readonly T[], maxPoints: number | undefined): T[] {
  if (maxPoints === undefined || values.length <= maxPoints) return [...values];
  const stride = Math.ceil((values.length - 1) / (maxPoints - 1));
  const out: T[] = [];
  for (let i = 0; i < values.length; i += stride) out.push(values[i]);
  if ((values.length - 1) % stride !== 0) out.push(values[values.length - 1]);
  return out;
}

function isHistory(value: unknown): value is History {
  const h = value as Partial<History> | null;
  return typeof h === 'object' && h !== null && Array.isArray(h.steps) && Array.isArray(h.evaluations);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`
    : `${typeof value} ${String(value)}`;
}

/** The runs as a list of named histories, checked. */
export function resolveRuns(runs: Runs, chart: string): NamedRun[] {
  const list: readonly unknown[] = Array.isArray(runs) ? runs : [runs];
  if (list.length === 0)
    throw new Error(`${chart}: no runs given; pass a History, a { name, history } or a non-empty array of them`);
  const resolved = list.map((run, index): NamedRun => {
    const fallbackName = list.length === 1 ? 'run' : `run ${index + 1}`;
    if (isHistory(run)) return { name: fallbackName, history: run };
    const named = run as Partial<NamedRun> | null;
    if (typeof named === 'object' && named !== null && 'history' in named) {
      if (!isHistory(named.history))
        throw new TypeError(
          `${chart}: run ${index + 1} ("${String(named.name)}"): "history" is not a training history (it needs "steps" and "evaluations" arrays)`,
        );
      if (typeof named.name !== 'string' || named.name.trim() === '')
        throw new TypeError(`${chart}: run ${index + 1}: "name" must be a non-empty string`);
      const resolved: NamedRun = { name: named.name, history: named.history };
      for (const key of ['group', 'member'] as const) {
        const value = named[key];
        if (value === undefined) continue;
        if (typeof value !== 'string' || value.trim() === '')
          throw new TypeError(
            `${chart}: run ${index + 1} ("${named.name}"): "${key}" must be a non-empty string or left out`,
          );
        resolved[key] = value;
      }
      return resolved;
    }
    throw new TypeError(`${chart}: run ${index + 1} is ${describe(run)}, not a History or a { name, history }`);
  });
  const seen = new Set<string>();
  for (const { name } of resolved) {
    if (seen.has(name))
      throw new Error(
        `${chart}: two runs are named "${name}"; give each run its own name so the legend can tell them apart`,
      );
    seen.add(name);
  }
  return resolved;
}

function checkOptions(options: FigureOptions, chart: string): void {
  const { smoothing, maxPoints, yRange, height } = options;
  if (smoothing !== undefined && smoothingProblem(smoothing) !== null)
    throw new RangeError(`${chart}: ${smoothingProblem(smoothing)}`);
  if (maxPoints !== undefined && (!Number.isInteger(maxPoints) || maxPoints < 2))
    throw new RangeError(`${chart}: maxPoints must be a whole number >= 2, got ${maxPoints}`);
  if (height !== undefined && !(Number.isFinite(height) && height > 0))
    throw new RangeError(`${chart}: height must be a positive number of pixels, got ${height}`);
  if (yRange !== undefined) {
    const ok = Array.isArray(yRange) && yRange.length === 2 && yRange.every(Number.isFinite) && yRange[0] < yRange[1];
    if (!ok)
      throw new RangeError(
        `${chart}: yRange must be [low, high] with finite low < high, got ${JSON.stringify(yRange)}`,
      );
    if (options.logY === true && yRange[0] <= 0)
      throw new RangeError(`${chart}: on a log axis yRange must be positive, got ${JSON.stringify(yRange)}`);
  }
}

/** Values as Plotly wants them: gaps (null) for non-finite values, and for values <= 0 on a log axis. */
function plotValues(values: readonly number[], logY: boolean): (number | null)[] {
  return values.map((v) => (Number.isFinite(v) && (!logY || v > 0) ? v : null));
}

interface Series {
  x: number[];
  y: number[];
}

/** A per-step series, smoothed and thinned as asked. */
function stepSeries(
  history: History,
  value: (record: StepRecord) => number | undefined,
  options: FigureOptions,
  smoothable: boolean,
): Series {
  const x = history.steps.map((r) => r.step);
  let y = history.steps.map((r) => value(r) ?? Number.NaN);
  const weight = options.smoothing ?? 0;
  if (smoothable && weight > 0) y = smooth(y, weight);
  return { x: thin(x, options.maxPoints), y: thin(y, options.maxPoints) };
}

function metricSeries(history: History, metric: Metric, options: FigureOptions): Series {
  const info = METRIC_INFO[metric];
  if (metric === 'validationAccuracy' || metric === 'testAccuracy') {
    return { x: history.evaluations.map((e) => e.step), y: history.evaluations.map((e) => e[metric] * 100) };
  }
  return stepSeries(history, (r) => r[metric], options, info.smoothable);
}

/** The legend's title when smoothed series are drawn, e.g. "smoothed (0.9)". */
function smoothingNote(options: FigureOptions): string | null {
  const weight = options.smoothing ?? 0;
  return weight > 0 ? `smoothed (${weight})` : null;
}

/**
 * Longest line of a title, in characters: a side-by-side chart is about 470 px wide, and a
 * title's 17 px characters average about 9 px.
 */
export const TITLE_LINE_CHARS = 44;

/** Words in lines of at most `width` characters (a longer word gets a line of its own). */
function greedyLines(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    if (current !== '' && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines;
}

/**
 * The title broken at spaces into lines of at most `lineChars` (Plotly does not wrap titles),
 * as few as that takes and of about equal length, so no short last word dangles. A title with
 * markup of its own (`<br>`, `<b>`, ...) is left as it is: a break must not land inside a tag.
 */
export function wrapTitle(title: string, lineChars: number = TITLE_LINE_CHARS): string {
  if (title.length <= lineChars || title.includes('<')) return title;
  const words = title.split(' ');
  const count = greedyLines(words, lineChars).length;
  // The narrowest width that still needs no more lines.
  for (let width = Math.ceil(title.length / count); width < lineChars; width++) {
    const lines = greedyLines(words, width);
    if (lines.length <= count) return lines.join('<br>');
  }
  return greedyLines(words, lineChars).join('<br>');
}

/** Legends of up to this many entries go under the chart in one row; longer ones to its right. */
const BOTTOM_LEGEND_MAX = 3;

/** Width a legend row may take: a side-by-side chart's (about 470 px) less its sides. */
const LEGEND_ROW_PX = 430;

/**
 * Rows a horizontal legend of these entries takes in `LEGEND_ROW_PX` (Plotly wraps it; its
 * 12 px text averages under 7 px a character, and the symbol and gap take about 45 px).
 */
export function legendRows(names: readonly string[]): number {
  let rows = 1;
  let used = 0;
  for (const name of names) {
    const width = 45 + 7 * name.length;
    if (used > 0 && used + width > LEGEND_ROW_PX) {
      rows++;
      used = 0;
    }
    used += width;
  }
  return rows;
}

/** Plotly's default figure height, in pixels. */
const DEFAULT_HEIGHT = 450;

/**
 * Height in pixels of a legend of `entries` one-line entries in a column, with a title of
 * `titleLines` lines: Plotly gives a 12 px entry 19 px and pads the legend by 5 px on each side;
 * a title line takes about 16 px, counted as 18 to be safe.
 */
export function columnLegendHeight(entries: number, titleLines: number): number {
  return 19 * entries + (titleLines > 0 ? 18 * titleLines : 0) + 10;
}

function layout(
  title: string,
  yTitle: string,
  options: FigureOptions,
  logY: boolean,
  showlegend: boolean,
  traces: readonly Trace[],
  legendTitle: string | null = null,
): Layout {
  // Traces of a group after its first have no legend entry of their own.
  const entries = traces.filter((t) => t.showlegend !== false);
  const grouped = entries.length < traces.length;
  const bottomLegend = showlegend && entries.length <= BOTTOM_LEGEND_MAX;
  // Under the plot: the x axis title (about 70 px from the bottom edge), then the legend's rows
  // and its title above them, so that neither is cut nor drawn over the axis title.
  const titleRows = legendTitle === null ? 0 : legendTitle.split('<br>').length;
  const legendHeight = bottomLegend ? 22 * legendRows(entries.map((t) => t.name)) + 22 * titleRows : 0;
  const text = wrapTitle(options.title ?? title);
  const titleLines = text.split('<br>').length;
  const yaxis: Axis = { title: { text: yTitle }, type: logY ? 'log' : 'linear' };
  if (logY) yaxis.exponentformat = 'power';
  if (options.yRange !== undefined)
    yaxis.range = logY
      ? [Math.log10(options.yRange[0]), Math.log10(options.yRange[1])]
      : [options.yRange[0], options.yRange[1]];
  const result: Layout = {
    title: { text },
    xaxis: { title: { text: STEP_AXIS }, rangemode: 'tozero', separatethousands: true },
    yaxis,
    showlegend,
    // A short legend goes under the x axis title at any figure height (placed from the figure's
    // bottom edge); a long one to the right of the plot, where Plotly makes room for it.
    legend: bottomLegend
      ? { orientation: 'h', x: 0, y: 0, yref: 'container', xanchor: 'left', yanchor: 'bottom' }
      : { orientation: 'v', x: 1.02, y: 1, xanchor: 'left', yanchor: 'top' },
    margin: { l: 80, r: 30, t: 40 + 22 * titleLines, b: 70 + legendHeight },
    hovermode: 'x unified',
  };
  // One entry per group: no gap between groups, which would only lengthen the legend.
  if (grouped) result.legend = { ...result.legend, tracegroupgap: 0 };
  // The legend's title above its entries: beside them it would push the last entry out of a narrow chart.
  if (legendTitle !== null && showlegend)
    result.legend = { ...result.legend, title: { text: legendTitle, side: 'top' } };
  if (options.height !== undefined) result.height = options.height;
  else if (showlegend && !bottomLegend) {
    // Plotly scrolls a column legend taller than the plot area, and the scrolled box spills
    // over the chart's edge: the figure grows instead, so that every entry shows.
    const margin = result.margin!;
    const needed = margin.t! + margin.b! + columnLegendHeight(entries.length, titleRows);
    if (needed > DEFAULT_HEIGHT) result.height = needed;
  }
  return result;
}

function line(
  name: string,
  series: Series,
  logY: boolean,
  style: {
    color: string;
    dash?: NonNullable<Trace['line']>['dash'];
    shape?: 'linear' | 'hv';
    markers?: boolean;
    group?: string;
    width?: number;
  },
): Trace {
  const trace: Trace = {
    type: 'scatter',
    mode: style.markers === true ? 'lines+markers' : 'lines',
    name,
    x: series.x,
    y: plotValues(series.y, logY),
    line: { color: style.color, dash: style.dash ?? 'solid', width: style.width ?? 2, shape: style.shape ?? 'linear' },
  };
  if (style.markers === true) trace.marker = { color: style.color, size: 5 };
  if (style.group !== undefined) trace.legendgroup = style.group;
  return trace;
}

/** `${run}: ${series}` in overlays, just the series for a single run. */
function traceName(runs: readonly NamedRun[], run: NamedRun, series: string): string {
  return runs.length === 1 ? series : `${run.name}: ${series}`;
}

/** The title, naming the run when a single named run is drawn. */
function chartTitle(base: string, runs: readonly NamedRun[], input: Runs): string {
  const named = !Array.isArray(input) && !isHistory(input);
  return runs.length === 1 && named ? `${base}: ${runs[0].name}` : base;
}

/**
 * The tutorial's reported accuracy as a dashed trace, up to step `untilStep` (default: all of
 * it), so that the reference does not stretch the step axis beyond the runs drawn with it.
 */
export function referenceTrace(untilStep: number = Number.POSITIVE_INFINITY): Trace {
  const points = REPORTED_ACCURACY.filter((p) => p.step <= untilStep);
  return {
    type: 'scatter',
    mode: 'lines',
    name: 'tutorial (reported)',
    x: points.map((p) => p.step),
    y: points.map((p) => p.accuracyPercent),
    line: { color: REFERENCE_COLOR, dash: 'dash', width: 2, shape: 'linear' },
  };
}

/** The last step any of the runs reached (evaluated or recorded). */
function lastStep(runs: readonly NamedRun[]): number {
  return Math.max(
    0,
    ...runs.flatMap(({ history }) => [history.evaluations.at(-1)?.step ?? 0, history.steps.at(-1)?.step ?? 0]),
  );
}

/**
 * The reference curve over the runs' steps only; left out when the runs stopped before its
 * second point (a line needs two).
 */
function addReference(data: Trace[], runs: readonly NamedRun[]): void {
  const reference = referenceTrace(lastStep(runs));
  if (reference.x.length >= 2) data.push(reference);
}

/**
 * A figure with a y range given, so that no line leaves the plot area: points outside the y
 * window become gaps (a line starts at its first point inside), and the step axis starts where
 * the first trace enters the window, instead of at 0 with lines falling off the bottom edge.
 */
function zoomed(fig: Figure, options: FigureOptions): Figure {
  if (options.yRange === undefined) return fig;
  const [low, high] = options.yRange;
  const inside = (y: number | null): y is number => y !== null && y >= low && y <= high;
  const data = fig.data.map((trace) => ({ ...trace, y: trace.y.map((y) => (inside(y) ? y : null)) }));
  const drawn = data.filter((trace) => trace.y.some(inside));
  if (drawn.length === 0) return { data, layout: fig.layout };
  const start = Math.min(...drawn.map((trace) => trace.x[trace.y.findIndex(inside)]));
  const end = Math.max(...drawn.map((trace) => trace.x.at(-1) ?? start));
  const pad = (end - start) * 0.02 || 1;
  const xaxis: Axis = { ...fig.layout.xaxis, range: [start - pad, end + pad], autorange: false };
  delete xaxis.rangemode;
  return { data, layout: { ...fig.layout, xaxis } };
}

/**
 * Two metrics of each run, as lines: for one run, a colour per metric; for several, a colour per
 * run with the second metric dotted, grouped by run in the legend.
 */
function pairedTraces(
  resolved: NamedRun[],
  metrics: readonly Metric[],
  label: (metric: Metric) => string,
  options: FigureOptions,
  logY: boolean,
  markers: boolean,
): Trace[] {
  const single = resolved.length === 1;
  return resolved.flatMap((run, i) =>
    metrics.map((metric, k) =>
      line(traceName(resolved, run, label(metric)), metricSeries(run.history, metric, options), logY, {
        color: single ? color(k) : color(i),
        dash: single || k === 0 ? 'solid' : 'dot',
        ...(markers ? { markers: true } : {}),
        group: single ? undefined : run.name,
      }),
    ),
  );
}

/** What a chart of runs draws: its traces and the text around them. */
interface RunsChart {
  data: Trace[];
  title: string;
  yTitle: string;
  showlegend: boolean;
  legendTitle?: string | null;
}

/**
 * The frame every chart of runs shares: its options checked and its runs resolved (errors name `chart`), the
 * traces and titles `draw` makes, laid out and zoomed to `options.yRange`.
 */
function runsFigure(
  chart: string,
  runs: Runs,
  options: FigureOptions,
  logYByDefault: boolean,
  draw: (resolved: NamedRun[], logY: boolean) => RunsChart,
): Figure {
  checkOptions(options, chart);
  const resolved = resolveRuns(runs, chart);
  const logY = options.logY ?? logYByDefault;
  const { data, title, yTitle, showlegend, legendTitle = null } = draw(resolved, logY);
  return zoomed({ data, layout: layout(title, yTitle, options, logY, showlegend, data, legendTitle) }, options);
}

/** Validation and test accuracy (%) against the training step (validation only with `testAccuracy: false`). */
export function accuracyFigure(runs: Runs, options: AccuracyFigureOptions = {}): Figure {
  const withTest = options.testAccuracy ?? true;
  return runsFigure('accuracyFigure', runs, options, false, (resolved, logY) => {
    const data = pairedTraces(
      resolved,
      withTest ? ['validationAccuracy', 'testAccuracy'] : ['validationAccuracy'],
      (metric) => (metric === 'validationAccuracy' ? 'validation' : 'test'),
      options,
      logY,
      true,
    );
    if (options.reference === true) addReference(data, resolved);
    const title = chartTitle(withTest ? 'Validation and test accuracy' : 'Validation accuracy', resolved, runs);
    return { data, title, yTitle: ACCURACY_AXIS, showlegend: true };
  });
}

/** Mean cross-entropy and total loss (cross-entropy + L2) per recorded training step. */
export function lossFigure(runs: Runs, options: FigureOptions = {}): Figure {
  return runsFigure('lossFigure', runs, options, false, (resolved, logY) => ({
    data: pairedTraces(
      resolved,
      ['crossEntropy', 'totalLoss'],
      (metric) => METRIC_INFO[metric].label,
      options,
      logY,
      false,
    ),
    title: chartTitle('Training loss', resolved, runs),
    yTitle: 'loss (nats)',
    showlegend: true,
    legendTitle: smoothingNote(options),
  }));
}

/** The learning rate (staircase exponential decay) per recorded training step. */
export function learningRateFigure(runs: Runs, options: FigureOptions = {}): Figure {
  return runsFigure('learningRateFigure', runs, options, false, (resolved, logY) => ({
    data: resolved.map((run, i) =>
      line(
        resolved.length === 1 ? 'learning rate' : run.name,
        metricSeries(run.history, 'learningRate', options),
        logY,
        {
          color: color(i),
          shape: 'hv',
        },
      ),
    ),
    title: chartTitle('Learning rate', resolved, runs),
    yTitle: 'learning rate',
    showlegend: resolved.length > 1,
  }));
}

/** One run's gradient traces: over all parameters, then per parameter it has. */
function gradientTraces(resolved: readonly NamedRun[], i: number, options: FigureOptions, logY: boolean): Trace[] {
  const dashes = ['dot', 'dash', 'longdash', 'dashdot'] as const;
  const run = resolved[i];
  const single = resolved.length === 1;
  const group = single ? undefined : run.name;
  const data = [
    // Alone, wide and dashed: weights1 holds most parameters, so its solid line runs on top of this one.
    line(traceName(resolved, run, 'all parameters'), metricSeries(run.history, 'meanAbsGradient', options), logY, {
      color: color(single ? 0 : i),
      group,
      ...(single ? { dash: 'dash' as const, width: 5 } : {}),
    }),
  ];
  GRADIENT_PARAMS.forEach((param, k) => {
    if (!run.history.steps.some((r) => r.meanAbsGradients?.[param] !== undefined)) return;
    const series = stepSeries(run.history, (r) => r.meanAbsGradients?.[param], options, true);
    data.push(
      line(traceName(resolved, run, param), series, logY, {
        color: color(single ? k + 1 : i),
        dash: single ? 'solid' : dashes[k],
        group,
      }),
    );
  });
  return data;
}

/**
 * Mean absolute gradient of the total loss: over all parameters, and per parameter
 * (weights1, biases1, weights2, biases2; parameters a run does not have are left out). Log y by default.
 */
export function gradientFigure(runs: Runs, options: FigureOptions = {}): Figure {
  return runsFigure('gradientFigure', runs, options, true, (resolved, logY) => ({
    data: resolved.flatMap((_, i) => gradientTraces(resolved, i, options, logY)),
    title: chartTitle('Mean absolute gradient', resolved, runs),
    yTitle: 'mean absolute gradient',
    showlegend: true,
    legendTitle: smoothingNote(options),
  }));
}

/**
 * The traces of runs with groups: a colour per group (in order of first appearance; a run without
 * a group is a group of its own), a line style per run within its group, one legend entry per
 * group named after it; the hover names the run. Also the legend's key to the line styles, when
 * a group has several runs.
 */
function groupedTraces(
  resolved: readonly NamedRun[],
  metric: Metric,
  options: FigureOptions,
  logY: boolean,
): { data: Trace[]; key: string | null } {
  const info = METRIC_INFO[metric];
  const groups = new Map<string, NamedRun[]>();
  for (const run of resolved) {
    const group = run.group ?? run.name;
    groups.set(group, [...(groups.get(group) ?? []), run]);
  }
  const value = info.axis.includes('(%)') ? '%{y:.2f} %' : '%{y:.4g}';
  const data = [...groups].flatMap(([group, members], g) =>
    members.map((run, k) => {
      const trace = line(group, metricSeries(run.history, metric, options), logY, {
        color: color(g),
        dash: GROUP_DASHES[k % GROUP_DASHES.length],
        shape: info.shape,
        markers: info.source === 'evaluation',
        group,
      });
      // Markers would hide the line styles; a run of one evaluation so far keeps its marker (a line needs two points).
      if (trace.x.length > 1) {
        trace.mode = 'lines';
        delete trace.marker;
      }
      if (k > 0) trace.showlegend = false;
      trace.hovertemplate = `${run.name}: ${value}<extra></extra>`;
      return trace;
    }),
  );
  // The key of the largest group: "solid: seed 1", "dashed: seed 2", ...
  const largest = [...groups.values()].reduce((a, b) => (b.length > a.length ? b : a));
  const key =
    largest.length > 1
      ? largest
          .slice(0, GROUP_DASHES.length)
          .map((run, k) => `${DASH_WORDS[GROUP_DASHES[k]]}: ${run.member ?? `run ${k + 1} of a group`}`)
          .join('<br>')
      : null;
  return { data, key };
}

/**
 * One metric of several runs overlaid, a trace per run named after it; runs with a `group` are
 * drawn by group (see `NamedRun.group`).
 */
export function compareFigure(runs: Runs, metric: Metric, options: AccuracyFigureOptions = {}): Figure {
  const chart = 'compareFigure';
  if (!METRICS.includes(metric))
    throw new Error(`${chart}: unknown metric ${JSON.stringify(metric)}; choose one of ${METRICS.join(', ')}`);
  const info = METRIC_INFO[metric];
  return runsFigure(chart, runs, options, info.logByDefault, (resolved, logY) => {
    const grouped = resolved.some((run) => run.group !== undefined)
      ? groupedTraces(resolved, metric, options, logY)
      : null;
    const data =
      grouped?.data ??
      resolved.map((run, i) =>
        line(run.name, metricSeries(run.history, metric, options), logY, {
          color: color(i),
          shape: info.shape,
          markers: info.source === 'evaluation',
        }),
      );
    if (options.reference === true) {
      if (metric !== 'validationAccuracy')
        throw new Error(
          `${chart}: the tutorial reported validation accuracy only; reference: true needs metric 'validationAccuracy', not '${metric}'`,
        );
      addReference(data, resolved);
    }
    const notes = [info.smoothable ? smoothingNote(options) : null, grouped?.key ?? null].filter((n) => n !== null);
    const legendTitle = notes.length > 0 ? notes.join('<br>') : null;
    return {
      data,
      title: `${info.label[0].toUpperCase()}${info.label.slice(1)}`,
      yTitle: info.axis,
      showlegend: true,
      legendTitle,
    };
  });
}

/** The charts of one run, as `exportRunCharts` writes them. */
export interface RunFigures {
  accuracy: Figure;
  loss: Figure;
  learningRate: Figure;
  gradients: Figure;
}

/** Options of `allRunFigures`: the same options for every chart of a run. */
export interface RunFiguresOptions {
  /** Add the tutorial's reported accuracy to the accuracy chart. */
  reference?: boolean;
  /** Smoothing weight in [0, 1) of the loss and gradient charts (see `FigureOptions.smoothing`). */
  smoothing?: number;
}

/** Every chart of one run. */
export function allRunFigures(run: Run, options: RunFiguresOptions = {}): RunFigures {
  if (Array.isArray(run)) throw new TypeError('allRunFigures: takes a single run, not an array');
  const smoothing = options.smoothing;
  return {
    accuracy: accuracyFigure(run, { reference: options.reference }),
    loss: lossFigure(run, { smoothing }),
    learningRate: learningRateFigure(run),
    gradients: gradientFigure(run, { smoothing }),
  };
}
