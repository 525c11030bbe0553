import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeConfig } from '../../src/core/config';
import { newHistory, type History } from '../../src/core/history';
import { sweepStatus } from '../../src/sweep/status';
import type { SweepProgress, SweepResult } from '../../src/sweep/sweep';

function history(evaluations: [number, number][], status: History['status'] = 'running'): History {
  const h = newHistory('wasm', makeConfig({ trainingSteps: 3000 }), 'test');
  h.status = status;
  h.evaluations = evaluations.map(([step, validationAccuracy]) => ({ step, validationAccuracy, testAccuracy: 0.5 }));
  return h;
}

const report = (index: number, name: string, step: number, h: History): SweepProgress => ({
  index,
  name,
  progress: {
    step,
    totalSteps: 3000,
    learningRate: 0.8,
    crossEntropy: 0.3,
    stepsPerSecond: 90,
    secondsLeft: 10,
    latestEvaluation: h.evaluations.at(-1) ?? null,
    history: h,
  },
});

const result = (name: string, h: History, extra: Partial<SweepResult> = {}): SweepResult => ({
  name,
  config: h.config,
  history: h,
  reused: false,
  run: null,
  error: null,
  ...extra,
});

describe('sweepStatus', () => {
  const labels = [
    { group: 'full recipe', seed: 1 },
    { group: 'full recipe', seed: 2 },
    { group: 'full recipe', seed: 3 },
    { group: 'no ReLU', seed: 1 },
    { group: 'no ReLU', seed: 2 },
    { group: 'learning rate 0.1', seed: 1 },
  ];

  it('a row per group in sweep order: seeds, what each run does, latest validation accuracy; counts under it', () => {
    const status = sweepStatus(labels);
    assert.deepEqual(
      status.rows().map((r) => [r.group, r.seeds, r.state, r.validation, r.done]),
      [
        ['full recipe', '1 2 3', '3 waiting', '— · — · —', false],
        ['no ReLU', '1 2', '2 waiting', '— · —', false],
        ['learning rate 0.1', '1', 'waiting', '—', false],
      ],
    );
    const a = history([[1000, 0.9512]]);
    status.progress(report(0, 'full-recipe-seed-1', 1200, a));
    status.progress(report(3, 'no-relu-seed-1', 100, history([])));
    status.result(result('full-recipe-seed-2', history([[3000, 0.98]], 'completed'), { reused: true }), 1);
    const diverged = history([], 'diverged');
    diverged.error = 'training diverged at step 1234: the loss is NaN with learning rate 0.8. Try a smaller one.';
    status.result(result('no-relu-seed-2', diverged), 4);
    status.result(result('learning-rate-0.1', history([[3000, 0.97]], 'completed')), 5);
    assert.deepEqual(
      status.rows().map((r) => [r.group, r.state, r.validation, r.done]),
      [
        ['full recipe', 'step 1,200/3,000 · completed (saved run) · waiting', '95.12 · 98.00 · —', false],
        ['no ReLU', 'step 100/3,000 · diverged at step 1,234 (loss NaN)', '— · —', false],
        ['learning rate 0.1', 'completed', '97.00', true],
      ],
    );
    assert.deepEqual(status.counts(), { runs: 6, waiting: 1, training: 2, done: 3 });
    assert.equal(status.footer(), '3 of 6 runs done · 2 training · 1 waiting');
    assert.deepEqual(
      status.runs().map((r) => [r.index, r.name, r.label.group]),
      [
        [0, 'full-recipe-seed-1', 'full recipe'],
        [1, 'full-recipe-seed-2', 'full recipe'],
        [3, 'no-relu-seed-1', 'no ReLU'],
        [4, 'no-relu-seed-2', 'no ReLU'],
        [5, 'learning-rate-0.1', 'learning rate 0.1'],
      ],
    );
    const all = JSON.stringify(status.rows());
    assert.doesNotMatch(all, /test|50\.00/, 'no test accuracy in the rows');
  });

  it('stopped and failed runs, and runs without labels (a row each, by name, as they come)', () => {
    const status = sweepStatus();
    const stopped = history([[1000, 0.9]], 'stopped');
    stopped.steps = [{ step: 1499 } as History['steps'][number]];
    status.result(result('b', stopped), 1);
    status.result(result('a', history([], 'stopped')), 0);
    status.result(result('c', history([], 'failed'), { error: 'worker 0 exited (code 1)\nstack' }), 2);
    const blewUp = history([], 'diverged');
    blewUp.error = 'training diverged at step 4: the loss is 1319.666259765625 (above 1000) with learning rate 0.8.';
    status.result(result('d', blewUp), 3);
    assert.deepEqual(
      status.rows().map((r) => [r.group, r.seeds, r.state, r.validation]),
      [
        ['a', '', 'not started', '—'],
        ['b', '', 'stopped at step 1,500', '90.00'],
        ['c', '', 'failed: worker 0 exited (code 1)', '—'],
        ['d', '', 'diverged at step 4 (loss 1320)', '—'],
      ],
    );
    assert.equal(status.footer(), '4 of 4 runs done');
  });
});
