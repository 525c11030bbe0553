import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatCount,
  formatDuration,
  formatLoss,
  formatPercent,
  formatSignificant,
  formatSpeed,
} from '../../src/util/text';

describe('number formats for people', () => {
  it('accuracies with two decimals, always', () => {
    assert.equal(formatPercent(0.984), '98.40 %');
    assert.equal(formatPercent(1), '100.00 %');
    assert.equal(formatPercent(0.97846), '97.85 %');
    assert.equal(formatPercent(0.5, 1), '50.0 %');
  });

  it('counts with thousands separators, rounded', () => {
    assert.equal(formatCount(30000), '30,000');
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(1234567.6), '1,234,568');
    assert.equal(formatCount(Number.NaN), 'NaN');
  });

  it('losses with 4 significant digits', () => {
    assert.equal(formatLoss(1319.666259765625), '1320');
    assert.equal(formatLoss(1000), '1000');
    assert.equal(formatLoss(2.302585092994046), '2.303');
    assert.equal(formatLoss(0.0123456), '0.01235');
    assert.equal(formatLoss(0.1), '0.1');
    assert.equal(formatLoss(0), '0');
    assert.equal(formatLoss(-3.14159), '-3.142');
    assert.equal(formatLoss(2.345678e-7), '2.346e-7');
    assert.equal(formatLoss(1.5e12), '1.5e12');
    assert.equal(formatLoss(Number.NaN), 'NaN');
    assert.equal(formatLoss(Number.POSITIVE_INFINITY), 'Infinity');
    assert.equal(formatSignificant(0.7856432, 2), '0.79');
  });

  it('speeds: whole from 100 steps/s, one decimal below', () => {
    assert.equal(formatSpeed(1234.5), '1,235');
    assert.equal(formatSpeed(12.34), '12.3');
    assert.equal(formatSpeed(0), '0.0');
  });

  it('durations', () => {
    assert.equal(formatDuration(44.6), '45 s');
    assert.equal(formatDuration(185), '3 min 05 s');
    assert.equal(formatDuration(3720), '1 h 02 min');
    assert.equal(formatDuration(Number.NaN), 'unknown');
  });
});
