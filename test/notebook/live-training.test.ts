import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNotebookCharts, type SvgRenderer } from '../../src/notebook/display';
import type { NotebookOutput } from '../../src/notebook/kernel-output';
import { lossFigure } from '../../src/charts/figures';
import { longHistory, makeHistory, progressOf } from '../charts/histories';
import { count, DEFINE_HIDE, FAKE_LIBRARY, FAKE_SVG, fakeOutput, fallbackSvgs } from './fake-output';

describe('liveTraining', () => {
  it('redraws one output at most every intervalMs, without the library or images', async () => {
    const { output, outputs, slots } = fakeOutput();
    let clock = 0;
    let rendered = 0;
    const counting: SvgRenderer = async (figures) => {
      rendered++;
      return figures.map(() => FAKE_SVG);
    };
    const charts = createNotebookCharts({ output, renderSvg: counting, library: FAKE_LIBRARY });
    const live = charts.liveTraining({ now: () => clock, reference: true });
    const history = makeHistory();
    // 1,000 progress calls 10 ms apart: 10 s of training.
    for (let i = 0; i < 1000; i++) {
      live.onProgress(progressOf(history, i, 1000));
      clock += 10;
    }
    assert.equal(live.stats.calls, 1000);
    assert.equal(live.stats.redraws, 5);
    assert.equal(rendered, 0, 'no static images during training');
    // A separate output carried the library; the live output is a single display slot.
    assert.equal(outputs.length, 1);
    assert.ok(outputs[0].includes(FAKE_LIBRARY));
    assert.equal(slots.length, 1);
    // The output is made with the live display, before any progress: above the run's log.
    assert.equal(slots[0].length, 6);
    assert.match(slots[0][0], /the charts appear here/);
    assert.equal(count(slots[0][0], 'data-chart-slot='), 0);
    slots[0].shift();
    for (const frame of slots[0]) {
      assert.ok(!frame.includes(FAKE_LIBRARY) && !frame.includes(DEFINE_HIDE) && !frame.includes('<img'));
      assert.equal(count(frame, 'data-chart-slot='), 2);
    }
    assert.match(
      slots[0][0],
      /step 0 \/ 1,000 \(0\.0 %\) · 250 steps\/s · 4 s left · validation 87\.50 % \(at step 50\)/,
    );
    assert.match(slots[0][4], /step 800 \/ 1,000/);

    history.wallTimeSeconds = 10;
    await live.finish({ name: 'tutorial', history });
    assert.equal(rendered, 1);
    assert.equal(slots.length, 1, 'finish draws in the same output');
    const last = slots[0].at(-1)!;
    assert.deepEqual(fallbackSvgs(last), [FAKE_SVG, FAKE_SVG]);
    assert.match(last, /completed: 50 steps in 10 s/);
    assert.ok(!last.includes(FAKE_LIBRARY));
  });

  it('draws validation accuracy only, unless asked for the test accuracy too', async () => {
    const frames = (showTestAccuracy?: boolean) => {
      const { output, slots } = fakeOutput();
      const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
      charts
        .liveTraining({ now: () => 0, intervalMs: 0, showTestAccuracy })
        .onProgress(progressOf(makeHistory(), 10, 100));
      return slots[0].slice(1).join('\n');
    };
    const hidden = frames();
    assert.match(hidden, /Validation accuracy/);
    assert.doesNotMatch(hidden, /test|Test/);
    assert.match(frames(true), /Validation and test accuracy/);
  });

  it('keeps each update small and cheap for a long run', () => {
    const { output, slots } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
    const live = charts.liveTraining({ intervalMs: 0 });
    const history = longHistory(3000);
    const rounds = 20;
    for (let i = 0; i < rounds; i++) live.onProgress(progressOf(history, 30_000, 30_000));
    const frame = slots[0][0];
    assert.ok(frame.length < 80_000, `an update is ${frame.length} characters`);
    const perRedraw = live.stats.redrawMs / live.stats.redraws;
    // Against the default 2 s interval, a redraw must cost far below 5 % (100 ms).
    assert.ok(perRedraw < 40, `a redraw takes ${perRedraw.toFixed(1)} ms`);
    assert.ok(live.stats.redraws >= 1);
  });

  it('costs next to nothing between redraws', () => {
    const { output } = fakeOutput();
    const live = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY }).liveTraining();
    const progress = progressOf(longHistory(3000), 10, 30_000);
    live.onProgress(progress);
    const start = performance.now();
    for (let i = 0; i < 100_000; i++) live.onProgress(progress);
    const perCall = (performance.now() - start) / 100_000;
    assert.equal(live.stats.redraws, 1);
    assert.ok(perCall < 0.01, `a skipped call takes ${perCall} ms`);
  });

  it('sends the library only if the session has not yet', async () => {
    const { output, outputs, slots } = fakeOutput();
    const charts = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY });
    await charts.show(lossFigure(makeHistory()));
    const live = charts.liveTraining();
    live.onProgress(progressOf(makeHistory(), 1, 10));
    assert.equal(outputs.length, 1);
    assert.equal(slots.length, 1);
    await live.finish(makeHistory());
    assert.equal(slots[0].length, 3);
  });

  it('never stops the training: a failing display is noted once and left alone', () => {
    const notes: string[] = [];
    let writes = 0;
    const output: NotebookOutput = {
      html: () => undefined,
      newDisplay: () => ({
        html: () => {
          writes++;
          throw new Error('Not ready');
        },
      }),
      note: (line) => notes.push(line),
    };
    const live = createNotebookCharts({ output, renderSvg: null, library: FAKE_LIBRARY }).liveTraining({
      intervalMs: 0,
    });
    const progress = progressOf(makeHistory(), 1, 10);
    assert.doesNotThrow(() => {
      for (let i = 0; i < 5; i++) live.onProgress(progress);
    });
    assert.equal(writes, 1);
    assert.equal(live.stats.redraws, 0);
    assert.deepEqual(notes, ['charts: live display stopped (Not ready); training goes on']);
  });

  it('rejects a bad interval', () => {
    const charts = createNotebookCharts({ output: fakeOutput().output, renderSvg: null });
    assert.throws(() => charts.liveTraining({ intervalMs: -1 }), /intervalMs/);
  });
});
