import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chartHtml, chartsHtml, FALLBACK_CLASS, libraryHtml } from '../../src/notebook/chart-html';
import { accuracyFigure, lossFigure, type Figure } from '../../src/charts/figures';
import { longHistory, makeHistory } from '../charts/histories';
import { count, DEFINE_HIDE, FAKE_LIBRARY, FAKE_SVG, fallbackSvgs, PLOTLY_BANNER, stripScripts } from './fake-output';

describe('HTML builders', () => {
  it('libraryHtml hides window.define while plotly.js runs and restores it after', () => {
    const html = libraryHtml(FAKE_LIBRARY);
    const hide = html.indexOf(DEFINE_HIDE);
    const library = html.indexOf(FAKE_LIBRARY);
    const restore = html.indexOf('window.define = window.__mnistChartsSavedDefine');
    assert.ok(hide >= 0 && library > hide && restore > library, 'hide, library, restore in that order');
    // Three separate scripts: a failing library still lets the restore run.
    assert.equal(count(html, '<script>'), 3);
    assert.equal(count(libraryHtml(), PLOTLY_BANNER), 1);
  });

  it('chartHtml puts the static image inside the chart div, and the data in the script', () => {
    const fig = accuracyFigure(longHistory(300), { reference: true });
    const html = chartHtml(fig, { id: 'chart-1', fallbackSvg: FAKE_SVG });
    assert.ok(!html.includes(DEFINE_HIDE));
    assert.deepEqual(fallbackSvgs(html), [FAKE_SVG]);
    const div = html.indexOf('<div id="chart-1"');
    const img = html.indexOf(`<img class="${FALLBACK_CLASS}"`);
    const script = html.indexOf('<script>');
    assert.ok(div >= 0 && img > div && script > img);
    assert.ok(html.includes('"tutorial (reported)"'));
    assert.ok(html.includes('window.Plotly.newPlot('));
    assert.match(html, /alt="Validation and test accuracy"/);
  });

  it('without a static image there is no <img>, with includeLibrary the library comes first', () => {
    const html = chartHtml(lossFigure(makeHistory()), { includeLibrary: true, library: FAKE_LIBRARY });
    assert.ok(!html.includes('<img'));
    assert.ok(html.indexOf(FAKE_LIBRARY) < html.indexOf('<div id="mnist-chart-'));
  });

  it('what an untrusted notebook shows (scripts removed) still has the image', () => {
    const html = chartHtml(lossFigure(makeHistory()), { fallbackSvg: FAKE_SVG });
    assert.deepEqual(fallbackSvgs(stripScripts(html)), [FAKE_SVG]);
  });

  it("reserves a chart's height only where no image is there to show (an image scaled down left a gap under it)", () => {
    const figures = [accuracyFigure(makeHistory(), { height: 360 }), lossFigure(makeHistory(), { height: 360 })];
    const slotStyles = (html: string) =>
      [...html.matchAll(/<div data-chart-slot="\d" style="([^"]*)"/g)].map((m) => m[1]);
    const withImages = slotStyles(chartsHtml(figures, { sideBySide: true, fallbackSvgs: [FAKE_SVG, null] }));
    assert.equal(withImages.length, 2);
    assert.ok(!withImages[0].includes('height'), withImages[0]);
    assert.match(withImages[1], /min-height:360px/);
  });

  it('chartsHtml lays out several charts with a status line, escaped', () => {
    const html = chartsHtml([accuracyFigure(makeHistory()), lossFigure(makeHistory())], {
      status: 'step <1>',
      sideBySide: true,
      fallbackSvgs: [FAKE_SVG, null],
    });
    assert.equal(count(html, 'data-chart-slot='), 2);
    assert.ok(html.includes('step &lt;1&gt;'));
    assert.equal(fallbackSvgs(html).length, 1);
    assert.throws(() => chartsHtml([]), /no figures/);
    assert.throws(() => chartsHtml([lossFigure(makeHistory())], { id: 'x" onload="y' }), /not a usable element id/);
    assert.throws(() => chartsHtml([{ data: 1 } as unknown as Figure]), /expected a figure/);
  });
});
