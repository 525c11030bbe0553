import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { makeConfig } from '../../src/core/config';
import {
  ExponentialMovingAverage,
  createParams,
  disposeParams,
  forward,
  inference,
  isWeight,
  movingAverageDecayAt,
  paramList,
  paramValues,
  type AverageClass,
  type Params,
} from '../../src/core/model';

before(async () => {
  await setupBackend('wasm');
});

/** Asserts that two arrays agree element by element within `tolerance`. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** A tiny network with known values: 3 inputs, 2 hidden units, 2 outputs. */
function tinyParams(): Params {
  return {
    weights1: tf.variable(
      tf.tensor2d([
        [1, -1],
        [0, 2],
        [-1, 1],
      ]),
    ),
    biases1: tf.variable(tf.tensor1d([0.5, -3])),
    weights2: tf.variable(
      tf.tensor2d([
        [1, 2],
        [3, -1],
      ]),
    ),
    biases2: tf.variable(tf.tensor1d([0.25, -0.25])),
  };
}

/** The tiny network's output by hand, for one input row and given parameter values. */
function tinyForward(
  x: number[],
  p: { w1: number[][]; b1: number[]; w2: number[][]; b2: number[] },
  relu = true,
): number[] {
  const z1 = p.b1.map((b, j) => b + x.reduce((s, xi, i) => s + xi * p.w1[i][j], 0));
  const h = relu ? z1.map((z) => Math.max(0, z)) : z1;
  return p.b2.map((b, k) => b + h.reduce((s, hj, j) => s + hj * p.w2[j][k], 0));
}

const LIVE = {
  w1: [
    [1, -1],
    [0, 2],
    [-1, 1],
  ],
  b1: [0.5, -3],
  w2: [
    [1, 2],
    [3, -1],
  ],
  b2: [0.25, -0.25],
};

describe('createParams', () => {
  it('has the shapes of the 784-500-10 network', () => {
    const params = createParams(makeConfig());
    assert.deepEqual(params.weights1.shape, [784, 500]);
    assert.deepEqual(params.biases1.shape, [500]);
    assert.deepEqual(params.weights2!.shape, [500, 10]);
    assert.deepEqual(params.biases2!.shape, [10]);
    assert.deepEqual(
      paramList(params).map(([name]) => name),
      ['weights1', 'biases1', 'weights2', 'biases2'],
    );
    disposeParams(params);
  });

  it('makes a linear model without the hidden layer', () => {
    const params = createParams(makeConfig({ layer1Node: 0 }));
    assert.deepEqual(params.weights1.shape, [784, 10]);
    assert.deepEqual(params.biases1.shape, [10]);
    assert.equal(params.weights2, null);
    assert.equal(params.biases2, null);
    assert.deepEqual(
      paramList(params).map(([name]) => name),
      ['weights1', 'biases1'],
    );
    disposeParams(params);
  });

  it('draws weights from a truncated normal: within 2 standard deviations, mean 0, stddev 0.88 of the normal', () => {
    const params = createParams(makeConfig());
    for (const name of ['weights1', 'weights2'] as const) {
      const values = params[name]!.dataSync();
      let sum = 0;
      let squares = 0;
      let max = 0;
      for (let i = 0; i < values.length; i++) {
        sum += values[i];
        squares += values[i] * values[i];
        max = Math.max(max, Math.abs(values[i]));
      }
      const mean = sum / values.length;
      const std = Math.sqrt(squares / values.length - mean * mean);
      assert.ok(max <= 0.2 + 1e-6, `${name}: |w| up to ${max}`);
      // Truncated at 2 sigma: close to the bounds, but not uniform either.
      assert.ok(max > 0.19, `${name}: |w| only up to ${max}`);
      assert.ok(Math.abs(mean) < 0.01, `${name}: mean ${mean}`);
      // The standard deviation of a normal truncated at 2 sigma is 0.8796 sigma.
      assert.ok(Math.abs(std - 0.088) < 0.004, `${name}: stddev ${std}`);
    }
    disposeParams(params);
  });

  it('fills every bias with 0.1 and follows initStddev and initBias', () => {
    const params = createParams(makeConfig());
    for (const name of ['biases1', 'biases2'] as const)
      assert.ok(params[name]!.dataSync().every((b) => b === Math.fround(0.1)));
    disposeParams(params);
    const other = createParams(makeConfig({ layer1Node: 20, initStddev: 0.01, initBias: -2 }));
    assert.ok(other.weights1.dataSync().every((w) => Math.abs(w) <= 0.02 + 1e-7));
    assert.ok(other.biases1.dataSync().every((b) => b === -2));
    disposeParams(other);
  });

  it('is reproducible from the seed', () => {
    const config = makeConfig({ layer1Node: 20 });
    const a = createParams(config);
    const b = createParams(config);
    const c = createParams(makeConfig({ layer1Node: 20, seed: 2 }));
    assert.deepEqual(paramValues(a), paramValues(b));
    assert.notDeepEqual(a.weights1.dataSync(), c.weights1.dataSync());
    // The two layers get different draws.
    assert.notDeepEqual(a.weights1.dataSync().subarray(0, 200), a.weights2!.dataSync().subarray(0, 200));
    for (const p of [a, b, c]) disposeParams(p);
  });

  it('only the weight matrices count as weights (for L2)', () => {
    assert.deepEqual((['weights1', 'biases1', 'weights2', 'biases2'] as const).map(isWeight), [
      true,
      false,
      true,
      false,
    ]);
  });
});

describe('inference', () => {
  it('gives logits of shape [batch, 10], with and without moving averages', () => {
    const config = makeConfig({ layer1Node: 20 });
    const params = createParams(config);
    const average = new ExponentialMovingAverage(
      0.99,
      paramList(params).map(([, v]) => v),
    );
    const x = tf.randomUniform([7, 784], 0, 1, 'float32', 3) as tf.Tensor2D;
    for (const avgClass of [null, average]) {
      const logits = forward(x, params, avgClass);
      assert.deepEqual(logits.shape, [7, 10]);
      logits.dispose();
    }
    average.dispose();
    disposeParams(params);
    x.dispose();
  });

  it('gives the linear model x W + b (weights2 null)', () => {
    const config = makeConfig({ layer1Node: 0, inputNode: 3, outputNode: 2 });
    const params = createParams(config);
    params.weights1.assign(
      tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    params.biases1.assign(tf.tensor1d([0.5, -0.5]));
    const x = tf.tensor2d([
      [1, 0, -1],
      [2, 1, 0],
    ]);
    const logits = inference(x, null, params.weights1, params.biases1, null, null);
    assert.deepEqual(logits.shape, [2, 2]);
    assertClose(logits.dataSync(), [1 - 5 + 0.5, 2 - 6 - 0.5, 2 + 3 + 0.5, 4 + 4 - 0.5]);
    const average = new ExponentialMovingAverage(0.99, [params.weights1, params.biases1]);
    assert.deepEqual(forward(x, params, average).shape, [2, 2]);
    tf.dispose([x, logits]);
    average.dispose();
    disposeParams(params);
  });

  it('computes relu(x W1 + b1) W2 + b2, and drops the ReLU for the linear activation', () => {
    const params = tinyParams();
    const rows = [
      [1, 2, 3],
      [-1, 0.5, 2],
    ];
    const x = tf.tensor2d(rows);
    const relu = forward(x, params, null);
    const linear = forward(x, params, null, 'linear');
    assertClose(
      relu.dataSync(),
      rows.flatMap((r) => tinyForward(r, LIVE)),
    );
    assertClose(
      linear.dataSync(),
      rows.flatMap((r) => tinyForward(r, LIVE, false)),
    );
    // Some hidden unit is negative for these rows, so the two must differ.
    assert.notDeepEqual(Array.from(relu.dataSync()), Array.from(linear.dataSync()));
    tf.dispose([x, relu, linear]);
    disposeParams(params);
  });

  it('uses the averaged values of every parameter when given avgClass', () => {
    const params = tinyParams();
    const average = new ExponentialMovingAverage(
      0.99,
      paramList(params).map(([, v]) => v),
    );
    const SHADOW = {
      w1: [
        [0.5, 1],
        [1, -1],
        [2, 0],
      ],
      b1: [1, 1],
      w2: [
        [-1, 1],
        [0.5, 0.5],
      ],
      b2: [2, 3],
    };
    average.restore(
      new Map([
        [params.weights1, Float32Array.from(SHADOW.w1.flat())],
        [params.biases1, Float32Array.from(SHADOW.b1)],
        [params.weights2!, Float32Array.from(SHADOW.w2.flat())],
        [params.biases2!, Float32Array.from(SHADOW.b2)],
      ]),
    );
    const row = [1, 2, 3];
    const x = tf.tensor2d([row]);
    const averaged = forward(x, params, average);
    const live = forward(x, params, null);
    assertClose(averaged.dataSync(), tinyForward(row, SHADOW));
    assertClose(live.dataSync(), tinyForward(row, LIVE));
    assert.notDeepEqual(tinyForward(row, SHADOW), tinyForward(row, LIVE));
    // Each parameter on its own: an average class that swaps in one shadow at a time.
    for (const [name] of paramList(params)) {
      const one: AverageClass = { average: (v) => (v === params[name] ? average.average(v) : v) };
      const key = { weights1: 'w1', biases1: 'b1', weights2: 'w2', biases2: 'b2' }[name] as keyof typeof LIVE;
      const logits = forward(x, params, one);
      assertClose(logits.dataSync(), tinyForward(row, { ...LIVE, [key]: SHADOW[key] }), 1e-5, name);
      logits.dispose();
    }
    tf.dispose([x, averaged, live]);
    average.dispose();
    disposeParams(params);
  });

  it('leaves no tensors behind', () => {
    const params = tinyParams();
    const average = new ExponentialMovingAverage(
      0.99,
      paramList(params).map(([, v]) => v),
    );
    const x = tf.tensor2d([[1, 2, 3]]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      forward(x, params, average).dispose();
      forward(x, params, null, 'linear').dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    average.dispose();
    disposeParams(params);
  });
});

describe('ExponentialMovingAverage', () => {
  it("uses TensorFlow's decay min(decay, (1 + n) / (10 + n))", () => {
    assert.equal(movingAverageDecayAt(0.99, 0), 0.1);
    assert.equal(movingAverageDecayAt(0.99, 1), 2 / 11);
    assert.equal(movingAverageDecayAt(0.99, 89), 90 / 99);
    assert.equal(movingAverageDecayAt(0.99, 890), 0.99);
    assert.equal(movingAverageDecayAt(0.5, 20), 0.5);
    assert.equal(movingAverageDecayAt(0.5, 3), 4 / 13);
    assert.equal(movingAverageDecayAt(0.5, 0), 0.1);
  });

  it('follows a hand computation over several updates, including the warm-up', () => {
    const v = tf.variable(tf.tensor1d([1, -2, 0.5]));
    const other = tf.variable(tf.scalar(10));
    const ema = new ExponentialMovingAverage(0.99, [v, other]);
    // The shadow starts at the variable's value.
    assertClose(ema.average(v).dataSync(), [1, -2, 0.5]);
    let shadow = [1, -2, 0.5];
    let otherShadow = 10;
    const updates: [number, number[]][] = [
      [0, [2, 0, 1]],
      [1, [3, 1, 1]],
      [2, [-1, 4, 0]],
      [5, [0, 0, 0]],
      [100, [7, -7, 3]],
      [1000, [1, 1, 1]],
      [1001, [2, 2, 2]],
    ];
    for (const [n, value] of updates) {
      v.assign(tf.tensor1d(value));
      ema.apply(n);
      const d = Math.min(0.99, (1 + n) / (10 + n));
      shadow = shadow.map((s, i) => d * s + (1 - d) * value[i]);
      otherShadow = d * otherShadow + (1 - d) * 10;
      assertClose(ema.average(v).dataSync(), shadow, 1e-5, `after apply(${n})`);
      assertClose(ema.average(other).dataSync(), [otherShadow], 1e-5, `constant variable after apply(${n})`);
    }
    // The variable itself is untouched by the average.
    assertClose(v.dataSync(), [2, 2, 2]);
    ema.dispose();
    tf.dispose([v, other]);
  });

  it('restores shadows, rejects unknown variables, and releases its tensors', () => {
    const v = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    const stranger = tf.tidy(() => tf.variable(tf.tensor1d([0])));
    const before = tf.memory().numTensors;
    const ema = new ExponentialMovingAverage(0.99, [v]);
    ema.restore(new Map([[v, Float32Array.from([5, 6])]]));
    assertClose(ema.average(v).dataSync(), [5, 6]);
    assert.deepEqual(
      ema.variables().map(([variable]) => variable),
      [v],
    );
    assert.throws(() => ema.average(stranger), /no moving average for variable/);
    assert.throws(() => ema.restore(new Map()), /no stored moving average/);
    for (let n = 0; n < 5; n++) ema.apply(n);
    ema.dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([v, stranger]);
  });
});
