import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drawCharts } from '../../../src/notebook/browser/draw-charts';
import { chartHtml } from '../../../src/notebook/chart-html';
import { lossFigure } from '../../../src/charts/figures';
import { makeHistory } from '../../charts/histories';
import { namesFromOutside } from './page-names';

describe('drawCharts (page code)', () => {
  it('is self-contained: its compiled text needs nothing but the browser', () => {
    assert.deepEqual(namesFromOutside(drawCharts.toString()), []);
  });

  it("is what a chart output's script runs", () => {
    assert.ok(chartHtml(lossFigure(makeHistory())).includes(`(${drawCharts.toString()})(`));
  });
});
