import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { runDrawPad } from '../../../src/notebook/browser/draw-pad';
import { drawDigitHtml } from '../../../src/notebook/draw-pad';
import type { QuantizedModel } from '../../../src/predict/quantize';
import { namesFromOutside } from './page-names';

/** A network of the right shape (784 -> 10, all zero): enough to build the pad's HTML. */
const ZERO_NETWORK: QuantizedModel = {
  activation: 'relu',
  layers: [
    {
      rows: 784,
      cols: 10,
      values: new Int8Array(7840),
      scales: new Float32Array(10),
      biases: new Float32Array(10),
    },
  ],
};

describe('runDrawPad (page code)', () => {
  it('is self-contained: its compiled text needs nothing but the browser', () => {
    assert.deepEqual(namesFromOutside(runDrawPad.toString()), []);
  });

  it("runs in the pad's script with the package functions the script defines", () => {
    const html = drawDigitHtml(ZERO_NETWORK, { id: 'pad' });
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0].includes(`(${runDrawPad.toString()})(`));
    // A page where the pad's element is not there yet: the script waits for it (a timer), and
    // every name it passes to runDrawPad exists (a missing one would throw a ReferenceError).
    const looked: string[] = [];
    const timers: number[] = [];
    runInNewContext(scripts[0], {
      atob,
      document: { getElementById: (id: string) => (looked.push(id), null) },
      setTimeout: (_: unknown, ms: number) => timers.push(ms),
    });
    assert.deepEqual(looked, ['pad']);
    assert.deepEqual(timers, [100]);
  });
});
