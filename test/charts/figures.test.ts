import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracyFigure,
  allRunFigures,
  columnLegendHeight,
  COLORS,
  compareFigure,
  gradientFigure,
  GROUP_DASHES,
  learningRateFigure,
  lossFigure,
  METRICS,
  legendRows,
  smooth,
  wrapTitle,
  type Figure,
  type Metric,
} from '../../src/charts/figures';
import { REPORTED_ACCURACY } from '../../src/charts/reference';
import {
  CROSS_ENTROPY,
  EVAL_STEPS,
  LEARNING_RATE,
  makeHistory,
  MEAN_ABS_GRADIENT,
  STEPS,
  TEST,
  TOTAL_LOSS,
  VALIDATION,
} from './histories';

const names = (fig: Figure) => fig.data.map((t) => t.name);

/** The hand-made history with its three evaluations spread to steps 0, last / 2 and last. */
function reaching(last: number) {
  const history = makeHistory();
  history.evaluations = history.evaluations.map((e, i) => ({ ...e, step: (i * last) / 2 }));
  return history;
}
const percents = (fractions: number[]) => fractions.map((f) => f * 100);

function assertClose(actual: readonly (number | null)[], expected: readonly number[], tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  actual.forEach((value, i) => {
    assert.ok(value !== null && Math.abs(value - expected[i]) <= tolerance, `element ${i}: ${value} != ${expected[i]}`);
  });
}

describe('smooth', () => {
  it('is debiased exponential smoothing: the first point is the first value', () => {
    // w = 0.5: averages 5, 3 debiased by 1 - 0.5, 1 - 0.25.
    assertClose(smooth([10, 1], 0.5), [10, 4]);
    assertClose(smooth([10, 1, 1], 0.5), [10, 4, (0.5 * 3 + 0.5 * 1) / (1 - 0.125)]);
    const values = [3.5, 2, 8, 1];
    assert.equal(smooth(values, 0.9)[0], 3.5);
  });

  it('weight 0 returns a copy; no values give none', () => {
    const values = [5, 1, 4, 0.1, 3e-7];
    const smoothed = smooth(values, 0);
    assert.deepEqual(smoothed, values);
    assert.notEqual(smoothed, values);
    assert.deepEqual(smooth([], 0.9), []);
  });

  it('has no cliff where a large early value would leave a window', () => {
    // One large loss, then a plateau: a 20-point trailing average drops by 0.45 at once at point 20.
    const values = [10, ...Array<number>(59).fill(1)];
    const smoothed = smooth(values, 0.9);
    const drops = smoothed.slice(1).map((v, i) => smoothed[i] - v);
    for (let i = 1; i < drops.length; i++)
      assert.ok(
        drops[i] >= 0 && drops[i] <= drops[i - 1] + 1e-12,
        `drop ${i + 1} (${drops[i]}) exceeds the one before (${drops[i - 1]})`,
      );
    // It tends to the plateau.
    assert.ok(Math.abs(smoothed.at(-1)! - 1) < 0.01);
    // A step function: smoothed values stay between the two levels and fall steadily.
    const step = smooth([...Array<number>(20).fill(5), ...Array<number>(40).fill(1)], 0.8);
    assert.ok(step.every((v, i) => v <= 5 + 1e-12 && v >= 1 - 1e-12 && (i === 0 || v <= step[i - 1] + 1e-12)));
    assertClose(step.slice(0, 20), Array<number>(20).fill(5), 1e-12);
  });

  it('leaves non-finite values as gaps that do not count', () => {
    const result = smooth([1, Number.NaN, 3], 0.5);
    assert.ok(Number.isNaN(result[1]));
    assertClose([result[0], result[2]], [1, (0.25 * 1 + 0.5 * 3) / (1 - 0.25)]);
    assert.ok(Number.isNaN(smooth([Number.POSITIVE_INFINITY], 0.5)[0]));
  });

  it('rejects a weight outside [0, 1), and says what a window of points was', () => {
    for (const weight of [-0.1, 1, 1.5, Number.NaN])
      assert.throws(() => smooth([1, 2], weight), /smoothing is a weight in \[0, 1\)/);
    assert.throws(() => smooth([1, 2], 20), /no longer a window of points: 20 points is about 0\.90/);
  });
});

describe('legend room', () => {
  it('counts the rows a bottom legend wraps into in a side-by-side chart, and leaves room for them and its title', () => {
    assert.equal(legendRows(['validation', 'test', 'tutorial (reported)']), 1);
    assert.equal(legendRows(['moving average (the tutorial)', 'live parameters', 'tutorial (reported)']), 2);
    assert.equal(legendRows(['x'.repeat(80)]), 1, 'a long entry still takes one row');
    const runs = ['learning rate 0.1', 'learning rate 0.8', 'learning rate 2.0'].map((name, i) => ({
      name,
      history: makeHistory({ scale: i + 1 }),
    }));
    const plain = compareFigure(runs, 'crossEntropy');
    const smoothed = compareFigure(runs, 'crossEntropy', { smoothing: 0.9 });
    // The title goes above the entries (beside them it pushed the last entry out of the chart).
    assert.deepEqual(smoothed.layout.legend?.title, { text: 'smoothed (0.9)', side: 'top' });
    assert.ok(smoothed.layout.margin!.b! > plain.layout.margin!.b!, 'room for the legend title');
    const twoRows = compareFigure(
      [
        { name: 'moving average (the tutorial)', history: reaching(3000) },
        { name: 'live parameters', history: reaching(3000) },
      ],
      'validationAccuracy',
      { reference: true },
    );
    assert.equal(twoRows.data.length, 3);
    assert.ok(twoRows.layout.margin!.b! > accuracyFigure(makeHistory()).layout.margin!.b!, 'room for a second row');
  });
});

describe('wrapTitle', () => {
  it('leaves a short title alone and breaks a long one into even lines at spaces', () => {
    assert.equal(wrapTitle('Training loss'), 'Training loss');
    assert.equal(
      wrapTitle('Mean absolute gradient: tutorial run (300 steps)'),
      'Mean absolute gradient:<br>tutorial run (300 steps)',
    );
    const long = 'Validation and test accuracy: a run with a rather long name of many words (30,000 steps)';
    const lines = wrapTitle(long).split('<br>');
    assert.equal(lines.join(' '), long);
    assert.ok(
      lines.every((line) => line.length <= 44),
      JSON.stringify(lines),
    );
    assert.equal(
      wrapTitle('a<br>b c d e f g h i j k l m n o p q r s t u v w x y z'),
      'a<br>b c d e f g h i j k l m n o p q r s t u v w x y z',
    );
    const markup = 'A title with <a href="https://example.com/a/long/path">a link</a> in it';
    assert.equal(wrapTitle(markup), markup, 'no break inside a tag');
  });

  it('wraps the automatic titles of the charts and makes room above the plot for them', () => {
    const fig = accuracyFigure({ name: 'tutorial run (2,355 of 30,000 steps)', history: makeHistory() });
    assert.equal(fig.layout.title.text, 'Validation and test accuracy:<br>tutorial run (2,355 of 30,000 steps)');
    assert.ok(fig.layout.margin!.t! > accuracyFigure(makeHistory()).layout.margin!.t!);
  });
});

describe('reference', () => {
  it('holds the 31 reported points, every 1,000 steps from 0 to 30,000', () => {
    assert.equal(REPORTED_ACCURACY.length, 31);
    REPORTED_ACCURACY.forEach((p, i) => assert.equal(p.step, i * 1000));
    assert.equal(REPORTED_ACCURACY[0].accuracyPercent, 9.20000001788);
    assert.equal(REPORTED_ACCURACY[15].accuracyPercent, 98.4200000763);
    assert.equal(REPORTED_ACCURACY[30].accuracyPercent, 98.3900010586);
    assert.ok(Object.isFrozen(REPORTED_ACCURACY) && Object.isFrozen(REPORTED_ACCURACY[0]));
  });
});

describe('accuracyFigure', () => {
  it('draws validation and test accuracy in percent against the step', () => {
    const fig = accuracyFigure(makeHistory());
    assert.deepEqual(names(fig), ['validation', 'test']);
    assert.deepEqual(fig.data[0].x, EVAL_STEPS);
    assert.deepEqual(fig.data[0].y, percents(VALIDATION));
    assert.deepEqual(fig.data[1].y, percents(TEST));
    assert.equal(fig.layout.xaxis.title.text, 'training step');
    assert.equal(fig.layout.yaxis.title.text, 'accuracy (%)');
    assert.equal(fig.layout.yaxis.type, 'linear');
    assert.ok(fig.layout.title.text.length > 0);
    for (const trace of fig.data) assert.equal(trace.type, 'scatter');
  });

  it('keeps the test set out of sight with testAccuracy: false', () => {
    const fig = accuracyFigure(makeHistory(), { testAccuracy: false });
    assert.deepEqual(names(fig), ['validation']);
    assert.match(fig.layout.title.text, /^Validation accuracy/);
  });

  it('adds the tutorial reported curve as a dashed trace with reference: true', () => {
    const fig = accuracyFigure(reaching(30_000), { reference: true });
    assert.equal(fig.data.length, 3);
    const reference = fig.data[2];
    assert.equal(reference.name, 'tutorial (reported)');
    assert.equal(reference.line?.dash, 'dash');
    assert.deepEqual(
      reference.x,
      REPORTED_ACCURACY.map((p) => p.step),
    );
    assert.deepEqual(
      reference.y,
      REPORTED_ACCURACY.map((p) => p.accuracyPercent),
    );
  });

  it('draws the reference over the steps the runs reached only, and not at all before its second point', () => {
    // A run interrupted at step 2,355: the reference must not stretch the axis to 30,000.
    const stopped = reaching(2355);
    const reference = accuracyFigure(stopped, { reference: true }).data[2];
    assert.deepEqual(reference.x, [0, 1000, 2000]);
    assert.deepEqual(
      reference.y,
      REPORTED_ACCURACY.slice(0, 3).map((p) => p.accuracyPercent),
    );
    // Recorded steps count too (the last evaluation may lie further back).
    const recorded = reaching(900);
    recorded.steps.push({ ...recorded.steps[0], step: 1500 });
    assert.deepEqual(accuracyFigure(recorded, { reference: true }).data[2].x, [0, 1000]);
    assert.deepEqual(names(accuracyFigure(reaching(999), { reference: true })), ['validation', 'test']);
    assert.deepEqual(names(compareFigure(reaching(500), 'validationAccuracy', { reference: true })), ['run']);
  });

  it('overlays several runs, naming the traces after the runs', () => {
    const fig = accuracyFigure(
      [
        { name: 'lr 0.8', history: reaching(30_000) },
        { name: 'lr 0.1', history: makeHistory() },
      ],
      { reference: true },
    );
    assert.deepEqual(names(fig), [
      'lr 0.8: validation',
      'lr 0.8: test',
      'lr 0.1: validation',
      'lr 0.1: test',
      'tutorial (reported)',
    ]);
    assert.equal(fig.layout.showlegend, true);
    // One colour per run; the test trace dotted.
    assert.equal(fig.data[0].line?.color, fig.data[1].line?.color);
    assert.notEqual(fig.data[0].line?.color, fig.data[2].line?.color);
    assert.equal(fig.data[1].line?.dash, 'dot');
  });

  it('names bare histories run 1, run 2, ... in overlays, and puts a single run name in the title', () => {
    assert.deepEqual(names(accuracyFigure([makeHistory(), makeHistory()])), [
      'run 1: validation',
      'run 1: test',
      'run 2: validation',
      'run 2: test',
    ]);
    const single = accuracyFigure({ name: 'baseline', history: makeHistory() });
    assert.deepEqual(names(single), ['validation', 'test']);
    assert.match(single.layout.title.text, /baseline/);
  });

  it('takes a title and a y range', () => {
    const fig = accuracyFigure(makeHistory(), { title: 'Mine', yRange: [70, 100] });
    assert.equal(fig.layout.title.text, 'Mine');
    assert.deepEqual(fig.layout.yaxis.range, [70, 100]);
  });

  it('zoomed (a y range): no line leaves the plot area, and the step axis starts where the data enter it', () => {
    // Validation 12.5, 75, 87.5 % and test 6.25, 50, 81.25 % at steps 0, 25, 50.
    const fig = accuracyFigure(makeHistory(), { yRange: [70, 100] });
    assert.deepEqual(fig.data[0].y, [null, 75, 87.5]);
    assert.deepEqual(fig.data[1].y, [null, null, 81.25]);
    for (const trace of fig.data) for (const y of trace.y) assert.ok(y === null || (y >= 70 && y <= 100));
    const [start, end] = fig.layout.xaxis.range!;
    assert.ok(start > 0 && start <= 25 && end >= 50, `x range ${start}-${end}`);
    assert.equal(fig.layout.xaxis.rangemode, undefined);
    // Without a y range, the axis is left to Plotly from 0.
    assert.equal(accuracyFigure(makeHistory()).layout.xaxis.range, undefined);
    // On a log axis the window is in data units too.
    const loss = lossFigure(makeHistory(), { logY: true, yRange: [0.35, 1] });
    assert.deepEqual(loss.data[0].y, [null, null, 0.7, 0.5, 0.4, null]);
  });
});

describe('lossFigure', () => {
  it('draws the mean cross-entropy and the total loss per recorded step', () => {
    const fig = lossFigure(makeHistory());
    assert.deepEqual(names(fig), ['mean cross-entropy', 'total loss']);
    assert.deepEqual(fig.data[0].x, STEPS);
    assert.deepEqual(fig.data[0].y, CROSS_ENTROPY);
    assert.deepEqual(fig.data[1].y, TOTAL_LOSS);
    assert.match(fig.layout.yaxis.title.text, /loss/);
    assert.equal(fig.layout.yaxis.type, 'linear');
  });

  it('smooths with the given weight, and says so in the legend', () => {
    const fig = lossFigure(makeHistory(), { smoothing: 0.9 });
    assertClose(fig.data[0].y, smooth(CROSS_ENTROPY, 0.9));
    assertClose(fig.data[1].y, smooth(TOTAL_LOSS, 0.9));
    assert.equal(fig.layout.legend?.title?.text, 'smoothed (0.9)');
    assert.equal(fig.layout.title.text, 'Training loss');
    const raw = lossFigure(makeHistory(), { smoothing: 0 });
    assert.deepEqual(raw.data[0].y, CROSS_ENTROPY);
    assert.equal(raw.layout.legend?.title, undefined);
  });

  it('uses a log axis on request; gaps for values it cannot draw', () => {
    const history = makeHistory();
    history.steps[1].crossEntropy = Number.NaN;
    history.steps[2].crossEntropy = 0;
    const fig = lossFigure(history, { logY: true, yRange: [0.1, 10] });
    assert.equal(fig.layout.yaxis.type, 'log');
    assert.deepEqual(fig.layout.yaxis.range, [-1, 1]);
    assert.deepEqual(fig.data[0].y, [2.3, null, null, 0.5, 0.4, 0.3]);
    assert.equal(lossFigure(history).data[0].y[2], 0);
  });

  it('keeps at most maxPoints points, the first and the last among them', () => {
    const fig = lossFigure(makeHistory(), { maxPoints: 3 });
    assert.deepEqual(fig.data[0].x, [0, 30, 50]);
    assert.deepEqual(fig.data[0].y, [2.3, 0.5, 0.3]);
    assert.deepEqual(lossFigure(makeHistory(), { maxPoints: 2 }).data[0].x, [0, 50]);
    assert.deepEqual(lossFigure(makeHistory(), { maxPoints: 4 }).data[0].x, [0, 20, 40, 50]);
    assert.deepEqual(lossFigure(makeHistory(), { maxPoints: 6 }).data[0].x, STEPS);
  });

  it('overlays runs', () => {
    const fig = lossFigure([
      { name: 'a', history: makeHistory() },
      { name: 'b', history: makeHistory({ scale: 2 }) },
    ]);
    assert.deepEqual(names(fig), ['a: mean cross-entropy', 'a: total loss', 'b: mean cross-entropy', 'b: total loss']);
    assertClose(
      fig.data[2].y,
      CROSS_ENTROPY.map((v) => v * 2),
    );
  });
});

describe('learningRateFigure', () => {
  it('draws the staircase learning rate', () => {
    const fig = learningRateFigure(makeHistory());
    assert.deepEqual(names(fig), ['learning rate']);
    assert.deepEqual(fig.data[0].y, LEARNING_RATE);
    assert.equal(fig.data[0].line?.shape, 'hv');
    assert.equal(fig.layout.yaxis.title.text, 'learning rate');
    assert.equal(fig.layout.showlegend, false);
  });

  it('is not smoothed, and overlays runs by name', () => {
    assert.deepEqual(learningRateFigure(makeHistory(), { smoothing: 0.5 }).data[0].y, LEARNING_RATE);
    const fig = learningRateFigure([
      { name: 'a', history: makeHistory() },
      { name: 'b', history: makeHistory() },
    ]);
    assert.deepEqual(names(fig), ['a', 'b']);
    assert.equal(fig.layout.showlegend, true);
  });
});

describe('gradientFigure', () => {
  it('draws the overall and per-parameter mean absolute gradient on a log axis', () => {
    const fig = gradientFigure(makeHistory());
    assert.deepEqual(names(fig), ['all parameters', 'weights1', 'biases1', 'weights2', 'biases2']);
    assert.equal(fig.layout.yaxis.type, 'log');
    assert.deepEqual(fig.data[0].y, MEAN_ABS_GRADIENT);
    assertClose(
      fig.data[1].y,
      MEAN_ABS_GRADIENT.map((g) => g / 2),
    );
    assertClose(
      fig.data[4].y,
      MEAN_ABS_GRADIENT.map((g) => g * 4),
    );
    assert.equal(gradientFigure(makeHistory(), { logY: false }).layout.yaxis.type, 'linear');
  });

  it('leaves out parameters a run does not have (the linear model)', () => {
    assert.deepEqual(names(gradientFigure(makeHistory({ linear: true }))), ['all parameters', 'weights1', 'biases1']);
  });

  it('smooths every gradient series', () => {
    const fig = gradientFigure(makeHistory(), { smoothing: 0.6 });
    assertClose(fig.data[0].y, smooth(MEAN_ABS_GRADIENT, 0.6));
    assertClose(
      fig.data[2].y,
      smooth(
        MEAN_ABS_GRADIENT.map((g) => g * 2),
        0.6,
      ),
    );
    assert.equal(fig.layout.legend?.title?.text, 'smoothed (0.6)');
  });

  it('overlays runs: five traces per run', () => {
    const fig = gradientFigure([
      { name: 'a', history: makeHistory() },
      { name: 'b', history: makeHistory() },
    ]);
    assert.equal(fig.data.length, 10);
    assert.equal(fig.data[5].name, 'b: all parameters');
    assert.equal(fig.data[9].name, 'b: biases2');
  });
});

describe('compareFigure', () => {
  const runs = [
    { name: 'one', history: makeHistory() },
    { name: 'two', history: makeHistory({ scale: 2 }) },
  ];

  it('draws one trace per run, named after it, for every metric', () => {
    const expected: Record<Metric, number[]> = {
      validationAccuracy: percents(VALIDATION),
      testAccuracy: percents(TEST),
      crossEntropy: CROSS_ENTROPY,
      totalLoss: TOTAL_LOSS,
      learningRate: LEARNING_RATE,
      meanAbsGradient: MEAN_ABS_GRADIENT,
    };
    for (const metric of METRICS) {
      const fig = compareFigure(runs, metric);
      assert.deepEqual(names(fig), ['one', 'two'], metric);
      assertClose(fig.data[0].y, expected[metric]);
      assert.equal(fig.layout.xaxis.title.text, 'training step');
      assert.ok(fig.layout.yaxis.title.text.length > 0);
    }
    assert.match(compareFigure(runs, 'validationAccuracy').layout.yaxis.title.text, /\(%\)/);
    assert.equal(compareFigure(runs, 'meanAbsGradient').layout.yaxis.type, 'log');
    assertClose(
      compareFigure(runs, 'crossEntropy').data[1].y,
      CROSS_ENTROPY.map((v) => v * 2),
    );
  });

  it('smooths per-step metrics only', () => {
    const smoothed = compareFigure(runs, 'crossEntropy', { smoothing: 0.5 });
    assertClose(smoothed.data[0].y, smooth(CROSS_ENTROPY, 0.5));
    assert.equal(smoothed.layout.legend?.title?.text, 'smoothed (0.5)');
    const accuracy = compareFigure(runs, 'validationAccuracy', { smoothing: 0.5 });
    assert.deepEqual(accuracy.data[0].y, percents(VALIDATION));
    assert.equal(accuracy.layout.legend?.title, undefined);
    assert.deepEqual(compareFigure(runs, 'learningRate', { smoothing: 0.5 }).data[0].y, LEARNING_RATE);
  });

  it('adds the reference to validation accuracy only', () => {
    assert.equal(
      compareFigure([...runs, { name: 'long', history: reaching(3000) }], 'validationAccuracy', {
        reference: true,
      }).data.at(-1)?.name,
      'tutorial (reported)',
    );
    assert.throws(() => compareFigure(runs, 'crossEntropy', { reference: true }), /validation accuracy only/);
  });

  it('rejects an unknown metric, naming the known ones', () => {
    assert.throws(() => compareFigure(runs, 'accuracy' as Metric), /unknown metric "accuracy".*validationAccuracy/);
  });
});

/** CIE L*a*b* of a `#rrggbb` colour (D65). */
function lab(hex: string): [number, number, number] {
  const [r, g, b] = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const x = f((r * 0.4124 + g * 0.3576 + b * 0.1805) / 0.95047);
  const y = f(r * 0.2126 + g * 0.7152 + b * 0.0722);
  const z = f((r * 0.0193 + g * 0.1192 + b * 0.9505) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

describe('compareFigure of grouped runs (the seeds of each variant)', () => {
  /** `variants` variants with `seeds` seeds each, the first variant's seeds named. */
  const grouped = (variants: number, seeds: number) =>
    Array.from({ length: variants }, (_, v) =>
      Array.from({ length: seeds }, (_, k) => ({
        name: seeds > 1 ? `variant ${v}, seed ${k + 1}` : `variant ${v}`,
        group: `variant ${v}`,
        member: `seed ${k + 1}`,
        history: makeHistory({ scale: 1 + v / 10 + k / 100 }),
      })),
    ).flat();

  it('gives each variant one colour and one legend entry, each seed its own line style, and the run in the hover', () => {
    const fig = compareFigure(grouped(7, 3), 'validationAccuracy');
    assert.equal(fig.data.length, 21);
    const entries = fig.data.filter((t) => t.showlegend !== false);
    assert.deepEqual(
      entries.map((t) => t.name),
      Array.from({ length: 7 }, (_, v) => `variant ${v}`),
      'one legend entry per variant, named after it',
    );
    for (let v = 0; v < 7; v++) {
      const traces = fig.data.filter((t) => t.legendgroup === `variant ${v}`);
      assert.equal(traces.length, 3, `variant ${v}: its three seeds in its legend group`);
      assert.deepEqual(
        traces.map((t) => t.name),
        [0, 1, 2].map(() => `variant ${v}`),
        'a hidden entry toggles with its group, under its name',
      );
      assert.equal(new Set(traces.map((t) => t.line?.color)).size, 1, `variant ${v}: one colour`);
      assert.deepEqual(
        traces.map((t) => t.line?.dash),
        ['solid', 'dash', 'dot'],
        `variant ${v}: a dash per seed`,
      );
      assert.match(traces[1].hovertemplate ?? '', /^variant \d, seed 2: %\{y:\.2f\} %<extra><\/extra>$/);
    }
    const colours = entries.map((t) => t.line?.color);
    assert.equal(new Set(colours).size, 7, 'a colour of its own for every variant');
    assert.equal(fig.layout.legend?.title?.text, 'solid: seed 1<br>dashed: seed 2<br>dotted: seed 3');
    assert.equal(fig.layout.legend?.tracegroupgap, 0, 'no gap between the groups of single entries');
    assert.deepEqual(
      fig.data[0].y,
      compareFigure([{ name: 'x', history: makeHistory({ scale: 1 }) }], 'validationAccuracy').data[0].y,
      'the same values as ungrouped',
    );
  });

  it("has colours for 16 variants that no two share, none closer than category 10's closest pair, none too light", () => {
    const fig = compareFigure(grouped(16, 2), 'validationAccuracy');
    const colours = fig.data.filter((t) => t.showlegend !== false).map((t) => t.line!.color!);
    assert.deepEqual(colours, COLORS.slice(0, 16));
    const distance = (a: string, b: string) => Math.hypot(...lab(a).map((v, i) => v - lab(b)[i]));
    let closest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < colours.length; i++)
      for (let j = i + 1; j < colours.length; j++) closest = Math.min(closest, distance(colours[i], colours[j]));
    // Category 10's purple and pink are 27.7 apart (CIE76).
    assert.ok(closest >= 27, `two colours are ${closest.toFixed(1)} apart`);
    for (const colour of colours) assert.ok(lab(colour)[0] <= 75, `${colour} is too light for a line on white`);
  });

  it('keeps a run without a group in a group of its own, and cycles the line styles past five seeds', () => {
    const fig = compareFigure([...grouped(1, 6), { name: 'alone', history: makeHistory() }], 'validationAccuracy');
    assert.deepEqual(
      fig.data.map((t) => t.line?.dash),
      [...GROUP_DASHES, 'solid', 'solid'],
    );
    assert.deepEqual(
      fig.data.filter((t) => t.showlegend !== false).map((t) => t.name),
      ['variant 0', 'alone'],
    );
    assert.notEqual(fig.data[6].line?.color, fig.data[0].line?.color);
  });

  it('single-seed variants: a colour and entry each, solid lines, no key to the line styles', () => {
    const fig = compareFigure(grouped(3, 1), 'validationAccuracy');
    assert.deepEqual(names(fig), ['variant 0', 'variant 1', 'variant 2']);
    assert.ok(fig.data.every((t) => t.showlegend !== false && t.line?.dash === 'solid'));
    assert.equal(fig.layout.legend?.title, undefined);
  });

  it('makes the figure tall enough for a long legend instead of scrolling it', () => {
    const tall = compareFigure(grouped(20, 3), 'crossEntropy', { smoothing: 0.9 });
    const margin = tall.layout.margin!;
    // Smoothing note, then the key of three line styles.
    assert.equal(tall.layout.legend?.title?.text.split('<br>').length, 4);
    assert.equal(tall.layout.height, margin.t! + margin.b! + columnLegendHeight(20, 4));
    assert.ok(tall.layout.height! > 450);
    assert.equal(compareFigure(grouped(7, 3), 'validationAccuracy').layout.height, undefined, 'fits the default');
    assert.equal(compareFigure(grouped(20, 3), 'validationAccuracy', { height: 300 }).layout.height, 300);
  });

  it('draws a run of one evaluation so far as a marker, longer runs as lines (markers would hide the dashes)', () => {
    const one = makeHistory();
    one.evaluations = one.evaluations.slice(0, 1);
    const fig = compareFigure(
      [
        { name: 'a', group: 'g', history: one },
        { name: 'b', group: 'g', history: makeHistory() },
      ],
      'validationAccuracy',
    );
    assert.deepEqual(
      fig.data.map((t) => t.mode),
      ['lines+markers', 'lines'],
    );
  });

  it('checks group and member', () => {
    assert.throws(
      () => compareFigure([{ name: 'a', group: ' ', history: makeHistory() }], 'validationAccuracy'),
      /run 1 \("a"\): "group" must be a non-empty string or left out/,
    );
    assert.throws(
      () =>
        compareFigure([{ name: 'a', member: 3 as unknown as string, history: makeHistory() }], 'validationAccuracy'),
      /"member" must be a non-empty string/,
    );
  });
});

describe('input checks', () => {
  it('rejects an empty list of runs', () => {
    assert.throws(() => accuracyFigure([]), /accuracyFigure: no runs given/);
    assert.throws(() => compareFigure([], 'crossEntropy'), /compareFigure: no runs given/);
  });

  it('rejects things that are not runs', () => {
    assert.throws(() => lossFigure({ steps: [] } as never), TypeError);
    assert.throws(() => lossFigure(null as never), /not a History/);
    assert.throws(() => lossFigure([makeHistory(), 42 as never]), /run 2 is number 42/);
    assert.throws(() => lossFigure({ name: 'x', history: {} } as never), /"history" is not a training history/);
    assert.throws(() => lossFigure({ name: '', history: makeHistory() }), /"name" must be a non-empty string/);
  });

  it('rejects two runs with the same name', () => {
    assert.throws(
      () =>
        accuracyFigure([
          { name: 'a', history: makeHistory() },
          { name: 'a', history: makeHistory() },
        ]),
      /two runs are named "a"/,
    );
  });

  it('rejects bad options', () => {
    const h = makeHistory();
    assert.throws(() => lossFigure(h, { smoothing: -1 }), RangeError);
    assert.throws(() => lossFigure(h, { smoothing: 1 }), /lossFigure: smoothing is a weight in \[0, 1\)/);
    assert.throws(() => lossFigure(h, { smoothing: 20 }), /no longer a window of points/);
    assert.throws(() => lossFigure(h, { maxPoints: 1 }), /maxPoints/);
    assert.throws(() => lossFigure(h, { yRange: [2, 1] }), /yRange/);
    assert.throws(() => lossFigure(h, { logY: true, yRange: [0, 1] }), /positive/);
    assert.throws(() => lossFigure(h, { height: 0 }), /height/);
  });

  it('draws an empty run (before any step) as empty traces', () => {
    const h = makeHistory();
    h.steps = [];
    h.evaluations = [];
    const fig = accuracyFigure(h);
    assert.deepEqual(
      fig.data.map((t) => t.x.length),
      [0, 0],
    );
    assert.deepEqual(names(gradientFigure(h)), ['all parameters']);
  });
});

describe('figures as data', () => {
  it('are plain JSON: they survive a round trip unchanged', () => {
    const h = makeHistory();
    h.steps[2].crossEntropy = Number.NaN;
    for (const fig of Object.values(allRunFigures(h, { reference: true, smoothing: 0.9 }))) {
      assert.deepEqual(JSON.parse(JSON.stringify(fig)), fig);
    }
  });

  it('do not share arrays with the history', () => {
    const h = makeHistory();
    const fig = lossFigure(h);
    fig.data[0].y[0] = 99;
    fig.data[0].x[0] = 99;
    assert.equal(h.steps[0].crossEntropy, CROSS_ENTROPY[0]);
    assert.equal(h.steps[0].step, 0);
  });

  it('allRunFigures gives the four charts of a run', () => {
    const figs = allRunFigures({ name: 'r', history: reaching(30_000) }, { reference: true });
    assert.deepEqual(Object.keys(figs), ['accuracy', 'loss', 'learningRate', 'gradients']);
    assert.equal(figs.accuracy.data.length, 3);
    assert.equal(figs.loss.data.length, 2);
    assert.equal(figs.learningRate.data.length, 1);
    assert.equal(figs.gradients.data.length, 5);
    assert.throws(() => allRunFigures([makeHistory()] as never), /single run/);
  });
});
