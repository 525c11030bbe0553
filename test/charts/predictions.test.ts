import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  confusionFigure,
  digitsFigure,
  imagesFigure,
  MISTAKE_COLOR,
  perClassAccuracyFigure,
  probabilitiesFigure,
  type HeatmapTrace,
  type BarTrace,
} from '../../src/charts/predictions';

/** `count` 28 x 28 images, image i filled with i / count. */
function flatImages(count: number): Float32Array {
  const images = new Float32Array(count * 784);
  for (let i = 0; i < count; i++) images.fill(i / count, i * 784, (i + 1) * 784);
  return images;
}

describe('digitsFigure', () => {
  it('draws one grayscale heatmap per digit, titled with the true and predicted labels', () => {
    const fig = digitsFigure(
      flatImages(12),
      [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6],
      [7, 2, 1, 0, 4, 1, 4, 9, 6, 9, 0, 6],
      { columns: 5 },
    );
    assert.equal(fig.data.length, 12);
    for (const trace of fig.data as HeatmapTrace[]) {
      assert.equal(trace.type, 'heatmap');
      assert.equal(trace.z.length, 28);
      assert.equal(trace.z[0].length, 28);
      assert.equal(trace.showscale, false);
      assert.deepEqual([trace.zmin, trace.zmax], [0, 1]);
    }
    const titles = fig.layout.annotations!.map((a) => a.text);
    assert.equal(titles[0], 'true 7<br>predicted 7');
    assert.equal(titles[8], 'true 5<br>predicted 6');
    assert.equal(fig.layout.annotations![8].font?.color, MISTAKE_COLOR, 'a mistake is red');
    assert.notEqual(fig.layout.annotations![0].font?.color, MISTAKE_COLOR);
    // Each image has its own pair of axes; 12 in 5 columns is 3 rows.
    const traces = fig.data as HeatmapTrace[];
    assert.deepEqual([traces[0].xaxis, traces[0].yaxis, traces[11].xaxis, traces[11].yaxis], ['x', 'y', 'x12', 'y12']);
    const layout = fig.layout as unknown as Record<string, { domain: [number, number]; range: [number, number] }>;
    assert.ok(layout.xaxis12 !== undefined && layout.yaxis12 !== undefined);
    assert.deepEqual(layout.yaxis.range, [27.5, -0.5], 'rows top to bottom');
    assert.ok(layout.yaxis12.domain[1] < layout.yaxis6.domain[0], 'the third row is below the second');
    assert.equal(traces[3].z[5][5], 3 / 12, 'the image values are drawn');
    JSON.parse(JSON.stringify(fig));
  });

  it('leaves each title room: no line wider than its image, and space above the image for every line', () => {
    const fig = digitsFigure(flatImages(20), Array<number>(20).fill(7), Array<number>(20).fill(1), { columns: 10 });
    const layout = fig.layout as unknown as Record<string, { domain: [number, number] }>;
    const plotWidth = fig.layout.width! - fig.layout.margin!.l! - fig.layout.margin!.r!;
    const plotHeight = fig.layout.height! - fig.layout.margin!.t! - fig.layout.margin!.b!;
    // 11 px type: at most about 7 px a character; 14 px a line.
    fig.layout.annotations!.forEach((note, i) => {
      const x = layout[`xaxis${i === 0 ? '' : i + 1}`].domain;
      const widest = Math.max(...note.text.split('<br>').map((line) => line.length));
      assert.ok(widest * 7 <= (x[1] - x[0]) * plotWidth + 8, `title ${i} "${note.text}" is wider than its image`);
    });
    // Between the top of the second row's title and the bottom of the first row's image.
    const firstImageBottom = layout.yaxis.domain[0];
    const secondImageTop = layout.yaxis11.domain[1];
    assert.ok((firstImageBottom - secondImageTop) * plotHeight >= 2 * 14, 'two title lines fit between the rows');
  });

  it('takes images as a list, and titles without predictions', () => {
    const image = Array.from({ length: 784 }, (_, i) => (i % 28) / 27);
    const fig = digitsFigure([image, image], [3, 8]);
    assert.equal(fig.data.length, 2);
    assert.deepEqual(
      fig.layout.annotations!.map((a) => a.text),
      ['true 3', 'true 8'],
    );
    assert.equal((fig.data[0] as HeatmapTrace).z[0][27], 1);
  });

  it('rejects mismatched inputs', () => {
    assert.throws(() => digitsFigure(flatImages(3), [1, 2]), /not 2 square images/);
    assert.throws(() => digitsFigure(flatImages(2), [1, 2], [1]), /2 labels but 1 predictions/);
    assert.throws(() => digitsFigure(flatImages(2), []), /no digits/);
    assert.throws(() => digitsFigure(flatImages(2), [1, 2], null, { columns: 0 }), /columns must be a whole number/);
  });
});

describe('imagesFigure', () => {
  it('draws images of any size with their titles', () => {
    const fig = imagesFigure([
      { width: 3, height: 2, pixels: [0, 0.5, 1, 1, 0.5, 0], title: 'a' },
      { width: 28, height: 28, pixels: new Float32Array(784), title: 'b' },
    ]);
    assert.equal(fig.data.length, 2);
    assert.deepEqual((fig.data[0] as HeatmapTrace).z, [
      [0, 0.5, 1],
      [1, 0.5, 0],
    ]);
    assert.throws(
      () => imagesFigure([{ width: 3, height: 3, pixels: [1] }]),
      /image 0 has 1 values, expected 3 x 3 = 9/,
    );
  });
});

describe('confusionFigure', () => {
  it('is one heatmap with the counts as text, true classes down and predicted across', () => {
    const matrix = [
      [5, 1, 0],
      [0, 7, 2],
      [1, 0, 9],
    ];
    const fig = confusionFigure(matrix);
    assert.equal(fig.data.length, 1);
    const trace = fig.data[0] as HeatmapTrace;
    assert.equal(trace.type, 'heatmap');
    assert.deepEqual(trace.text, [
      ['5', '1', '0'],
      ['0', '7', '2'],
      ['1', '0', '9'],
    ]);
    assert.equal(trace.texttemplate, '%{text}');
    assert.deepEqual(trace.x, ['0', '1', '2']);
    assert.equal(trace.z[1][2], 2 / 9, 'coloured by share of the row');
    assert.equal(fig.layout.yaxis?.autorange, 'reversed');
    assert.equal(fig.layout.xaxis?.title?.text, 'predicted class');
    assert.match(fig.layout.title.text, /accuracy 84\.00 %, 4 mistakes of 25/);
    assert.equal((confusionFigure(matrix, { normalizeColors: false }).data[0] as HeatmapTrace).z[1][2], 2);
    assert.equal((confusionFigure(matrix, { hideDiagonalColor: true }).data[0] as HeatmapTrace).z[1][1], null);
    assert.throws(() => confusionFigure([[1, 2]]), /must be square/);
  });
});

describe('bar figures', () => {
  it('draws per-class accuracy in %, the worst class in red, absent classes as gaps', () => {
    const fig = perClassAccuracyFigure([0.99, 0.95, Number.NaN, 0.97]);
    assert.equal(fig.data.length, 1);
    const bars = fig.data[0] as BarTrace;
    assert.equal(bars.type, 'bar');
    assert.deepEqual(bars.x, ['0', '1', '2', '3']);
    assert.deepEqual(bars.y, [99, 95, null, 97]);
    assert.deepEqual(bars.text, ['99.0 %', '95.0 %', 'n/a', '97.0 %']);
    assert.equal((bars.marker!.color as string[])[1], MISTAKE_COLOR);
    assert.deepEqual(fig.layout.yaxis?.range, [93, 100.8]);
  });

  it('draws the probabilities of one image and names the predicted class', () => {
    const fig = probabilitiesFigure([0.01, 0.02, 0.9, 0.07]);
    const bars = fig.data[0] as BarTrace;
    assert.equal(bars.y.length, 4);
    assert.equal(bars.y[2], 90);
    assert.equal(fig.layout.title.text, 'Predicted 2 (90.0 %)');
  });
});
