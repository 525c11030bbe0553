import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { History } from '../../src/core/history';
import { createSweepDisplay, sweepTableLines, sweepTotal } from '../../src/bin/sweep';
import { makeConfig } from '../../src/core/config';
import { sweepStatus } from '../../src/sweep/status';
import type { SweepProgress, SweepResult } from '../../src/sweep/sweep';
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

describe('the sweep display', () => {
  const labels = [
    { group: 'learning-rate 0.1', seed: 1 },
    { group: 'learning-rate 0.1', seed: 2 },
    { group: 'learning-rate 0.4', seed: 1 },
  ];
  const history = (validation: number | null, status: History['status'] = 'running'): History =>
    ({
      status,
      error: null,
      evaluations: validation === null ? [] : [{ step: 100, validationAccuracy: validation, testAccuracy: 0.5 }],
      steps: [],
    }) as unknown as History;
  const report = (index: number, step: number, h: History): SweepProgress => ({
    index,
    name: `run-${index}`,
    progress: { ...run(step, 1000), history: h },
  });
  const result = (index: number, h: History): SweepResult => ({
    name: `run-${index}`,
    config: makeConfig({}),
    history: h,
    reused: false,
    run: null,
    error: null,
  });

  it('on a terminal: a table of the configurations, redrawn in place (cursor up, clear), log lines above it', () => {
    let out = '';
    const printed: string[] = [];
    let now = 0;
    const display = createSweepDisplay({
      mode: 'bar',
      labels,
      totals: [1000, 1000, 1000],
      print: (line) => {
        out += `${line}\n`;
        printed.push(line);
      },
      terminal: { isTTY: true, columns: 100, rows: 40, write: (text) => (out += text) },
      now: () => now,
    });
    display.progress(report(0, 100, history(0.9)));
    const first = out;
    const lines = first.split('\n');
    assert.equal(lines.length, 5, 'header, rule, two rows, the total');
    assert.match(lines[0], /^run\s+seeds\s+state\s+validation \(%\)$/);
    assert.match(lines[2], /^learning-rate 0\.1\s+1 2\s+step 100\/1,000 · waiting\s+90\.00 · —$/);
    assert.match(lines[3], /^learning-rate 0\.4\s+1\s+waiting\s+—$/);
    assert.match(lines[4], /^\[.*\]\s+3 %\s+0 of 3 runs done · 1 training · 2 waiting$/);
    out = '';
    now = 100;
    display.progress(report(0, 200, history(0.9)));
    assert.equal(out, '', 'no redraw within minIntervalMs');
    display.result(result(0, history(0.95, 'completed')), 0);
    assert.ok(out.startsWith('\r\x1b[4A\x1b[J'), `back up 4 lines and clear: ${JSON.stringify(out.slice(0, 20))}`);
    assert.match(out, /completed · waiting\s+95\.00 · —/);
    out = '';
    display.log('a note');
    assert.ok(
      out.startsWith('\r\x1b[4A\x1b[Ja note\n'),
      'the table is cleared, the line printed, the table drawn under it',
    );
    assert.match(out, /learning-rate 0\.4/);
    display.done();
    assert.ok(out.endsWith('\n'), 'the table stays, later lines under it');
    out = '';
    display.done();
    display.progress(report(1, 300, history(0.9)));
    assert.equal(out, '', 'nothing drawn after done');
    assert.doesNotMatch(first, /test|50\.00/, 'validation only');
  });

  it('cuts lines to the terminal width and the table to its height, finished rows first', () => {
    const status = sweepStatus(Array.from({ length: 10 }, (_, i) => ({ group: `configuration ${i}`, seed: 1 })));
    for (let i = 0; i < 6; i++) status.result(result(i, history(0.9, 'completed')), i);
    const total = { step: 0, totalSteps: 10, stepsPerSecond: 0, secondsLeft: Number.NaN };
    const lines = sweepTableLines(status, total, { columns: 30, rows: 10 });
    assert.ok(lines.length <= 9, `${lines.length} lines on a terminal of 10`);
    assert.ok(lines.every((line) => line.length < 30));
    const all = sweepTableLines(status, total, { rows: 10 });
    assert.ok(
      all.some((line) => line.startsWith('configuration 9')),
      'rows still training stay',
    );
    assert.ok(!all.some((line) => line.startsWith('configuration 0')), 'finished rows leave first');
    assert.ok(all.includes('(5 more rows not shown)'));
  });

  it('elsewhere the lines given to log, and nothing at all when quiet', () => {
    for (const mode of ['lines', 'quiet'] as const) {
      const printed: string[] = [];
      let written = '';
      const display = createSweepDisplay({
        mode,
        labels,
        totals: [1000, 1000, 1000],
        print: (line) => printed.push(line),
        terminal: { write: (text) => (written += text) },
      });
      display.log('run-0: started');
      display.progress(report(0, 100, history(0.9)));
      display.result(result(0, history(0.95, 'completed')), 0);
      display.done();
      assert.equal(written, '', mode);
      assert.deepEqual(printed, mode === 'lines' ? ['run-0: started'] : [], mode);
    }
  });
});
