import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { makeConfig } from '../../src/core/config';
import type { DataSet, MnistData } from '../../src/data/mnist';
import { predict } from '../../src/predict/predict';
import { loadTutorialModel, trainingProgressLine } from '../../src/notebook/tutorial-model';
import type { Progress } from '../../src/train/trainer';

function dataSet(count: number, offset: number): DataSet {
  const labels = Uint8Array.from({ length: count }, (_, i) => (i + offset) % 10);
  const images = new Float32Array(count * 784);
  for (let i = 0; i < count; i++)
    for (let p = 0; p < 784; p++)
      images[i * 784 + p] = Math.floor(p / 78) === labels[i] ? 0.9 : ((i * 31 + p * 7) % 13) / 60;
  return { images, labels, count, imageSize: 784, numClasses: 10 };
}

const data: MnistData = {
  train: dataSet(100, 0),
  validation: dataSet(30, 3),
  test: dataSet(40, 5),
  description: 'tutorial-model test data',
};
const config = makeConfig({ layer1Node: 16, batchSize: 10, trainingSteps: 40, evalEvery: 20 });
let runsDir: string;

before(async () => {
  await setupBackend('wasm');
  runsDir = await mkdtemp(join(tmpdir(), 'tutorial-model-'));
});
after(() => rm(runsDir, { recursive: true, force: true }));

describe('loadTutorialModel', () => {
  it('trains and saves the run when none is saved, then loads it, never quoting a test accuracy or a path', async () => {
    const lines: string[] = [];
    const drawn: string[] = [];
    const tensors = tf.memory().numTensors;
    const first = await loadTutorialModel(data, {
      config,
      runsDir,
      log: (l) => lines.push(l),
      progressEveryMs: 0,
      progress: () => ({ html: (h) => drawn.push(h) }),
    });
    assert.equal(first.reused, false);
    assert.equal(first.run.name, 'full-recipe-40', 'named after its number of steps');
    assert.equal(first.history.status, 'completed');
    assert.ok(drawn.length >= 2, 'a progress line while training');
    assert.match(drawn[0], /^<pre>training: step [\d,]+ \/ 40/);
    assert.match(drawn.at(-1)!, /^<pre>trained 40 steps in \d+ s<\/pre>$/);
    assert.equal(first.description, lines.at(-1));
    assert.match(
      first.description,
      /^trained run full-recipe-40: 16 hidden units, 40 steps on wasm, saved \d{4}-\d\d-\d\d$/,
    );
    // The network: the run's moving averages, as evaluated.
    assert.ok(first.model.averaged !== null);
    assert.equal(first.model.evaluated, first.model.averaged);
    const trained = predict(first.model, data.test.images, data.test.count);
    first.model.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left after dispose');

    drawn.length = 0;
    const again = await loadTutorialModel(data, {
      config,
      runsDir,
      log: (l) => lines.push(l),
      progress: () => ({ html: (h) => drawn.push(h) }),
    });
    assert.equal(again.reused, true);
    assert.deepEqual(drawn, [], 'no progress output when nothing trains');
    assert.match(again.description, /^loaded run full-recipe-40: 16 hidden units, 40 steps on wasm/);
    assert.deepEqual(predict(again.model, data.test.images, data.test.count), trained, 'the same network');
    again.model.dispose();

    assert.deepEqual(lines, [first.description, again.description], 'one line per call: the run used');
    for (const line of lines) {
      assert.doesNotMatch(line, /test accuracy|\d+(\.\d+)? %/, `a line quotes an accuracy: ${line}`);
      assert.ok(!line.includes(runsDir), `a line names the runs folder: ${line}`);
    }
  });

  it('still gives a network when training stops early, and says so', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    let drawn = 0;
    const result = await loadTutorialModel(data, {
      config: { ...config, seed: 2 },
      name: 'stopped',
      runsDir,
      signal: controller.signal,
      log: (l) => lines.push(l),
      progressEveryMs: 0,
      // The third progress line (after a few steps) stops it.
      progress: () => ({ html: () => (++drawn === 3 ? controller.abort() : undefined) }),
    });
    try {
      assert.equal(result.history.status, 'stopped');
      assert.ok(result.run.meta.steps < 40);
      assert.match(
        lines.at(-1)!,
        /^note: stopped at step \d+ of 40; the network has the weights it reached; running this cell again continues it$/,
      );
      assert.equal(predict(result.model, data.test.images, 3).length, 3);
    } finally {
      result.model.dispose();
    }
    const again = await loadTutorialModel(data, {
      config: { ...config, seed: 2 },
      name: 'stopped',
      runsDir,
      log: (l) => lines.push(l),
      progress: () => ({ html: () => undefined }),
    });
    again.model.dispose();
    assert.equal(again.history.status, 'completed');
    assert.match(again.description, /^trained run stopped \(continued from step [1-9]\d*\): 16 hidden units, 40 steps/);
  });
});

describe('trainingProgressLine', () => {
  it('shows the step, speed, time left and validation accuracy, not the test accuracy', () => {
    const progress = {
      step: 1200,
      totalSteps: 30000,
      stepsPerSecond: 180.44,
      secondsLeft: 160,
      latestEvaluation: { step: 1000, validationAccuracy: 0.9784, testAccuracy: 0.9751 },
    } as unknown as Progress;
    assert.equal(
      trainingProgressLine(progress),
      'training: step 1,200 / 30,000 (4.0 %) · 180 steps/s · 2 min 40 s left · validation 97.84 % (at step 1,000)',
    );
    assert.equal(
      trainingProgressLine({
        ...progress,
        stepsPerSecond: 0,
        secondsLeft: Number.POSITIVE_INFINITY,
        latestEvaluation: null,
      }),
      'training: step 1,200 / 30,000 (4.0 %) · speed unknown · time left unknown · no evaluation yet',
    );
  });
});
