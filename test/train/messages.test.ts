import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProgress, formatSummary, renderEvent } from '../../src/train/messages';
import { formatDuration } from '../../src/util/text';
import { longHistory, makeHistory, progressOf } from '../charts/histories';

describe('progress text', () => {
  it('formats durations', () => {
    assert.equal(formatDuration(44.6), '45 s');
    assert.equal(formatDuration(185), '3 min 05 s');
    assert.equal(formatDuration(3720), '1 h 02 min');
    assert.equal(formatDuration(Number.NaN), 'unknown');
  });

  it('formats progress before any evaluation and with unknown speed', () => {
    const history = makeHistory();
    history.evaluations = [];
    const text = formatProgress({ ...progressOf(history, 12_340, 30_000), stepsPerSecond: 0, secondsLeft: Number.NaN });
    assert.equal(text, 'step 12,340 / 30,000 (41.1 %) · speed unknown · time left unknown · no evaluation yet');
    assert.match(formatProgress({ ...progressOf(makeHistory(), 5, 30_000), stepsPerSecond: 12.34 }), /12\.3 steps\/s/);
  });

  it('shows the latest validation accuracy, and the test accuracy only when asked', () => {
    const history = makeHistory();
    const progress = progressOf(history, 50, 30_000);
    assert.equal(
      formatProgress(progress),
      `step 50 / 30,000 (0.2 %) · 250 steps/s · ${formatDuration(29_950 / 250)} left · validation 87.50 % (at step 50)`,
    );
    assert.doesNotMatch(formatProgress(progress), /test/);
    assert.match(
      formatProgress(progress, { showTestAccuracy: true }),
      / · validation 87\.50 % · test 81\.25 % \(at step 50\)$/,
    );
  });

  it('summarises a stopped run from its stop reason, with the step it reached, once', () => {
    const history = makeHistory();
    history.status = 'stopped';
    history.error = 'stopped at step 50 of 100';
    history.stop = { reason: 'aborted', step: 50, of: 100, message: null };
    history.final = null;
    history.steps = history.steps.slice(0, 5);
    assert.equal(
      formatSummary(history),
      'stopped at step 50 of 100 in 5 s (10.0 steps/s) · validation 87.50 % (at step 50)',
    );
    assert.equal(
      formatSummary(history, { showTestAccuracy: true }),
      'stopped at step 50 of 100 in 5 s (10.0 steps/s) · validation 87.50 % · test 81.25 % (at step 50)',
    );
    // Interrupted between recorded steps (recorded every 10): the step reached, not the last recorded one + 1.
    history.stop = { reason: 'interrupted', step: 2355, of: 30_000, message: null };
    history.error = 'not read: the stop reason says it';
    history.steps = longHistory(236).steps;
    history.wallTimeSeconds = 15.7;
    assert.match(formatSummary(history), /^interrupted at step 2,355 of 30,000 in 16 s \(150 steps\/s\) · validation /);
    assert.doesNotMatch(formatSummary(history), /not read/);
    history.status = 'failed';
    history.stop = { reason: 'failed', step: 2351, of: 30_000, message: 'out of memory' };
    assert.match(formatSummary(history), /^failed at step 2,351 of 30,000 in 16 s .* · out of memory$/);
  });

  it('summarises a completed run, and one a sweep never started (no stop reason: its error)', () => {
    const history = makeHistory();
    assert.equal(formatSummary(history), 'completed: 50 steps in 5 s (10.0 steps/s) · validation 87.50 % (at step 50)');
    history.status = 'stopped';
    history.stop = null;
    history.error = 'not started: the sweep was stopped';
    assert.match(formatSummary(history), /^stopped: \d+ steps .* · not started: the sweep was stopped$/);
  });
});

describe('renderEvent', () => {
  const evaluation = { step: 12_000, validationAccuracy: 0.984, testAccuracy: 0.9751 };

  it("an evaluation: the tutorial's line and an English one, validation only unless asked", () => {
    assert.deepEqual(renderEvent({ kind: 'evaluation', evaluation }), [
      '训练轮数: 12000 ,准确率: 98.40 %',
      'step 12,000: validation accuracy 98.40 %',
    ]);
    assert.deepEqual(renderEvent({ kind: 'evaluation', evaluation }, { showTestAccuracy: true }), [
      '训练轮数: 12000 ,准确率: 98.40 %',
      'step 12,000: validation accuracy 98.40 %, test accuracy 97.51 %',
    ]);
  });

  it("the end of a run: the tutorial's closing line quotes the test accuracy; the English one only when asked", () => {
    const completed = { kind: 'completed', step: 30_000, validationAccuracy: 0.9842, testAccuracy: 0.984 } as const;
    assert.deepEqual(renderEvent(completed), [
      '训练轮数: 30000 ,测试准确率: 98.40 %',
      'after 30,000 training steps: validation accuracy 98.42 %',
    ]);
    assert.equal(
      renderEvent(completed, { showTestAccuracy: true })[1],
      'after 30,000 training steps: validation accuracy 98.42 %, test accuracy 98.40 %',
    );
    assert.deepEqual(renderEvent({ kind: 'stopped', step: 2355, of: 30_000, interrupted: true }), [
      'interrupted at step 2,355 of 30,000: the history so far is kept',
    ]);
    assert.deepEqual(renderEvent({ kind: 'stopped', step: 5, of: 10, interrupted: false }), [
      'stopped at step 5 of 10: the history so far is kept',
    ]);
    assert.deepEqual(renderEvent({ kind: 'failed', step: 3, message: 'training diverged at step 3', diverged: true }), [
      'training diverged at step 3',
    ]);
  });

  it('reusing and resuming saved runs', () => {
    assert.deepEqual(renderEvent({ kind: 'reused', path: 'runs/notebook-01', steps: 30_000 }), [
      'reusing the completed run in runs/notebook-01 (30,000 steps)',
    ]);
    assert.deepEqual(renderEvent({ kind: 'resumed', path: 'runs/notebook-01', step: 1200, of: 30_000 }), [
      'resuming runs/notebook-01 from step 1,200 of 30,000',
    ]);
  });
});
