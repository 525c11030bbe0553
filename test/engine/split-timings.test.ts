import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { measureEngines } from '../../src/engine/engine-probe';
import { SplitEngine } from '../../src/engine/split-engine';
import { TIMING } from '../../src/engine/split-layout';
import { decayStepsFor, makeConfig } from '../../src/core/config';
import { loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';

let data: MnistData;
before(async () => {
  await setupBackend('wasm');
  const all = await loadMnist();
  data = {
    train: sliceDataSet(all.train, 0, 500),
    validation: sliceDataSet(all.validation, 0, 50),
    test: sliceDataSet(all.test, 0, 50),
    description: 'MNIST, a few images',
  };
});

describe("the split step's timings", () => {
  it('counts every step of every worker and splits its time into parts, reset on request', async () => {
    const config = makeConfig({ layer1Node: 16, batchSize: 20, trainingSteps: 100, recordEvery: 5 });
    const engine = new SplitEngine(
      { data, config, decaySteps: decayStepsFor(config, data.train.count), divergenceThreshold: Infinity },
      2,
    );
    try {
      const records: number[] = [];
      await engine.advance(30, { recordEvery: 5, shouldStop: () => false, onRecord: (r) => records.push(r.step) });
      assert.deepEqual(records, [0, 5, 10, 15, 20, 25]);
      // `stepTimings().steps` is worker 0's count: every worker's is read from the shared timings.
      const stepsOf = () => {
        const shared = (engine as unknown as { shared: { timings: Float64Array } }).shared.timings;
        return [0, 1].map((w) => shared[w * TIMING.size + TIMING.steps]);
      };
      assert.deepEqual(stepsOf(), [30, 30], "every worker's timed steps");
      const timings = engine.stepTimings(true);
      assert.equal(timings.steps, 30);
      assert.equal(timings.workers.length, 2);
      for (const worker of timings.workers) {
        assert.deepEqual(Object.keys(worker).sort(), [
          'acknowledge',
          'average',
          'backward',
          'barrier',
          'batch',
          'forward',
          'record',
          'softmax',
        ]);
        for (const [part, ms] of Object.entries(worker)) assert.ok(ms >= 0 && Number.isFinite(ms), `${part}: ${ms}`);
        assert.ok(worker.forward > 0 && worker.backward > 0, 'the compute parts are timed');
      }
      assert.ok(timings.main >= 0);
      assert.deepEqual(stepsOf(), [0, 0], "every worker's count reset");
      assert.equal(engine.stepTimings().steps, 0, 'reset');
      await engine.advance(40, { recordEvery: 5, shouldStop: () => false, onRecord: () => undefined });
      assert.deepEqual(stepsOf(), [10, 10], "every worker's timed steps after the reset");
      assert.equal(engine.stepTimings().steps, 10);
    } finally {
      engine.dispose();
    }
  });
});

describe("auto's probe", () => {
  it('times each candidate engine at the sizes given and leaves no tensor behind', async () => {
    const { memory } = await import('@tensorflow/tfjs');
    const before = memory().numTensors;
    const sizes = { inputNode: 784, layer1Node: 16, outputNode: 10, batchSize: 20 };
    const measured = await measureEngines(
      [
        { backend: 'wasm', workers: 1 },
        { backend: 'wasm', workers: 2 },
      ],
      sizes,
    );
    assert.deepEqual(
      measured.figures.map((f) => [f.backend, f.workers]),
      [
        ['wasm', 1],
        ['wasm', 2],
      ],
    );
    for (const f of measured.figures) assert.ok(f.msPerStep > 0 && Number.isFinite(f.msPerStep));
    assert.ok(measured.probeMs > 0);
    assert.equal(memory().numTensors, before);
  });
});
