import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { l2Path, lossCrossover, pairEvaluations, summarizePairs } from '../../src/notebook/dynamics';
import type { History } from '../../src/core/history';
import { makeHistory } from '../charts/histories';

/** A history whose recorded steps have these cross-entropies and L2 terms. */
function withLosses(crossEntropy: number[], l2: number[]): History {
  const history = makeHistory();
  history.steps = crossEntropy.map((ce, i) => ({
    ...history.steps[0],
    step: i * 10,
    crossEntropy: ce,
    totalLoss: ce + l2[i],
  }));
  return history;
}

function withValidation(points: [number, number][]): History {
  const history = makeHistory();
  history.evaluations = points.map(([step, validationAccuracy]) => ({ step, validationAccuracy, testAccuracy: 0 }));
  return history;
}

describe('lossCrossover', () => {
  test('finds the first step below the L2 term and the step from which it stays below', () => {
    const crossing = lossCrossover(withLosses([2, 0.1, 0.3, 0.1, 0.05], [0.2, 0.2, 0.2, 0.2, 0.2]));
    assert.deepEqual(crossing, { firstBelow: 10, staysBelowFrom: 30, shareBelow: 0.6, recorded: 5 });
  });

  test('an equal value is not below', () => {
    assert.deepEqual(lossCrossover(withLosses([0.25, 0.5], [0.25, 0.5])), {
      firstBelow: null,
      staysBelowFrom: null,
      shareBelow: 0,
      recorded: 2,
    });
  });

  test('a run that ends above the L2 term has no step from which it stays below', () => {
    const crossing = lossCrossover(withLosses([0.1, 0.3], [0.2, 0.2]));
    assert.equal(crossing.firstBelow, 0);
    assert.equal(crossing.staysBelowFrom, null);
  });

  test('below from the start, and no recorded steps', () => {
    assert.equal(lossCrossover(withLosses([0.1, 0.1], [0.2, 0.2])).staysBelowFrom, 0);
    assert.deepEqual(lossCrossover(withLosses([], [])), {
      firstBelow: null,
      staysBelowFrom: null,
      shareBelow: 0,
      recorded: 0,
    });
  });
});

describe('l2Path', () => {
  test('gives the first, largest and last L2 term with their steps', () => {
    // Values exact in binary, so that total loss - cross-entropy gives them back exactly.
    const path = l2Path(withLosses([1, 1, 1, 1], [0.25, 0.375, 0.125, 0.0625]));
    assert.deepEqual(path, {
      first: { step: 0, value: 0.25 },
      peak: { step: 10, value: 0.375 },
      last: { step: 30, value: 0.0625 },
    });
  });

  test('refuses a history without recorded steps', () => {
    assert.throws(() => l2Path(withLosses([], [])), /no recorded steps/);
  });
});

describe('pairEvaluations and summarizePairs', () => {
  test('pairs the steps both runs evaluated, with the difference in points', () => {
    const a = withValidation([
      [0, 0.1],
      [100, 0.95],
      [200, 0.97],
      [300, 0.98],
    ]);
    const b = withValidation([
      [0, 0.1],
      [100, 0.93],
      [300, 0.985],
    ]);
    const pairs = pairEvaluations(a, b);
    assert.deepEqual(
      pairs.map((p) => p.step),
      [0, 100, 300],
    );
    assert.ok(Math.abs(pairs[1].differencePoints - 2) < 1e-9);
    assert.ok(Math.abs(pairs[2].differencePoints + 0.5) < 1e-9);
    const summary = summarizePairs(pairs);
    assert.equal(summary.count, 3);
    assert.equal(summary.ahead, 1);
    assert.equal(summary.behind, 1);
    assert.equal(summary.equal, 1);
    assert.ok(Math.abs(summary.min! + 0.5) < 1e-9);
    assert.ok(Math.abs(summary.max! - 2) < 1e-9);
  });

  test('an empty span has no range', () => {
    assert.deepEqual(summarizePairs([]), { count: 0, ahead: 0, behind: 0, equal: 0, min: null, max: null });
  });
});
