import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import {
  EVAL_CHUNK,
  NATIVE_EVAL_CHUNK,
  chunksAccuracy,
  countCorrect,
  evalChunk,
  forEachChunk,
  imageChunks,
  setAccuracy,
  type LabelledRows,
  type LogitsOf,
} from '../../src/core/accuracy';

before(async () => {
  await setupBackend('wasm');
});

/**
 * Rows of 3 "pixels" that are the logits themselves (the identity network), so the predicted
 * class of row i is known: the position of its largest value, the first one on a tie.
 */
function rows(count: number): { set: LabelledRows; predicted: number[] } {
  const images = new Float32Array(count * 3);
  const predicted: number[] = [];
  for (let i = 0; i < count; i++) {
    const best = i % 3;
    images[i * 3 + best] = 1;
    // Every fifth row ties its best value with class 2: the first maximum wins (row 25, label 2,
    // would count as right if the last one did).
    if (i % 5 === 0 && best < 2) images[i * 3 + 2] = 1;
    predicted.push(best);
  }
  // Labels right on the rows whose index is even.
  const labels = Uint8Array.from(predicted, (p, i) => (i % 2 === 0 ? p : (p + 1) % 3));
  return { set: { images, labels, count, imageSize: 3 }, predicted };
}

const identity: LogitsOf = (input) => input;

describe('chunked accuracy', () => {
  it('visits every row once, in order, in chunks of the given size, releasing each chunk', () => {
    const { set } = rows(23);
    const before = tf.memory().numTensors;
    const seen: [number, number][] = [];
    const values: number[] = [];
    forEachChunk(
      set,
      (input, start) => {
        seen.push([start, input.shape[0]]);
        values.push(...input.dataSync());
        tf.relu(input); // made inside the visit: released with the chunk
      },
      10,
    );
    assert.deepEqual(seen, [
      [0, 10],
      [10, 10],
      [20, 3],
    ]);
    assert.deepEqual(values, Array.from(set.images));
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => forEachChunk(set, () => undefined, 0), /chunk must be a whole number of rows >= 1, got 0/);
  });

  it('counts the rows whose first highest logit is at the label, from a chunk offset', () => {
    const { set, predicted } = rows(12);
    tf.tidy(() => {
      const input = tf.tensor2d(set.images.subarray(6 * 3, 12 * 3), [6, 3]);
      const expected = predicted.slice(6).filter((p, i) => p === set.labels[6 + i]).length;
      assert.equal(countCorrect(input, set.labels, 6, identity), expected);
      assert.equal(expected, 3);
    });
  });

  it('gives the same accuracy one chunk at a time, over kept chunks, and in one piece; tensors flat', () => {
    const { set } = rows(EVAL_CHUNK + 7);
    const before = tf.memory().numTensors;
    // Even rows are right.
    const expected = Math.ceil(set.count / 2) / set.count;
    assert.equal(setAccuracy(set, identity), expected);
    assert.equal(setAccuracy(set, identity, 1000), expected);
    assert.equal(setAccuracy(set, identity, set.count), expected);
    const chunks = imageChunks(set, 1000);
    assert.deepEqual(
      chunks.map((c) => c.shape[0]),
      [1000, 1000, 1000, 1000, 1000, 7],
    );
    assert.equal(chunksAccuracy(chunks, set.labels, identity), expected);
    tf.dispose(chunks);
    const defaults = imageChunks(set);
    assert.equal(defaults.length, 2, 'default chunk');
    tf.dispose(defaults);
    assert.equal(tf.memory().numTensors, before);
  });

  it('is NaN for no rows', () => {
    assert.ok(Number.isNaN(setAccuracy(rows(0).set, identity)));
    assert.ok(Number.isNaN(chunksAccuracy([], new Uint8Array(0), identity)));
  });

  it('takes smaller chunks on native TensorFlow, the default chunk elsewhere and on the current backend', () => {
    assert.equal(evalChunk('tensorflow'), NATIVE_EVAL_CHUNK);
    assert.ok(NATIVE_EVAL_CHUNK < EVAL_CHUNK);
    assert.equal(evalChunk('wasm'), EVAL_CHUNK);
    assert.equal(evalChunk('cpu'), EVAL_CHUNK);
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(evalChunk(), EVAL_CHUNK);
    const chunks = imageChunks(rows(EVAL_CHUNK + 1).set);
    assert.deepEqual(
      chunks.map((c) => c.shape[0]),
      [EVAL_CHUNK, 1],
    );
    tf.dispose(chunks);
  });
});
