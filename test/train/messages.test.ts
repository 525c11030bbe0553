import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { History } from '../../src/core/history';
import { formatProgress, formatSummary } from '../../src/train/messages';
import type { Progress } from '../../src/train/trainer';
import { formatDuration } from '../../src/util/text';
import { longHistory, makeHistory } from '../charts/histories';

function progressOf(history: History, step: number, totalSteps: number): Progress {
  return {
    step,
    totalSteps,
    learningRate: 0.8,
    crossEntropy: 0.5,
    stepsPerSecond: 250,
    secondsLeft: (totalSteps - step) / 250,
    latestEvaluation: history.evaluations.at(-1) ?? null,
    history,
  };
}

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

  it('summarises a stopped run with the step it reached, once', () => {
    const history = makeHistory();
    history.status = 'stopped';
    history.error = 'stopped at step 50 of 100';
    history.final = null;
    history.steps = history.steps.slice(0, 5);
    assert.equal(
      formatSummary(history),
      'stopped at step 50 of 100 in 5 s (10.0 steps/s) · validation 87.50 % · test 81.25 % (at step 50)',
    );
    // Interrupted between recorded steps (recorded every 10): the step reached, not the last recorded one + 1.
    history.error = 'stopped at step 2355 of 30000';
    history.steps = longHistory(236).steps;
    history.wallTimeSeconds = 15.7;
    assert.match(formatSummary(history), /^stopped at step 2,355 of 30,000 in 16 s \(150\.0 steps\/s\) · /);
    history.status = 'failed';
    history.error = 'out of memory';
    assert.match(formatSummary(history), /^failed: 2,351 steps in 16 s .* · out of memory$/);
  });
});
