import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { after, before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { EVAL_CHUNK } from '../../src/core/accuracy';
import { makeConfig } from '../../src/core/config';
import { createParams, disposeParams, forward } from '../../src/core/model';
import { DigitImageError, preprocessDigitImage } from '../../src/predict/digit-image';
import { centreOfMass, resizeArea, rgbaToGray } from '../../src/predict/digit-preprocess';
import {
  confusionMatrix,
  matrixAccuracy,
  mostConfidentMistakes,
  perClassAccuracy,
  pickImages,
  predict,
  predictedClasses,
} from '../../src/predict/predict';
import { packageRoot } from '../../src/util/package-root';

const root = packageRoot();
const FIXTURE = join(root, 'test', 'fixtures', 'digit-7.png');

let scratch: string;

before(async () => {
  await setupBackend('cpu');
  scratch = await mkdtemp(join(tmpdir(), 'mnist-predict-'));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('predict', () => {
  it('gives softmax probabilities of the evaluated model, in chunks, without leaking tensors', () => {
    const config = makeConfig({ layer1Node: 12 });
    const params = createParams(config);
    const count = EVAL_CHUNK + 500; // more than one chunk
    const images = new Float32Array(count * 784).map((_, i) => ((i * 7919) % 1000) / 1000);
    const before = tf.memory().numTensors;
    const probabilities = predict(params, images, count);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(probabilities.length, count);
    for (const row of [probabilities[0], probabilities[EVAL_CHUNK + 100]]) {
      assert.equal(row.length, 10);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      assert.ok(row.every((p) => p >= 0 && p <= 1));
    }
    const logits = tf.tidy(() =>
      tf
        .softmax(
          forward(
            tf.tensor2d(images.subarray((EVAL_CHUNK + 100) * 784, (EVAL_CHUNK + 101) * 784), [1, 784]),
            params,
            null,
          ),
        )
        .dataSync(),
    );
    probabilities[EVAL_CHUNK + 100].forEach((p, i) => assert.ok(Math.abs(p - logits[i]) < 1e-6));
    assert.deepEqual(
      predictedClasses([
        [0.1, 0.7, 0.2],
        [0.5, 0.2, 0.3],
      ]),
      [1, 0],
    );
    assert.equal(predict(params, images, 0).length, 0);
    assert.throws(() => predict(params, images.subarray(0, 100), 1), /need 784 values, got 100/);
    disposeParams(params);
  });

  it('uses the activation it is given', () => {
    const config = makeConfig({ layer1Node: 12, initBias: -0.5 });
    const params = createParams(config);
    const image = new Float32Array(784).fill(0.01);
    const relu = predict(params, image, 1, 'relu')[0];
    const linear = predict(params, image, 1, 'linear')[0];
    assert.notDeepEqual(relu, linear);
    disposeParams(params);
  });
});

describe('confusion matrix and accuracy', () => {
  const labels = [0, 0, 1, 1, 1, 2, 2, 2, 2];
  const predictions = [0, 1, 1, 1, 2, 2, 2, 0, 2];

  it('counts (true, predicted) pairs: rows are true classes', () => {
    assert.deepEqual(confusionMatrix(labels, predictions, 3), [
      [1, 1, 0],
      [0, 2, 1],
      [1, 0, 3],
    ]);
    const ten = confusionMatrix(Uint8Array.from([3, 3, 9]), [3, 5, 9]);
    assert.equal(ten.length, 10);
    assert.equal(ten[3][5], 1);
    assert.equal(
      ten.flat().reduce((a, b) => a + b, 0),
      3,
    );
  });

  it('rejects mismatched lengths and out-of-range classes', () => {
    assert.throws(() => confusionMatrix([1, 2], [1], 3), /2 labels but 1 predictions/);
    assert.throws(() => confusionMatrix([1, 3], [1, 1], 3), /label 3 at index 1 is not a class 0-2/);
    assert.throws(() => confusionMatrix([1], [-1], 3), /prediction -1 at index 0/);
  });

  it('gives per-class accuracy (NaN for an absent class) and overall accuracy', () => {
    const matrix = confusionMatrix(labels, predictions, 4);
    const accuracy = perClassAccuracy(matrix);
    assert.deepEqual(accuracy.slice(0, 3), [1 / 2, 2 / 3, 3 / 4]);
    assert.ok(Number.isNaN(accuracy[3]));
    assert.equal(matrixAccuracy(matrix), 6 / 9);
  });

  it('lists the most confident mistakes first', () => {
    const probs = [
      [0.9, 0.1, 0], // right
      [0.2, 0.7, 0.1], // wrong, 0.7
      [0.05, 0.05, 0.9], // wrong, 0.9
      [0.6, 0.3, 0.1], // wrong, 0.6
      [0.1, 0.2, 0.7], // wrong, 0.7 (tie with index 1)
    ];
    const mistakes = mostConfidentMistakes([0, 0, 1, 2, 0], probs, 3);
    assert.deepEqual(
      mistakes.map((m) => [m.index, m.label, m.predicted, m.confidence]),
      [
        [2, 1, 2, 0.9],
        [1, 0, 1, 0.7],
        [4, 0, 2, 0.7],
      ],
    );
    assert.equal(mistakes[0].trueProbability, 0.05);
    assert.equal(mostConfidentMistakes([0, 0, 1, 2, 0], probs, 10).length, 4);
    assert.deepEqual(mostConfidentMistakes([0], [[1, 0]], 5), []);
  });

  it('picks images by index', () => {
    const images = Float32Array.from({ length: 3 * 4 }, (_, i) => i);
    assert.deepEqual(Array.from(pickImages(images, [2, 0], 4)), [8, 9, 10, 11, 0, 1, 2, 3]);
  });
});

/** A PNG with `draw(x, y)` giving RGBA for each pixel. */
function pngBytes(
  width: number,
  height: number,
  draw: (x: number, y: number) => [number, number, number, number],
  colorType: 0 | 2 | 4 | 6 = 6,
): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) png.data.set(draw(x, y), (y * width + x) * 4);
  }
  return PNG.sync.write(png, { colorType, inputColorType: 6 });
}

function stats(pixels: Float32Array) {
  let min = Infinity;
  let max = -Infinity;
  let ink = 0;
  for (const v of pixels) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    if (v > 0.5) ink++;
  }
  return { min, max, ink };
}

describe('preprocessDigitImage', () => {
  it('turns the dark-on-light fixture into a centred light-on-dark 28 x 28 digit', () => {
    const { pixels, steps } = preprocessDigitImage(FIXTURE);
    assert.equal(pixels.length, 784);
    const { min, max, ink } = stats(pixels);
    assert.ok(min >= 0 && max <= 1, `values in [0, 1], got ${min}..${max}`);
    assert.equal(max, 1, 'the strongest ink is 1');
    assert.ok(ink > 40 && ink < 300, `a real digit, not a blob or nothing: ${ink} ink pixels`);
    assert.equal(steps.inverted, true, 'light background: inverted');
    assert.ok(steps.borderMean > 0.8);
    // Corners are background (0) after inversion.
    for (const i of [0, 27, 27 * 28, 783]) assert.equal(pixels[i], 0);
    const com = centreOfMass({ width: 28, height: 28, pixels })!;
    assert.ok(Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5, `centre of mass ${com.x}, ${com.y}`);
    assert.deepEqual(steps.finalCentreOfMass, com);
    // The 7 is 40 x 60 pixels in the file: scaled to 13 x 20, the longest side 20.
    assert.deepEqual(steps.box, { x: 10, y: 10, width: 40, height: 60 });
    assert.deepEqual(steps.scaled, { width: 13, height: 20 });
    assert.deepEqual(steps.original, { width: 64, height: 80 });
    assert.deepEqual(
      steps.stages.map((s) => s.name),
      ['grayscale', 'inverted', 'contrast', 'cropped', 'scaled', 'centred'],
    );
    for (const stage of steps.stages) assert.equal(stage.pixels.length, stage.width * stage.height, stage.name);
    // The top bar of the 7 is in the upper part, its foot lower left of the bar's right end.
    const rowInk = (y: number) => Array.from(pixels.subarray(y * 28, (y + 1) * 28)).reduce((a, b) => a + b, 0);
    const topRow = [...Array(28).keys()].find((y) => rowInk(y) > 0)!;
    assert.ok(rowInk(topRow) + rowInk(topRow + 1) > 15, 'the bar of the 7 is a wide first row of ink');
  });

  it('reads the same digit from bytes', () => {
    const fromPath = preprocessDigitImage(FIXTURE).pixels;
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    assert.deepEqual(preprocessDigitImage(bytes).pixels, fromPath);
  });

  it('composites a transparent RGBA image over white, then inverts it', () => {
    // A black vertical bar, opaque, on a fully transparent (black, alpha 0) background.
    const bytes = pngBytes(40, 40, (x, y) => (x >= 18 && x < 22 && y >= 5 && y < 35 ? [0, 0, 0, 255] : [0, 0, 0, 0]));
    const { pixels, steps } = preprocessDigitImage(bytes);
    assert.equal(steps.inverted, true, 'transparent counts as white paper');
    assert.deepEqual(steps.box, { x: 18, y: 5, width: 4, height: 30 });
    assert.deepEqual(steps.scaled, { width: 3, height: 20 });
    const { min, max } = stats(pixels);
    assert.equal(min, 0);
    assert.equal(max, 1);
    const com = centreOfMass({ width: 28, height: 28, pixels })!;
    assert.ok(Math.abs(com.x - 14) <= 0.5 && Math.abs(com.y - 14) <= 0.5);
    // Rows 4-23 hold the bar (20 tall, centred), the rest is empty.
    assert.equal(pixels[3 * 28 + 14], 0);
    assert.ok(pixels[4 * 28 + 14] > 0.5);
    assert.ok(pixels[23 * 28 + 14] > 0.5);
    assert.equal(pixels[24 * 28 + 14], 0);
  });

  it('keeps a light digit on a dark background as it is, and reads gray PNGs', () => {
    const bytes = pngBytes(
      30,
      20,
      (x, y) => (y >= 8 && y < 12 && x >= 3 && x < 27 ? [220, 220, 220, 255] : [20, 20, 20, 255]),
      0,
    );
    const { pixels, steps } = preprocessDigitImage(bytes);
    assert.equal(steps.inverted, false);
    assert.deepEqual(steps.scaled, { width: 20, height: 3 });
    assert.equal(stats(pixels).max, 1);
    assert.ok(Math.abs(steps.finalCentreOfMass.x - 14) <= 0.5 && Math.abs(steps.finalCentreOfMass.y - 14) <= 0.5);
  });

  it('uses luminance for colours: a red digit on white is ink', () => {
    const bytes = pngBytes(
      20,
      20,
      (x, y) => (x >= 8 && x < 12 && y >= 2 && y < 18 ? [200, 0, 0, 255] : [255, 255, 255, 255]),
      2,
    );
    const { steps } = preprocessDigitImage(bytes);
    assert.equal(steps.inverted, true);
    assert.deepEqual(steps.box, { x: 8, y: 2, width: 4, height: 16 });
    assert.ok(Math.abs(rgbaToGray(Uint8Array.from([200, 0, 0, 255]), 1, 1)[0] - (0.299 * 200) / 255) < 1e-6);
    assert.ok(Math.abs(rgbaToGray(Uint8Array.from([0, 0, 0, 128]), 1, 1)[0] - (1 - 128 / 255)) < 1e-6);
  });

  it('names the file in its errors', async () => {
    const text = join(scratch, 'notes.png');
    await writeFile(text, 'this is not an image');
    assert.throws(
      () => preprocessDigitImage(text),
      (error: Error) => {
        assert.ok(error instanceof DigitImageError);
        assert.equal(
          error.message,
          `${text}: not a PNG image (the PNG signature is missing); save the drawing as .png`,
        );
        return true;
      },
    );
    const empty = join(scratch, 'empty.png');
    await writeFile(empty, '');
    assert.throws(() => preprocessDigitImage(empty), { message: `${empty}: the file is empty, not a PNG image` });
    const truncated = join(scratch, 'truncated.png');
    await writeFile(truncated, readFileSync(FIXTURE).subarray(0, 60));
    assert.throws(
      () => preprocessDigitImage(truncated),
      new RegExp(`${truncated.replace(/\//g, '\\/')}: truncated PNG image`),
    );
    assert.throws(() => preprocessDigitImage(join(scratch, 'missing.png')), /missing\.png: file not found/);
    assert.throws(() => preprocessDigitImage(scratch), /is a folder, not a PNG file/);
    const blank = join(scratch, 'blank.png');
    await writeFile(
      blank,
      pngBytes(10, 10, () => [250, 250, 250, 255]),
    );
    assert.throws(
      () => preprocessDigitImage(blank),
      new RegExp(`${blank.replace(/\//g, '\\/')}: no digit found: the image is blank`),
    );
    assert.throws(
      () => preprocessDigitImage(new Uint8Array([1, 2, 3]), { name: 'upload.png' }),
      /^DigitImageError: upload\.png: not a PNG image/,
    );
  });
});

/** The first 33 bytes of a PNG: its signature and an image header (IHDR) for `width` x `height` RGBA pixels. */
function pngHeader(width: number, height: number): Buffer {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  header.set([8, 6, 0, 0, 0], 24);
  return header;
}

describe('digit images are bounded before decoding', () => {
  it('refuses an image above the size limits from its header alone, naming the file and the limit', () => {
    const start = performance.now();
    // Only a header: decoding was never tried, or the error would be about the missing image data.
    assert.throws(() => preprocessDigitImage(pngHeader(20000, 20000), { name: 'huge.png' }), {
      message:
        'huge.png: the image is 20,000 x 20,000 pixels; the limit is 8,192 pixels a side and 16,777,216 pixels in all: scale it down (a digit needs a few hundred pixels a side)',
    });
    assert.ok(performance.now() - start < 100, 'refused at once');
    assert.throws(
      () => preprocessDigitImage(pngHeader(5000, 4000), { name: 'wide.png' }),
      /^DigitImageError: wide\.png: the image is 5,000 x 4,000 pixels; the limit is/,
    );
    assert.throws(() => preprocessDigitImage(pngHeader(0, 10), { name: 'none.png' }), {
      message: 'none.png: the image has no pixels',
    });
    // A real image within the default limits but above given ones.
    const image = pngBytes(100, 60, (x) => (x > 40 && x < 60 ? [0, 0, 0, 255] : [255, 255, 255, 255]));
    assert.throws(
      () => preprocessDigitImage(image, { name: 'small.png', limits: { maxSide: 64 } }),
      /^DigitImageError: small\.png: the image is 100 x 60 pixels; the limit is 64 pixels a side/,
    );
    assert.throws(
      () => preprocessDigitImage(image, { name: 'small.png', limits: { maxFileBytes: 100 } }),
      new RegExp(`^DigitImageError: small\\.png: the file is ${image.length} bytes; the limit is 100 bytes$`),
    );
    assert.equal(preprocessDigitImage(image, { name: 'small.png' }).pixels.length, 784);
  });

  it('a file above the size limit is refused without being read', async () => {
    const big = join(scratch, 'big.png');
    await writeFile(big, readFileSync(FIXTURE));
    const size = readFileSync(big).length;
    assert.throws(() => preprocessDigitImage(big, { limits: { maxFileBytes: size - 1 } }), {
      message: `${big}: the file is ${size.toLocaleString('en-US')} bytes; the limit is ${(size - 1).toLocaleString('en-US')} bytes`,
    });
  });

  it('truncated and corrupt files give a clear error', () => {
    const fixture = readFileSync(FIXTURE);
    assert.throws(() => preprocessDigitImage(fixture.subarray(0, 20), { name: 'cut.png' }), {
      message: 'cut.png: truncated PNG image: the file ends inside its header (20 bytes); save the image again',
    });
    assert.throws(
      () => preprocessDigitImage(fixture.subarray(0, 60), { name: 'cut.png' }),
      /^DigitImageError: cut\.png: truncated PNG image: the file ends before the image does \(no IEND chunk\); save the image again \(/,
    );
    const renamed = Buffer.from(fixture);
    renamed.write('IHDX', 12, 'latin1');
    assert.throws(() => preprocessDigitImage(renamed, { name: 'odd.png' }), {
      message: 'odd.png: corrupt PNG image: it does not start with an image header (IHDR chunk)',
    });
    const damaged = Buffer.from(fixture);
    damaged.fill(0x55, 40, damaged.length - 20);
    assert.throws(
      () => preprocessDigitImage(damaged, { name: 'damaged.png' }),
      /^DigitImageError: damaged\.png: cannot decode the PNG image \(/,
    );
  });
});

describe('image helpers', () => {
  it('averages areas when shrinking and keeps the mean', () => {
    const image = { width: 4, height: 2, pixels: Float32Array.from([1, 0, 0, 0, 1, 1, 0, 1]) };
    const half = resizeArea(image, 2, 1);
    assert.deepEqual(Array.from(half.pixels), [0.75, 0.25]);
    const third = resizeArea({ width: 3, height: 1, pixels: Float32Array.from([0, 0.3, 0.9]) }, 2, 1);
    assert.ok(Math.abs(third.pixels[0] - (0 + 0.3 * 0.5) / 1.5) < 1e-6);
    assert.ok(Math.abs(third.pixels[1] - (0.3 * 0.5 + 0.9) / 1.5) < 1e-6);
    const up = resizeArea({ width: 1, height: 1, pixels: Float32Array.from([0.4]) }, 3, 2);
    assert.ok(Array.from(up.pixels).every((v) => Math.abs(v - 0.4) < 1e-6));
  });

  it('finds the centre of mass in pixel-area coordinates', () => {
    assert.deepEqual(centreOfMass({ width: 3, height: 1, pixels: Float32Array.from([0, 1, 0]) }), { x: 1.5, y: 0.5 });
    assert.equal(centreOfMass({ width: 2, height: 1, pixels: new Float32Array(2) }), null);
  });
});
