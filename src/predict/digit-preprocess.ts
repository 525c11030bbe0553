/**
 * Turning a picture of a digit into an MNIST-like 28 x 28 input: pure pixel functions with no
 * imports, shared by the PNG pipeline (`preprocessDigitImage`) and the drawing widget, whose page
 * runs the very same compiled functions (`digitPreprocessSource` gives their text).
 *
 * Every function here may only call the others listed in `EMBEDDED` and the constants `SIDE` and
 * `BOX`: the page gets nothing else. A test evaluates the source on its own to keep it so.
 */

/** The side of an MNIST image and the side of the box its digit is scaled into. */
const SIDE = 28;
const BOX = 20;
export const MNIST_SIDE = SIDE;

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

/** Each stage of preprocessing a digit image, for showing how it became an MNIST-like input. */
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

/** The result of `preprocessGray`: the 784 input values and the steps, or why there is no digit. */
export type GrayPreprocessResult =
  | { pixels: Float32Array; steps: PreprocessSteps; problem?: undefined }
  | { problem: string; pixels?: undefined; steps?: undefined };

/** Grayscale luminance (ITU-R BT.601) of 8-bit RGBA pixels composited over white, in [0, 1]. */
export function rgbaToGray(rgba: ArrayLike<number>, width: number, height: number): Float32Array {
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const a = rgba[4 * i + 3] / 255;
    const lum = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    gray[i] = lum * a + (1 - a);
  }
  return gray;
}

/** Mean of the pixels on the image's border. */
export function borderMean(image: GrayImage): number {
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

/**
 * Centre of mass of the pixel values, in continuous coordinates (pixel i spans [i, i+1)); null for an all-zero image.
 */
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

/** The part of an image inside `box`. */
export function crop(image: GrayImage, box: { x: number; y: number; width: number; height: number }): GrayImage {
  const pixels = new Float32Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    pixels.set(
      image.pixels.subarray((box.y + y) * image.width + box.x, (box.y + y) * image.width + box.x + box.width),
      y * box.width,
    );
  }
  return { width: box.width, height: box.height, pixels };
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Steps 3-7 of the preprocessing (see `preprocessDigitImage`), from a grayscale picture:
 * invert when the border is light, stretch the contrast, crop to the digit, scale its longest
 * side to 20 pixels and centre it by its centre of mass in a 28 x 28 frame. `problem` says why
 * when the picture holds no digit.
 */
export function preprocessGray(grayscale: GrayImage, inkThreshold: number): GrayPreprocessResult {
  const { width, height } = grayscale;
  const stages: PreprocessStage[] = [];
  stages.push({
    name: 'grayscale',
    description: `the ${width} x ${height} picture in gray levels (transparency over white)`,
    ...grayscale,
  });

  const border = borderMean(grayscale);
  const inverted = border > 0.5;
  const light: GrayImage = {
    width,
    height,
    pixels: inverted ? grayscale.pixels.map((v) => 1 - v) : grayscale.pixels.slice(),
  };
  stages.push({
    name: inverted ? 'inverted' : 'not inverted',
    description: inverted
      ? `light background (border mean ${round2(border)}): inverted to a light digit on black`
      : `dark background (border mean ${round2(border)}): kept as is`,
    ...light,
  });

  const background = borderMean(light);
  let ink = 0;
  for (const v of light.pixels) if (v > ink) ink = v;
  if (ink - background < 0.05) {
    return {
      problem: `no digit found: the image is blank (gray levels ${round2(background)} to ${round2(ink)}); draw a digit darker or lighter than its background`,
    };
  }
  const stretched: GrayImage = {
    width,
    height,
    pixels: light.pixels.map((v) => clamp01((v - background) / (ink - background))),
  };
  stages.push({
    name: 'contrast',
    description: `background level ${round2(background)} set to 0, brightest ink ${round2(ink)} to 1`,
    ...stretched,
  });

  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (stretched.pixels[y * width + x] > inkThreshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return { problem: 'no digit found: no pixel stands out from the background' };
  const box = { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  // Below the threshold is background: zero it, so faint noise does not move the centre of mass.
  const cropped = crop(stretched, box);
  cropped.pixels = cropped.pixels.map((v) => (v > inkThreshold ? v : 0));
  stages.push({
    name: 'cropped',
    description: `cropped to the digit's bounding box, ${box.width} x ${box.height} at (${box.x}, ${box.y})`,
    ...cropped,
  });

  const longest = Math.max(box.width, box.height);
  const scale = BOX / longest;
  const scaledWidth = Math.max(1, Math.min(BOX, Math.round(box.width * scale)));
  const scaledHeight = Math.max(1, Math.min(BOX, Math.round(box.height * scale)));
  const scaled = resizeArea(cropped, scaledWidth, scaledHeight);
  scaled.pixels = scaled.pixels.map(clamp01);
  stages.push({
    name: 'scaled',
    description: `longest side scaled to ${BOX} pixels: ${scaledWidth} x ${scaledHeight}`,
    ...scaled,
  });

  const com = centreOfMass(scaled) ?? { x: scaledWidth / 2, y: scaledHeight / 2 };
  const centre = SIDE / 2;
  const place = (c: number, size: number) => Math.min(SIDE - size, Math.max(0, Math.round(centre - c)));
  const offset = { x: place(com.x, scaledWidth), y: place(com.y, scaledHeight) };
  const pixels = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < scaledHeight; y++) {
    pixels.set(scaled.pixels.subarray(y * scaledWidth, (y + 1) * scaledWidth), (offset.y + y) * SIDE + offset.x);
  }
  const final: GrayImage = { width: SIDE, height: SIDE, pixels };
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

/** The whole pipeline from 8-bit RGBA pixels (a canvas's `getImageData`, a decoded PNG). */
export function preprocessRgba(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  inkThreshold: number,
): GrayPreprocessResult {
  return preprocessGray({ width, height, pixels: rgbaToGray(rgba, width, height) }, inkThreshold);
}

/** The functions the page gets, in order. */
const EMBEDDED = [
  rgbaToGray,
  borderMean,
  resizeArea,
  centreOfMass,
  crop,
  clamp01,
  round2,
  preprocessGray,
  preprocessRgba,
];

/**
 * JavaScript source that defines the compiled functions of this module (and `SIDE`, `BOX`) in
 * the scope it is evaluated in: the drawing widget's page runs the same code as Node.
 */
export function digitPreprocessSource(): string {
  return [`var SIDE = ${SIDE}, BOX = ${BOX};`, ...EMBEDDED.map((fn) => fn.toString())].join('\n');
}
