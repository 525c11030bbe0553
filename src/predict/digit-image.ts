/**
 * A user's own picture of a digit (a PNG file or its bytes) made an MNIST-like input: checked
 * against size limits before decoding, decoded, then preprocessed as MNIST was made
 * (src/digit-preprocess.ts, the same code the drawing pad runs in the page).
 */
import { readFileSync, statSync } from 'node:fs';
import { PNG } from 'pngjs';
import { preprocessGray, rgbaToGray, type PreprocessSteps } from './digit-preprocess';
import { PNG_SIGNATURE } from '../util/bytes';
import { errorMessage } from '../util/text';

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

/** A digit image made MNIST-like: the network's 784 inputs and the stages that led there. */
export interface PreprocessedDigit {
  /** 784 values in [0, 1], white digit on black like MNIST. */
  pixels: Float32Array;
  steps: PreprocessSteps;
}

/** Options of `preprocessDigitImage`. */
export interface PreprocessOptions {
  /** Names the image in errors when bytes are given (default "PNG data"). */
  name?: string;
  /** Pixels (after contrast stretching) above this count as ink for the bounding box; default 0.1. */
  inkThreshold?: number;
  /** Size limits checked before decoding (default `DIGIT_IMAGE_LIMITS`). */
  limits?: Partial<DigitImageLimits>;
}

/** The largest digit image `preprocessDigitImage` accepts (a bound on memory, checked before decoding). */
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
export const DIGIT_IMAGE_LIMITS: Readonly<DigitImageLimits> = {
  maxSide: 8192,
  maxPixels: 4096 * 4096,
  maxFileBytes: 64 * 2 ** 20,
};

const IHDR_END = PNG_SIGNATURE.length + 8 + 13;
const thousands = (n: number) => n.toLocaleString('en-US');

/** Checks the PNG signature and header (IHDR) against `limits` before anything is decoded. */
function checkPngHeader(bytes: Uint8Array, file: string, limits: DigitImageLimits): void {
  if (bytes.length > limits.maxFileBytes)
    throw new DigitImageError(
      file,
      `the file is ${thousands(bytes.length)} bytes; the limit is ${thousands(limits.maxFileBytes)} bytes`,
    );
  if (bytes.length < PNG_SIGNATURE.length || !Buffer.from(bytes.subarray(0, 8)).equals(PNG_SIGNATURE)) {
    throw new DigitImageError(
      file,
      bytes.length === 0
        ? 'the file is empty, not a PNG image'
        : 'not a PNG image (the PNG signature is missing); save the drawing as .png',
    );
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < IHDR_END)
    throw new DigitImageError(
      file,
      `truncated PNG image: the file ends inside its header (${view.length} bytes); save the image again`,
    );
  if (view.readUInt32BE(8) !== 13 || view.toString('latin1', 12, 16) !== 'IHDR')
    throw new DigitImageError(file, 'corrupt PNG image: it does not start with an image header (IHDR chunk)');
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
    const problem = truncated
      ? 'truncated PNG image: the file ends before the image does (no IEND chunk); save the image again'
      : 'cannot decode the PNG image';
    throw new DigitImageError(file, `${problem} (${errorMessage(error)})`);
  }
}

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
export function preprocessDigitImage(
  pngBytesOrPath: Uint8Array | string,
  options: PreprocessOptions = {},
): PreprocessedDigit {
  let file = options.name ?? 'PNG data';
  const limits = { ...DIGIT_IMAGE_LIMITS, ...options.limits };
  let bytes: Uint8Array;
  if (typeof pngBytesOrPath === 'string') {
    file = pngBytesOrPath;
    try {
      // The size first: a huge file is refused without being read.
      const size = statSync(pngBytesOrPath).size;
      if (size > limits.maxFileBytes)
        throw new DigitImageError(
          file,
          `the file is ${thousands(size)} bytes; the limit is ${thousands(limits.maxFileBytes)} bytes`,
        );
      bytes = readFileSync(pngBytesOrPath);
    } catch (error) {
      if (error instanceof DigitImageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new DigitImageError(
        file,
        code === 'ENOENT'
          ? 'file not found'
          : code === 'EISDIR'
            ? 'is a folder, not a PNG file'
            : `cannot be read (${(error as Error).message})`,
      );
    }
  } else {
    bytes = pngBytesOrPath;
  }
  const png = readPng(bytes, file, limits);
  const { width, height } = png;
  if (width === 0 || height === 0) throw new DigitImageError(file, 'the image has no pixels');
  const result = preprocessGray(
    { width, height, pixels: rgbaToGray(png.data, width, height) },
    options.inkThreshold ?? 0.1,
  );
  if (result.problem !== undefined) throw new DigitImageError(file, result.problem);
  return { pixels: result.pixels, steps: result.steps };
}
