/**
 * `drawDigit(model)`: a drawing pad in a notebook output. The reader draws a digit with the
 * mouse, a finger or a pen; the page turns it into the 28 x 28 input exactly as
 * `preprocessDigitImage` does (the same compiled functions, embedded), runs the network on it
 * (8-bit weights embedded in the output, see `quantize.ts`) and shows the ten probabilities,
 * all while drawing and without the kernel: a saved, trusted notebook keeps working.
 *
 * Where scripts do not run (an untrusted notebook, GitHub's viewer) the output shows a note.
 * Like the charts (`chart-html.ts`), the script is plain inline JavaScript: no require.js. The
 * page's code is `browser/draw-pad.ts`, compiled with the package and embedded as its text.
 */
import { randomBytes } from 'node:crypto';
import type { Activation } from '../core/config';
import { digitPreprocessSource, preprocessRgba } from '../predict/digit-preprocess';
import { jsonForScript, scriptElement } from '../charts/html';
import { kernelOutput, type NotebookOutput } from './kernel-output';
import type { Params } from '../core/model';
import type { RunModel } from '../store/run-model';
import {
  dequantizeLayer,
  quantizedForward,
  quantizedForwardSource,
  quantizeModel,
  type QuantizedModel,
} from '../predict/quantize';
import { runDrawPad, type DrawPadLibrary, type DrawPadSettings, type EncodedModel } from './browser/draw-pad';

/** The class of the widget's root element. */
export const DRAW_CLASS = 'mnist-draw';
/** The class of the note shown where scripts do not run. */
export const DRAW_NOTE_CLASS = 'mnist-draw-note';
/** Ink level (0-1) below which a drawn pixel counts as background. */
const INK_THRESHOLD = 0.1;

/** Options of `drawDigit`. */
export interface DrawDigitOptions {
  /** The hidden layer's activation when `model` is bare `Params` (default relu). */
  activation?: Activation;
  /** Side of the drawing canvas in pixels (default 280: ten canvas pixels per MNIST pixel). */
  canvasSize?: number;
  /** Brush diameter in canvas pixels (default: 0.08 of the side, MNIST's stroke width relative to its 20-pixel box). */
  brushSize?: number;
  /** Element id; default: a fresh one. */
  id?: string;
}

/** What `drawDigit` displayed: the pad's element id and its HTML. */
export interface DrawDigitOutput {
  /** The root element's id. */
  id: string;
  /** The output's HTML. */
  html: string;
  /** Bytes the output adds to the notebook file (its HTML, UTF-8). */
  bytes: number;
}

function base64(array: Int8Array | Float32Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

/** The quantised network as JSON-able text fields (base64 of the little-endian arrays). */
export function encodeQuantized(q: QuantizedModel): EncodedModel {
  return {
    activation: q.activation,
    layers: q.layers.map((l) => ({
      rows: l.rows,
      cols: l.cols,
      values: base64(l.values),
      scales: base64(l.scales),
      biases: base64(l.biases),
    })),
  };
}

const NOTE =
  'Drawing pad: it runs as a script in the notebook, and scripts do not run here (the notebook is not trusted, ' +
  'or this viewer runs none). Run the cell, or trust the notebook (JupyterLab: command palette, Trust Notebook; ' +
  'classic Notebook: File, Trust Notebook) and reopen it, to draw a digit.';

/** The package's functions the page runs, defined there by `digitPreprocessSource` and `quantizedForwardSource`. */
const PAGE_LIBRARY: DrawPadLibrary = { preprocessRgba, dequantizeLayer, quantizedForward };

/** The page's code: the embedded package functions, then `runDrawPad` given them by the names they have there. */
function padScript(settings: DrawPadSettings): string {
  const library = Object.entries(PAGE_LIBRARY).map(([key, fn]) => `${key}: ${fn.name}`);
  return scriptElement(
    [
      digitPreprocessSource(),
      quantizedForwardSource(),
      `(${runDrawPad.toString()})(${jsonForScript(settings)}, { ${library.join(', ')} });`,
    ].join('\n'),
  );
}

/** The widget's HTML for a quantised network (pure). */
export function drawDigitHtml(q: QuantizedModel, options: Omit<DrawDigitOptions, 'activation'> = {}): string {
  const canvasSize = options.canvasSize ?? 280;
  if (!Number.isInteger(canvasSize) || canvasSize < 56 || canvasSize > 1000)
    throw new RangeError(`drawDigit: canvasSize must be a whole number of pixels 56-1000, got ${canvasSize}`);
  const brushSize = options.brushSize ?? Math.round(canvasSize * 0.08);
  if (!(Number.isFinite(brushSize) && brushSize >= 1 && brushSize <= canvasSize / 2))
    throw new RangeError(`drawDigit: brushSize must be 1-${canvasSize / 2} pixels, got ${brushSize}`);
  const inputs = q.layers[0]?.rows;
  if (inputs !== 784 || q.layers.at(-1)?.cols !== 10)
    throw new Error(
      `drawDigit: the network must take 784 pixels and give 10 classes, got ${inputs} inputs and ${q.layers.at(-1)?.cols} outputs`,
    );
  const id = options.id ?? `mnist-draw-${randomBytes(6).toString('hex')}`;
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`drawDigit: "${id}" is not a usable element id`);
  return [
    `<div id="${id}" class="${DRAW_CLASS}">`,
    `<div class="${DRAW_NOTE_CLASS}" style="font-family:sans-serif;font-size:13px;padding:6px 10px;border-left:3px solid #c90;background:#fff8e5">${NOTE}</div>`,
    '</div>',
    padScript({
      id,
      encoded: encodeQuantized(q),
      canvasSize,
      brushSize,
      inkThreshold: INK_THRESHOLD,
      noteClass: DRAW_NOTE_CLASS,
    }),
  ].join('\n');
}

/**
 * Shows a drawing pad for `model` (a run's evaluated parameters: the moving averages when it
 * used them, or bare `Params`) in the notebook cell's output.
 */
export function drawDigit(
  model: Params | RunModel,
  options: DrawDigitOptions & { output?: NotebookOutput } = {},
): DrawDigitOutput {
  const id = options.id ?? `mnist-draw-${randomBytes(6).toString('hex')}`;
  const html = drawDigitHtml(quantizeModel(model, options.activation), { ...options, id });
  (options.output ?? kernelOutput()).html(html);
  return { id, html, bytes: Buffer.byteLength(html, 'utf8') };
}
