import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { History } from '../../src/core/history';
import { sweepTotal } from '../../src/bin/sweep';
import type { Progress } from '../../src/train/trainer';

const run = (step: number, totalSteps: number): Progress => ({
  step,
  totalSteps,
  learningRate: 0.8,
  crossEntropy: 0.3,
  stepsPerSecond: 99,
  secondsLeft: 1,
  latestEvaluation: { step: 0, validationAccuracy: 0.9, testAccuracy: 0.9 },
  history: {} as History,
});

describe('sweepTotal', () => {
  it('adds the steps of every run against their total; speed counts only steps trained since the start', () => {
    let now = 0;
    const total = sweepTotal([1000, 1000, 2000], () => now);
    now = 2000;
    let sweep = total.update(0, run(0, 1000));
    assert.deepEqual([sweep.step, sweep.totalSteps, sweep.stepsPerSecond], [0, 4000, 0]);
    assert.ok(Number.isNaN(sweep.secondsLeft));
    // A run resumed at step 500 counts 500 done, none of them trained now.
    total.update(1, run(500, 1000));
    now = 4000;
    total.update(0, run(300, 1000));
    sweep = total.update(1, run(700, 1000));
    assert.equal(sweep.step, 1000);
    assert.equal(sweep.stepsPerSecond, (300 + 200) / 4);
    assert.equal(sweep.secondsLeft, 3000 / 125);
    assert.equal(sweep.latestEvaluation, null, "one run's accuracy is not the sweep's");
    assert.equal(sweep.crossEntropy, 0.3);
    // A reused run is done at once, without adding to the speed.
    total.finish(2);
    sweep = total.update(0, run(300, 1000));
    assert.deepEqual([sweep.step, sweep.stepsPerSecond], [3000, 125]);
  });
});
