import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import type { DataSet, MnistData } from '../../src/data/mnist';
import { runInNotebook } from '../../src/notebook/steps';
import { Trainer } from '../../src/train/trainer';

function dataSet(count: number, offset: number): DataSet {
  const labels = Uint8Array.from({ length: count }, (_, i) => (i + offset) % 10);
  const images = Float32Array.from({ length: count * 16 }, (_, k) => ((k * 7 + labels[Math.floor(k / 16)]) % 5) / 4);
  return { images, labels, count, imageSize: 16, numClasses: 10 };
}

const data: MnistData = {
  train: dataSet(50, 0),
  validation: dataSet(20, 3),
  test: dataSet(20, 5),
  description: 'steps test data',
};
const config = { inputNode: 16, layer1Node: 8, batchSize: 10, trainingSteps: 100, evalEvery: 50 };

before(() => setupBackend('cpu'));

describe('runInNotebook', () => {
  it('says where a stopped run stopped, from its stop reason, once', async () => {
    const printed: string[] = [];
    const print = console.log;
    console.log = (line: string) => printed.push(line);
    const trainer = new Trainer(data, { config, workers: 1 });
    try {
      const history = await runInNotebook(trainer, { signal: AbortSignal.abort() });
      assert.deepEqual(history.stop, { reason: 'aborted', step: 0, of: 100, message: null });
    } finally {
      console.log = print;
      trainer.dispose();
    }
    assert.deepEqual(printed, ['stopped at step 0 of 100: the history so far is kept in trainer.history']);
  });

  it("leaves the stop line to options.log when given (the stop event's line), and prints nothing itself", async () => {
    const printed: string[] = [];
    const logged: string[] = [];
    const print = console.log;
    console.log = (line: string) => printed.push(line);
    const trainer = new Trainer(data, { config, workers: 1 });
    try {
      await runInNotebook(trainer, { signal: AbortSignal.abort(), log: (line) => logged.push(line) });
    } finally {
      console.log = print;
      trainer.dispose();
    }
    assert.deepEqual(printed, []);
    assert.equal(logged.at(-1), 'stopped at step 0 of 100: the history so far is kept');
  });

  it('prints nothing for a completed run', async () => {
    const printed: string[] = [];
    const print = console.log;
    console.log = (line: string) => printed.push(line);
    const trainer = new Trainer(data, { config: { ...config, trainingSteps: 10 }, workers: 1 });
    try {
      assert.equal((await runInNotebook(trainer)).stop?.reason, 'completed');
    } finally {
      console.log = print;
      trainer.dispose();
    }
    assert.deepEqual(printed, []);
  });
});
