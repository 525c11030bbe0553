/**
 * Using a trained network: class probabilities, the confusion matrix, per-class accuracy, the
 * most confident mistakes, and turning a photo or drawing of a digit into an MNIST-like input.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync, statSync } from 'node:fs';
import { PNG } from 'pngjs';
import type { Activation } from './config';
import { forward, type Params } from './model';
import type { RunModel } from './runs';

/** The side of an MNIST image and the side of the box its digit is scaled into. */
export const MNIST_SIDE = 28;
export const MNIST_DIGIT_BOX = 20;

const PREDICT_CHUNK = 2000;

function isRunModel(model: Params | RunModel): model is RunModel {
  return 'evaluated' in model && 'config' in model;
}

/**
 * Class probabilities (softmax of the logits) of `count` images, one row each, as plain arrays.
 * `model` is a `RunModel` (its evaluated parameters and activation are used) or bare `Params`
 * (e.g. the moving averages) with the hidden layer's `activation`. Releases every tensor.
 */
export function predict(model: Params | RunModel, images: Float32Array, count?: number, activation?: Activation): number[][] {
  const params = isRunModel(model) ? model.evaluated : model;
  const act = activation ?? (isRunModel(model) ? model.config.activation : 'relu');
  const inputSize = params.weights1.shape[0];
  const n = count ?? Math.floor(images.length / inputSize);
  if (!Number.isInteger(n) || n < 0 || n * inputSize > images.length) {
    throw new Error(`predict: ${n} images of ${inputSize} pixels need ${n * inputSize} values, got ${images.length}`);
  }
  const rows: number[][] = [];
  for (let start = 0; start < n; start += PREDICT_CHUNK) {
    const end = Math.min(n, start + PREDICT_CHUNK);
    const { values, classes } = tf.tidy(() => {
      const input = tf.tensor2d(images.subarray(start * inputSize, end * inputSize), [end - start, inputSize]);
      const probabilities = tf.softmax(forward(input, params, null, act));
      return { values: probabilities.dataSync() as Float32Array, classes: probabilities.shape[1] as number };
    });
    for (let i = 0; i < end - start; i++) rows.push(Array.from(values.subarray(i * classes, (i + 1) * classes)));
  }
  return rows;
}

/** The most probable class of each row. */
export function predictedClasses(probabilities: readonly (readonly number[])[]): number[] {
  return probabilities.map((row) => argMax(row));
}

function argMax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Counts of (true class, predicted class): rows are true classes, columns predicted ones. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses = 10): number[][] {
  if (labels.length !== predictions.length) throw new Error(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    for (const [what, v] of [['label', t], ['prediction', p]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses) throw new Error(`confusionMatrix: ${what} ${v} at index ${i} is not a class 0-${numClasses - 1}`);
    }
    matrix[t][p]++;
  }
  return matrix;
}

/** Per true class, the fraction predicted right (diagonal over row total); NaN for a class with no examples. */
export function perClassAccuracy(matrix: readonly (readonly number[])[]): number[] {
  return matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? Number.NaN : row[i] / total;
  });
}

/** Overall accuracy of a confusion matrix. */
export function matrixAccuracy(matrix: readonly (readonly number[])[]): number {
  let right = 0;
  let total = 0;
  matrix.forEach((row, i) =>
    row.forEach((count, j) => {
      total += count;
      if (i === j) right += count;
    }),
  );
  return total === 0 ? Number.NaN : right / total;
}

export interface Mistake {
  /** Index of the example. */
  index: number;
  label: number;
  predicted: number;
  /** Probability given to the predicted (wrong) class. */
  confidence: number;
  /** Probability given to the true class. */
  trueProbability: number;
}

/** The `k` wrong predictions made with the highest confidence, most confident first (ties: lower index first). */
export function mostConfidentMistakes(labels: ArrayLike<number>, probabilities: readonly (readonly number[])[], k: number): Mistake[] {
  if (labels.length !== probabilities.length) throw new Error(`mostConfidentMistakes: ${labels.length} labels but ${probabilities.length} rows of probabilities`);
  const mistakes: Mistake[] = [];
  for (let i = 0; i < labels.length; i++) {
    const row = probabilities[i];
    const predicted = argMax(row);
    if (predicted !== labels[i]) mistakes.push({ index: i, label: labels[i], predicted, confidence: row[predicted], trueProbability: row[labels[i]] ?? 0 });
  }
  mistakes.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return mistakes.slice(0, Math.max(0, k));
}

/** Rows `indices` of a flat image array (`size` values each), packed one after another. */
export function pickImages(images: Float32Array, indices: readonly number[], size = MNIST_SIDE * MNIST_SIDE): Float32Array {
  const out = new Float32Array(indices.length * size);
  indices.forEach((index, i) => out.set(images.subarray(index * size, (index + 1) * size), i * size));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A user's own digit image.

/** A picture of a digit could not be used. Names the file. */
export class DigitImageError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DigitImageError';
  }
}

/** A grayscale image, row-major, values in [0, 1]. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

/** One stage of the preprocessing, to show: its image and what was done. */
export interface PreprocessStage extends GrayImage {
  name: string;
  description: string;
}

export interface PreprocessSteps {
  /** The file's size. */
  original: { width: number; height: number };
  /** Mean of the border pixels of the grayscale image (0 black .. 1 white). */
  borderMean: number;
  /** Whether the image was inverted: a light background means a dark digit on paper. */
  inverted: boolean;
  /** Background level (after inversion) set to 0, and the brightest ink level set to 1. */
  contrast: { background: number; ink: number };
  /** The digit's bounding box in the original image. */
  box: { x: number; y: number; width: number; height: number };
  /** The size the cropped digit was scaled to (longest side 20). */
  scaled: { width: number; height: number };
  /** Centre of mass of the scaled digit, in its own pixel coordinates (pixel i spans [i, i+1)). */
  centreOfMass: { x: number; y: number };
  /** Where the scaled digit's top-left corner was put in the 28 x 28 frame. */
  offset: { x: number; y: number };
  /** Centre of mass of the final image; (14, 14) is the frame's centre. */
  finalCentreOfMass: { x: number; y: number };
  /** The images after each stage, in order. */
  stages: PreprocessStage[];
}

export interface PreprocessedDigit {
  /** 784 values in [0, 1], white digit on black like MNIST. */
  pixels: Float32Array;
  steps: PreprocessSteps;
}

export interface PreprocessOptions {
  /** Names the image in errors when bytes are given (default "PNG data"). */
  name?: string;
  /** Pixels (after contrast stretching) above this count as ink for the bounding box; default 0.1. */
  inkThreshold?: number;
  /** Size limits checked before decoding (default `DIGIT_IMAGE_LIMITS`). */
  limits?: Partial<DigitImageLimits>;
}

export interface DigitImageLimits {
  /** Largest width or height, in pixels. */
  maxSide: number;
  /** Largest width x height. */
  maxPixels: number;
  /** Largest file, in bytes. */
  maxFileBytes: number;
}

/**
 * Digit images are checked against these before decoding, from the file size and the PNG header:
 * a phone photo (12 megapixels) passes, while a 20,000 x 20,000 image, which would take gigabytes
 * once decoded, fails at once with an error.
 */
export const DIGIT_IMAGE_LIMITS: Readonly<DigitImageLimits> = { maxSide: 8192, maxPixels: 4096 * 4096, maxFileBytes: 64 * 2 ** 20 };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const IHDR_END = PNG_SIGNATURE.length + 8 + 13;
const thousands = (n: number) => n.toLocaleString('en-US');

/** Checks the PNG signature and header (IHDR) against `limits` before anything is decoded. */
function checkPngHeader(bytes: Uint8Array, file: string, limits: DigitImageLimits): void {
  if (bytes.length > limits.maxFileBytes) throw new DigitImageError(file, `the file is ${thousands(bytes.length)} bytes; the limit is ${thousands(limits.maxFileBytes)} bytes`);
  if (bytes.length < PNG_SIGNATURE.length || !Buffer.from(bytes.subarray(0, 8)).equals(PNG_SIGNATURE)) {
    throw new DigitImageError(file, bytes.length === 0 ? 'the file is empty, not a PNG image' : 'not a PNG image (the PNG signature is missing); save the drawing as .png');
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < IHDR_END) throw new DigitImageError(file, `truncated PNG image: the file ends inside its header (${view.length} bytes); save the image again`);
  if (view.readUInt32BE(8) !== 13 || view.toString('latin1', 12, 16) !== 'IHDR') throw new DigitImageError(file, 'corrupt PNG image: it does not start with an image header (IHDR chunk)');
  const width = view.readUInt32BE(16);
  const height = view.readUInt32BE(20);
  if (width === 0 || height === 0) throw new DigitImageError(file, 'the image has no pixels');
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new DigitImageError(
      file,
      `the image is ${thousands(width)} x ${thousands(height)} pixels; the limit is ${thousands(limits.maxSide)} pixels a side and ${thousands(limits.maxPixels)} pixels in all: scale it down (a digit needs a few hundred pixels a side)`,
    );
  }
}

function readPng(bytes: Uint8Array, file: string, limits: DigitImageLimits): PNG {
  checkPngHeader(bytes, file, limits);
  try {
    return PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    // Every PNG ends with an IEND chunk: without one near the end, the file was cut short.
    const truncated = !Buffer.from(bytes.subarray(Math.max(0, bytes.length - 64))).includes('IEND');
    const problem = truncated ? 'truncated PNG image: the file ends before the image does (no IEND chunk); save the image again' : 'cannot decode the PNG image';
    throw new DigitImageError(file, `${problem} (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function rgbaToGray(rgba: Uint8Array, width: number, height: number): Float32Array {
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const a = rgba[4 * i + 3] / 255;
    const lum = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    gray[i] = lum * a + (1 - a);
  }
  return gray;
}

function borderMean(image: GrayImage): number {
  const { width, height, pixels } = image;
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y === 0 || y === height - 1 || x === 0 || x === width - 1) {
        sum += pixels[y * width + x];
        count++;
      }
    }
  }
  return sum / count;
}

/**
 * Resamples by area averaging: each output pixel is the mean of the source area it covers
 * (exact for shrinking, and a box filter when enlarging).
 */
export function resizeArea(image: GrayImage, width: number, height: number): GrayImage {
  const out = new Float32Array(width * height);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let oy = 0; oy < height; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < width; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let sum = 0;
      for (let y = Math.floor(y0); y < Math.min(image.height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        if (wy <= 0) continue;
        for (let x = Math.floor(x0); x < Math.min(image.width, Math.ceil(x1)); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          if (wx > 0) sum += wx * wy * image.pixels[y * image.width + x];
        }
      }
      out[oy * width + ox] = sum / (sx * sy);
    }
  }
  return { width, height, pixels: out };
}

/** Centre of mass of the pixel values, in continuous coordinates (pixel i spans [i, i+1)); null for an all-zero image. */
export function centreOfMass(image: GrayImage): { x: number; y: number } | null {
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const v = image.pixels[y * image.width + x];
      total += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return total > 0 ? { x: sx / total, y: sy / total } : null;
}

function crop(image: GrayImage, box: { x: number; y: number; width: number; height: number }): GrayImage {
  const pixels = new Float32Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    pixels.set(image.pixels.subarray((box.y + y) * image.width + box.x, (box.y + y) * image.width + box.x + box.width), y * box.width);
  }
  return { width: box.width, height: box.height, pixels };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const round2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Turns a PNG picture of one digit into an MNIST-like input, the way MNIST was made:
 * 1. decode (any PNG colour type; transparent areas are composited over white);
 * 2. grayscale by luminance;
 * 3. invert when the border is light (MNIST is a white digit on black);
 * 4. stretch the contrast: background 0, the brightest ink 1;
 * 5. crop to the digit's bounding box;
 * 6. scale the longest side to 20 pixels, keeping the aspect ratio (area averaging);
 * 7. put it in a 28 x 28 frame so that its centre of mass is at the centre.
 * `steps` records each stage for display.
 */
export function preprocessDigitImage(pngBytesOrPath: Uint8Array | string, options: PreprocessOptions = {}): PreprocessedDigit {
  let file = options.name ?? 'PNG data';
  const limits = { ...DIGIT_IMAGE_LIMITS, ...options.limits };
  let bytes: Uint8Array;
  if (typeof pngBytesOrPath === 'string') {
    file = pngBytesOrPath;
    try {
      // The size first: a huge file is refused without being read.
      const size = statSync(pngBytesOrPath).size;
      if (size > limits.maxFileBytes) throw new DigitImageError(file, `the file is ${thousands(size)} bytes; the limit is ${thousands(limits.maxFileBytes)} bytes`);
      bytes = readFileSync(pngBytesOrPath);
    } catch (error) {
      if (error instanceof DigitImageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new DigitImageError(file, code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a PNG file' : `cannot be read (${(error as Error).message})`);
    }
  } else {
    bytes = pngBytesOrPath;
  }
  const png = readPng(bytes, file, limits);
  const { width, height } = png;
  if (width === 0 || height === 0) throw new DigitImageError(file, 'the image has no pixels');
  const stages: PreprocessStage[] = [];
  const grayscale: GrayImage = { width, height, pixels: rgbaToGray(png.data, width, height) };
  stages.push({ name: 'grayscale', description: `the ${width} x ${height} picture in gray levels (transparency over white)`, ...grayscale });

  const border = borderMean(grayscale);
  const inverted = border > 0.5;
  const light: GrayImage = { width, height, pixels: inverted ? grayscale.pixels.map((v) => 1 - v) : grayscale.pixels.slice() };
  stages.push({
    name: inverted ? 'inverted' : 'not inverted',
    description: inverted ? `light background (border mean ${round2(border)}): inverted to a light digit on black` : `dark background (border mean ${round2(border)}): kept as is`,
    ...light,
  });

  const background = borderMean(light);
  let ink = 0;
  for (const v of light.pixels) if (v > ink) ink = v;
  if (ink - background < 0.05) {
    throw new DigitImageError(file, `no digit found: the image is blank (gray levels ${round2(background)} to ${round2(ink)}); draw a digit darker or lighter than its background`);
  }
  const stretched: GrayImage = { width, height, pixels: light.pixels.map((v) => clamp01((v - background) / (ink - background))) };
  stages.push({ name: 'contrast', description: `background level ${round2(background)} set to 0, brightest ink ${round2(ink)} to 1`, ...stretched });

  const threshold = options.inkThreshold ?? 0.1;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (stretched.pixels[y * width + x] > threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) throw new DigitImageError(file, 'no digit found: no pixel stands out from the background');
  const box = { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  // Below the threshold is background: zero it, so faint noise does not move the centre of mass.
  const cropped = crop(stretched, box);
  cropped.pixels = cropped.pixels.map((v) => (v > threshold ? v : 0));
  stages.push({ name: 'cropped', description: `cropped to the digit's bounding box, ${box.width} x ${box.height} at (${box.x}, ${box.y})`, ...cropped });

  const longest = Math.max(box.width, box.height);
  const scale = MNIST_DIGIT_BOX / longest;
  const scaledWidth = Math.max(1, Math.min(MNIST_DIGIT_BOX, Math.round(box.width * scale)));
  const scaledHeight = Math.max(1, Math.min(MNIST_DIGIT_BOX, Math.round(box.height * scale)));
  const scaled = resizeArea(cropped, scaledWidth, scaledHeight);
  scaled.pixels = scaled.pixels.map(clamp01);
  stages.push({ name: 'scaled', description: `longest side scaled to ${MNIST_DIGIT_BOX} pixels: ${scaledWidth} x ${scaledHeight}`, ...scaled });

  const com = centreOfMass(scaled) ?? { x: scaledWidth / 2, y: scaledHeight / 2 };
  const centre = MNIST_SIDE / 2;
  const place = (c: number, size: number) => Math.min(MNIST_SIDE - size, Math.max(0, Math.round(centre - c)));
  const offset = { x: place(com.x, scaledWidth), y: place(com.y, scaledHeight) };
  const pixels = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let y = 0; y < scaledHeight; y++) {
    pixels.set(scaled.pixels.subarray(y * scaledWidth, (y + 1) * scaledWidth), (offset.y + y) * MNIST_SIDE + offset.x);
  }
  const final: GrayImage = { width: MNIST_SIDE, height: MNIST_SIDE, pixels };
  const finalCom = centreOfMass(final)!;
  stages.push({
    name: 'centred',
    description: `put in a 28 x 28 frame with its centre of mass at (${round2(finalCom.x)}, ${round2(finalCom.y)}); the centre is (14, 14)`,
    ...final,
  });

  return {
    pixels,
    steps: {
      original: { width, height },
      borderMean: border,
      inverted,
      contrast: { background, ink },
      box,
      scaled: { width: scaledWidth, height: scaledHeight },
      centreOfMass: com,
      offset,
      finalCentreOfMass: finalCom,
      stages,
    },
  };
}
