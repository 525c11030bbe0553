import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { PNG } from 'pngjs';
import { digitPreprocessSource, preprocessRgba, type GrayPreprocessResult } from '../../src/predict/digit-preprocess';
import { preprocessDigitImage } from '../../src/predict/digit-image';
import { packageRoot } from '../../src/util/package-root';

const FIXTURE = join(packageRoot(), 'test', 'fixtures', 'digit-7.png');

/** The embedded source, evaluated alone in an empty context as the widget's page does. */
function embedded(): typeof preprocessRgba {
  return runInNewContext(`${digitPreprocessSource()}\npreprocessRgba;`, {
    Float32Array,
    Math,
  }) as typeof preprocessRgba;
}

/** An RGBA picture: a dark ring and a bar on light paper, at a given size and position. */
function picture(width: number, height: number, cx: number, cy: number, r: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4).fill(235);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const ink = Math.abs(d - r) < r / 4 || (Math.abs(x - cx - r) < r / 5 && y > cy) ? 30 : 235;
      rgba.fill(ink, 4 * (y * width + x), 4 * (y * width + x) + 3);
    }
  }
  return rgba;
}

describe('digitPreprocessSource', () => {
  it('runs on its own and gives the same pixels and steps as the module', () => {
    const page = embedded();
    const cases: [Uint8Array, number, number][] = [
      [picture(120, 90, 40, 35, 20), 120, 90],
      [picture(33, 61, 16, 20, 9), 33, 61],
      [picture(280, 280, 200, 60, 50), 280, 280],
    ];
    const png = PNG.sync.read(readFileSync(FIXTURE));
    cases.push([new Uint8Array(png.data), png.width, png.height]);
    for (const [rgba, width, height] of cases) {
      const ours = preprocessRgba(rgba, width, height, 0.1);
      const theirs: GrayPreprocessResult = page(rgba, width, height, 0.1);
      assert.equal(theirs.problem, undefined);
      assert.deepEqual(Array.from(theirs.pixels!), Array.from(ours.pixels!));
      assert.deepEqual(
        JSON.parse(JSON.stringify({ ...theirs.steps, stages: theirs.steps!.stages.map((s) => s.description) })),
        JSON.parse(JSON.stringify({ ...ours.steps, stages: ours.steps!.stages.map((s) => s.description) })),
      );
    }
    // The PNG pipeline is the same code.
    assert.deepEqual(
      Array.from(preprocessDigitImage(FIXTURE).pixels),
      Array.from(page(new Uint8Array(png.data), png.width, png.height, 0.1).pixels!),
    );
  });

  it('says why a blank picture holds no digit', () => {
    const blank = new Uint8Array(40 * 40 * 4).fill(255);
    assert.match(embedded()(blank, 40, 40, 0.1).problem ?? '', /^no digit found: the image is blank/);
    assert.equal(preprocessRgba(blank, 40, 40, 0.1).problem, embedded()(blank, 40, 40, 0.1).problem);
  });
});
