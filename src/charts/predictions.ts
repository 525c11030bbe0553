/**
 * Figures of what a trained network predicts, as Plotly JSON `{ data, layout }`: digits with
 * their true and predicted labels (small multiples), the confusion matrix, per-class accuracy
 * and the class probabilities of one image. Pure functions: no I/O, no DOM, no kernel.
 * `showFigure` (display.ts) shows them in a notebook, `exportFigure` writes them to files.
 */

/** A Plotly heatmap trace (the subset these figures use). */
export interface HeatmapTrace {
  type: 'heatmap';
  name?: string;
  z: (number | null)[][];
  x?: (number | string)[];
  y?: (number | string)[];
  xaxis?: string;
  yaxis?: string;
  zmin?: number;
  zmax?: number;
  colorscale: string | [number, string][];
  showscale: boolean;
  reversescale?: boolean;
  text?: string[][];
  texttemplate?: string;
  textfont?: { size?: number; color?: string };
  hovertemplate?: string;
  xgap?: number;
  ygap?: number;
  colorbar?: { title?: { text: string } };
}

/** A Plotly bar trace (the subset these figures use). */
export interface BarTrace {
  type: 'bar';
  name?: string;
  x: (number | string)[];
  y: (number | null)[];
  text?: string[];
  textposition?: 'auto' | 'inside' | 'outside' | 'none';
  marker?: { color?: string | string[] };
  hovertemplate?: string;
}

export type PredictionTrace = HeatmapTrace | BarTrace;

export interface AxisLayout {
  title?: { text: string };
  visible?: boolean;
  showticklabels?: boolean;
  showgrid?: boolean;
  zeroline?: boolean;
  autorange?: boolean | 'reversed';
  range?: [number, number];
  type?: 'linear' | 'category';
  dtick?: number;
  tickmode?: 'linear' | 'array' | 'auto';
  tickvals?: number[];
  ticksuffix?: string;
  scaleanchor?: string;
  constrain?: 'range' | 'domain';
  domain?: [number, number];
  anchor?: string;
  fixedrange?: boolean;
}

export interface Annotation {
  text: string;
  x: number;
  y: number;
  xref: string;
  yref: string;
  xanchor?: 'left' | 'center' | 'right';
  yanchor?: 'top' | 'middle' | 'bottom';
  showarrow: false;
  font?: { size?: number; color?: string };
}

/** Layout of these figures: the axes of small multiples are `xaxis2`, `yaxis2`, ... */
export interface PredictionLayout {
  title: { text: string };
  showlegend: boolean;
  width?: number;
  height?: number;
  margin?: { l?: number; r?: number; t?: number; b?: number };
  annotations?: Annotation[];
  plot_bgcolor?: string;
  xaxis?: AxisLayout;
  yaxis?: AxisLayout;
  [axis: `xaxis${number}` | `yaxis${number}`]: AxisLayout | undefined;
}

/** A Plotly figure of heatmaps or bars, as JSON. */
export interface PredictionFigure {
  data: PredictionTrace[];
  layout: PredictionLayout;
}

/** One grayscale image to draw: `width * height` values, row-major, 0 = background, 1 = ink. */
export interface FigureImage {
  pixels: ArrayLike<number>;
  width: number;
  height: number;
  /** Shown above the image. */
  title?: string;
  /** Colour of the title (e.g. red for a mistake). */
  titleColor?: string;
}

export interface ImagesFigureOptions {
  /** Images per row (default: up to 10). */
  columns?: number;
  title?: string;
  /** Pixel size of one cell (default 90). */
  cellSize?: number;
  /** White digits on black as MNIST stores them, instead of ink on paper (default false). */
  whiteOnBlack?: boolean;
}

export const MISTAKE_COLOR = '#c62828';
const RIGHT_COLOR = '#333333';
const INK_ON_PAPER: [number, string][] = [
  [0, '#ffffff'],
  [1, '#000000'],
];
const WHITE_ON_BLACK: [number, string][] = [
  [0, '#000000'],
  [1, '#ffffff'],
];

function checkColumns(columns: number | undefined, count: number, figure: string): number {
  const value = columns ?? Math.min(10, count);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${figure}: columns must be a whole number >= 1, got ${columns}`);
  return Math.min(value, Math.max(1, count));
}

const axisName = (i: number) => (i === 0 ? '' : String(i + 1));

/** Rows of an image, top row first, for a heatmap drawn with a reversed y axis. */
function imageRows(image: FigureImage): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y < image.height; y++) {
    const row: number[] = [];
    for (let x = 0; x < image.width; x++) row.push(Number(image.pixels[y * image.width + x]));
    rows.push(row);
  }
  return rows;
}

/**
 * Grayscale images as small multiples: one heatmap per image in a grid of `columns`, each with
 * square pixels, no axes, and its title above it.
 */
export function imagesFigure(images: readonly FigureImage[], options: ImagesFigureOptions = {}): PredictionFigure {
  const figure = 'imagesFigure';
  if (images.length === 0) throw new Error(`${figure}: no images to draw`);
  images.forEach((image, i) => {
    if (!(Number.isInteger(image.width) && Number.isInteger(image.height) && image.width > 0 && image.height > 0)) {
      throw new RangeError(`${figure}: image ${i} has size ${image.width} x ${image.height}`);
    }
    if (image.pixels.length !== image.width * image.height) {
      throw new RangeError(
        `${figure}: image ${i} has ${image.pixels.length} values, expected ${image.width} x ${image.height} = ${image.width * image.height}`,
      );
    }
  });
  const columns = checkColumns(options.columns, images.length, figure);
  const rows = Math.ceil(images.length / columns);
  const cell = options.cellSize ?? 90;
  // Room above each image for its title's lines (about 14 px each at 11 px type), as a share of a cell.
  const titleLines = Math.max(
    0,
    ...images.map((image) => (image.title === undefined ? 0 : image.title.split('<br>').length)),
  );
  const titleSpace = titleLines > 0 ? (titleLines * 14 + 6) / cell : 0.04;
  const layout: PredictionLayout = {
    title: { text: options.title ?? '' },
    showlegend: false,
    width: Math.max(240, columns * cell + 40),
    height: rows * cell * (1 + titleSpace) + (options.title ? 70 : 30),
    margin: { l: 20, r: 20, t: options.title ? 60 : 20, b: 10 },
    annotations: [],
    plot_bgcolor: '#ffffff',
  };
  const data: HeatmapTrace[] = images.map((image, i) => {
    const row = Math.floor(i / columns);
    const col = i % columns;
    const name = axisName(i);
    const x0 = col / columns;
    const x1 = (col + 1) / columns;
    const rowHeight = 1 / rows;
    const top = 1 - row * rowHeight;
    const y1 = top - rowHeight * (titleSpace / (1 + titleSpace));
    const y0 = top - rowHeight;
    const gap = 0.06 / columns;
    const axes = layout as unknown as Record<string, AxisLayout>;
    axes[`xaxis${name}`] = {
      domain: [x0 + gap, x1 - gap],
      anchor: `y${name}`,
      visible: false,
      range: [-0.5, image.width - 0.5],
      constrain: 'domain',
      fixedrange: true,
    };
    axes[`yaxis${name}`] = {
      domain: [y0, y1],
      anchor: `x${name}`,
      visible: false,
      range: [image.height - 0.5, -0.5],
      scaleanchor: `x${name}`,
      constrain: 'domain',
      fixedrange: true,
    };
    if (image.title !== undefined) {
      layout.annotations!.push({
        text: image.title,
        x: (x0 + x1) / 2,
        y: y1,
        xref: 'paper',
        yref: 'paper',
        xanchor: 'center',
        yanchor: 'bottom',
        showarrow: false,
        font: { size: 11, color: image.titleColor ?? RIGHT_COLOR },
      });
    }
    return {
      type: 'heatmap',
      name: image.title ?? `image ${i + 1}`,
      z: imageRows(image),
      xaxis: `x${name}`,
      yaxis: `y${name}`,
      zmin: 0,
      zmax: 1,
      colorscale: options.whiteOnBlack === true ? WHITE_ON_BLACK : INK_ON_PAPER,
      showscale: false,
      hovertemplate: 'x %{x}, y %{y}: %{z:.2f}<extra></extra>',
    };
  });
  if (layout.annotations!.length === 0) delete layout.annotations;
  return { data, layout };
}

export interface DigitsFigureOptions extends ImagesFigureOptions {
  /** Side of the square images (default: the square root of the pixels per image, 28 for MNIST). */
  side?: number;
}

/** Images given as one flat array (`count * side * side` values) or as one array per image. */
export type ImageList = Float32Array | readonly ArrayLike<number>[];

function splitImages(
  images: ImageList,
  count: number,
  figure: string,
  side?: number,
): { pixels: ArrayLike<number>; side: number }[] {
  if (Array.isArray(images) || !(images instanceof Float32Array)) {
    const list = images as readonly ArrayLike<number>[];
    return list.map((pixels, i) => {
      const s = side ?? Math.round(Math.sqrt(pixels.length));
      if (s * s !== pixels.length)
        throw new RangeError(`${figure}: image ${i} has ${pixels.length} values, not a square image`);
      return { pixels, side: s };
    });
  }
  const flat = images;
  if (count === 0) return [];
  const size = flat.length / count;
  const s = side ?? Math.round(Math.sqrt(size));
  if (!Number.isInteger(size) || s * s !== size) {
    throw new RangeError(`${figure}: ${flat.length} values are not ${count} square images (give one label per image)`);
  }
  return Array.from({ length: count }, (_, i) => ({ pixels: flat.subarray(i * size, (i + 1) * size), side: s }));
}

/**
 * Digits as small multiples titled "true 7" over "predicted 1" (just "true 7" without predictions);
 * wrong predictions have a red title. `images` holds one image per label.
 */
export function digitsFigure(
  images: ImageList,
  labels: ArrayLike<number>,
  predicted?: ArrayLike<number> | null,
  options: DigitsFigureOptions = {},
): PredictionFigure {
  const figure = 'digitsFigure';
  if (labels.length === 0) throw new Error(`${figure}: no digits to draw`);
  if (predicted != null && predicted.length !== labels.length)
    throw new Error(`${figure}: ${labels.length} labels but ${predicted.length} predictions`);
  const split = splitImages(images, labels.length, figure, options.side);
  if (split.length !== labels.length) throw new Error(`${figure}: ${split.length} images but ${labels.length} labels`);
  const list: FigureImage[] = split.map(({ pixels, side }, i) => {
    const wrong = predicted != null && predicted[i] !== labels[i];
    return {
      pixels,
      width: side,
      height: side,
      // Two short lines: one line "true 7 / predicted 1" is wider than a cell and overlaps its neighbours.
      title: predicted != null ? `true ${labels[i]}<br>predicted ${predicted[i]}` : `true ${labels[i]}`,
      titleColor: wrong ? MISTAKE_COLOR : RIGHT_COLOR,
    };
  });
  // 10 columns of 88 px (920 px) fit a notebook's output area at JupyterLab's default width.
  return imagesFigure(list, { cellSize: 88, ...options });
}

/**
 * White to dark blue, with most of the range spent on small shares: mistakes are 0.1-3 % of a
 * row, the diagonal about 98 %, and both should be visible.
 */
const SHARE_COLORS: [number, string][] = [
  [0, '#ffffff'],
  [0.005, '#eef4fb'],
  [0.02, '#c6dbef'],
  [0.05, '#9ecae1'],
  [0.2, '#4292c6'],
  [0.6, '#2171b5'],
  [1, '#08306b'],
];
const COUNT_COLORS: [number, string][] = [
  [0, '#ffffff'],
  [1, '#08306b'],
];

function checkMatrix(matrix: readonly (readonly number[])[], figure: string): number {
  const n = matrix.length;
  if (n === 0 || matrix.some((row) => row.length !== n))
    throw new RangeError(`${figure}: the confusion matrix must be square and non-empty`);
  return n;
}

export interface ConfusionFigureOptions {
  title?: string;
  /** Class names (default 0, 1, ...). */
  classes?: string[];
  /**
   * Colour the cells by the share of their row (recall view) instead of the raw count, so the
   * off-diagonal mistakes show; the text stays the count. Default true.
   */
  normalizeColors?: boolean;
  /** Leave the diagonal uncoloured, so the mistakes stand out (default false). */
  hideDiagonalColor?: boolean;
}

/** The confusion matrix as a heatmap: true class down, predicted class across, counts as text. */
export function confusionFigure(
  matrix: readonly (readonly number[])[],
  options: ConfusionFigureOptions = {},
): PredictionFigure {
  const figure = 'confusionFigure';
  const n = checkMatrix(matrix, figure);
  const classes = options.classes ?? Array.from({ length: n }, (_, i) => String(i));
  if (classes.length !== n) throw new RangeError(`${figure}: ${classes.length} class names for a ${n} x ${n} matrix`);
  const normalize = options.normalizeColors ?? true;
  const z = matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, j) => {
      if (options.hideDiagonalColor === true && i === j) return null;
      if (!normalize) return count;
      return total > 0 ? count / total : 0;
    });
  });
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const right = matrix.reduce((sum, row, i) => sum + row[i], 0);
  const accuracy =
    total > 0 ? ` (accuracy ${((right / total) * 100).toFixed(2)} %, ${total - right} mistakes of ${total})` : '';
  const trace: HeatmapTrace = {
    type: 'heatmap',
    name: 'confusion matrix',
    z,
    x: classes,
    y: classes,
    colorscale: normalize ? SHARE_COLORS : COUNT_COLORS,
    zmin: 0,
    zmax: 1,
    showscale: true,
    text: matrix.map((row) => row.map(String)),
    texttemplate: '%{text}',
    textfont: { size: 11 },
    hovertemplate: 'true %{y}, predicted %{x}: %{text}<extra></extra>',
    xgap: 1,
    ygap: 1,
    colorbar: { title: { text: normalize ? 'share of row' : 'count' } },
  };
  if (!normalize) {
    delete trace.zmin;
    delete trace.zmax;
  }
  return {
    data: [trace],
    layout: {
      title: { text: options.title ?? `Confusion matrix${accuracy}` },
      showlegend: false,
      xaxis: { title: { text: 'predicted class' }, type: 'category', showgrid: false, zeroline: false },
      yaxis: {
        title: { text: 'true class' },
        type: 'category',
        autorange: 'reversed',
        showgrid: false,
        zeroline: false,
        scaleanchor: 'x',
      },
      width: 620,
      height: 560,
      margin: { l: 70, r: 30, t: 60, b: 60 },
    },
  };
}

export interface BarsFigureOptions {
  title?: string;
  /** Class names (default 0, 1, ...). */
  classes?: string[];
}

const percentText = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(1)} %`);
const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

/** Accuracy per true class (fractions 0..1, NaN for a class without examples) as bars in %. */
export function perClassAccuracyFigure(accuracy: readonly number[], options: BarsFigureOptions = {}): PredictionFigure {
  const figure = 'perClassAccuracyFigure';
  if (accuracy.length === 0) throw new Error(`${figure}: no classes`);
  const classes = options.classes ?? accuracy.map((_, i) => String(i));
  if (classes.length !== accuracy.length)
    throw new RangeError(`${figure}: ${classes.length} class names for ${accuracy.length} accuracies`);
  const values = accuracy.map(finiteOrNull);
  const finite = values.filter((v): v is number => v !== null);
  const worst = finite.length > 0 ? Math.min(...finite) : 1;
  const low = Math.max(0, Math.floor(worst * 100 - 2));
  return {
    data: [
      {
        type: 'bar',
        name: 'accuracy',
        x: classes,
        y: values.map((v) => (v === null ? null : v * 100)),
        text: values.map(percentText),
        textposition: 'outside',
        marker: { color: values.map((v) => (v !== null && v === worst ? MISTAKE_COLOR : '#1f77b4')) },
        hovertemplate: 'class %{x}: %{text}<extra></extra>',
      },
    ],
    layout: {
      title: { text: options.title ?? 'Accuracy per class (the worst in red)' },
      showlegend: false,
      xaxis: { title: { text: 'true class' }, type: 'category' },
      yaxis: { title: { text: 'accuracy (%)' }, range: [low, 100.8] },
      margin: { l: 70, r: 30, t: 60, b: 60 },
    },
  };
}

/** The probabilities of each class for one image, as bars (the predicted class highlighted). */
export function probabilitiesFigure(
  probabilities: readonly number[],
  options: BarsFigureOptions = {},
): PredictionFigure {
  const figure = 'probabilitiesFigure';
  if (probabilities.length === 0) throw new Error(`${figure}: no probabilities`);
  const classes = options.classes ?? probabilities.map((_, i) => String(i));
  if (classes.length !== probabilities.length)
    throw new RangeError(`${figure}: ${classes.length} class names for ${probabilities.length} probabilities`);
  let best = 0;
  probabilities.forEach((p, i) => {
    if (p > probabilities[best]) best = i;
  });
  return {
    data: [
      {
        type: 'bar',
        name: 'probability',
        x: classes,
        y: probabilities.map((p) => finiteOrNull(p * 100)),
        text: probabilities.map((p) => `${(p * 100).toFixed(1)} %`),
        textposition: 'outside',
        marker: { color: probabilities.map((_, i) => (i === best ? '#2ca02c' : '#9e9e9e')) },
        hovertemplate: 'class %{x}: %{text}<extra></extra>',
      },
    ],
    layout: {
      title: { text: options.title ?? `Predicted ${classes[best]} (${(probabilities[best] * 100).toFixed(1)} %)` },
      showlegend: false,
      xaxis: { title: { text: 'class' }, type: 'category' },
      yaxis: { title: { text: 'probability (%)' }, range: [0, 110] },
      margin: { l: 70, r: 30, t: 60, b: 60 },
    },
  };
}

/** What `preprocessingFigure` needs of `preprocessDigitImage`'s steps. */
export interface PreprocessingStages {
  stages: readonly { name: string; width: number; height: number; pixels: ArrayLike<number> }[];
}

/**
 * The stages of `preprocessDigitImage` side by side, drawn as their values are (0 black, 1 white):
 * the grayscale picture as it looks, then the white-on-black digit that MNIST images are.
 */
export function preprocessingFigure(steps: PreprocessingStages, options: ImagesFigureOptions = {}): PredictionFigure {
  const images: FigureImage[] = steps.stages.map((stage, i) => ({
    pixels: stage.pixels,
    width: stage.width,
    height: stage.height,
    title: `${i + 1}. ${stage.name} (${stage.width} x ${stage.height})`,
  }));
  return imagesFigure(images, {
    columns: images.length,
    cellSize: 140,
    whiteOnBlack: true,
    title: 'From the picture to an MNIST input',
    ...options,
  });
}
