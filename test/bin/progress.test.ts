import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bar,
  createProgressDisplay,
  progressMode,
  statusText,
  type ProgressMode,
  type Terminal,
} from '../../src/bin/progress';
import type { Evaluation, History } from '../../src/core/history';
import type { Progress } from '../../src/train/trainer';

function progress(step: number, evaluation: Evaluation | null = null, stepsPerSecond = 250): Progress {
  const totalSteps = 3000;
  return {
    step,
    totalSteps,
    learningRate: 0.8,
    crossEntropy: 0.25,
    stepsPerSecond,
    secondsLeft: stepsPerSecond > 0 ? (totalSteps - step) / stepsPerSecond : Number.NaN,
    latestEvaluation: evaluation,
    history: {} as History,
  };
}

const evaluation = (step: number, validationAccuracy: number): Evaluation => ({
  step,
  validationAccuracy,
  testAccuracy: validationAccuracy - 0.01,
});

/** A display writing to one transcript: printed lines end in "\n", the bar's writes as they are. */
function setUp(mode: ProgressMode, columns = 200, showTestAccuracy = false) {
  let transcript = '';
  let time = 0;
  const terminal: Terminal = { isTTY: mode === 'bar', columns, write: (text) => (transcript += text) };
  const display = createProgressDisplay({
    mode,
    terminal,
    print: (line) => (transcript += `${line}\n`),
    now: () => time,
    showTestAccuracy,
  });
  return { display, transcript: () => transcript, advance: (ms: number) => (time += ms) };
}

const CLEAR_LINE = '\r\u001b[K';

/** What a terminal shows: each CLEAR_LINE wipes the current line. */
function screen(transcript: string): string[] {
  const lines: string[] = [];
  let current = '';
  transcript.split(CLEAR_LINE).forEach((piece, i) => {
    if (i > 0) current = '';
    const [first, ...rest] = piece.split('\n');
    current += first;
    for (const line of rest) {
      lines.push(current);
      current = line;
    }
  });
  return current === '' ? lines : [...lines, current];
}

describe('progress text', () => {
  it('statusText: step, speed, time left, loss and validation accuracy', () => {
    assert.equal(
      statusText(progress(1200, evaluation(1000, 0.9612))),
      'step 1,200/3,000 · 250 steps/s · 7 s left · loss 0.25 · validation 96.12 %',
    );
    assert.equal(
      statusText({ ...progress(0, null, 0), crossEntropy: Number.NaN }),
      'step 0/3,000 · -- steps/s · -- left',
    );
    assert.equal(
      statusText({ ...progress(1200, evaluation(1000, 0.9612)), crossEntropy: 0.0123456 }, { showTestAccuracy: true }),
      'step 1,200/3,000 · 250 steps/s · 7 s left · loss 0.01235 · validation 96.12 % · test 95.12 %',
    );
    assert.equal(statusText(progress(10, null, 12.345)), 'step 10/3,000 · 12.3 steps/s · 4 min 02 s left · loss 0.25');
  });

  it('bar: the share done, clamped', () => {
    assert.equal(bar(0, 3000, 10), '[░░░░░░░░░░]   0 %');
    assert.equal(bar(1500, 3000, 10), '[█████░░░░░]  50 %');
    assert.equal(bar(3000, 3000, 10), '[██████████] 100 %');
    assert.equal(bar(5, 0, 4), '[████] 100 %');
  });

  it('progressMode: the bar only on a terminal, and never when quiet', () => {
    assert.equal(progressMode({ isTTY: true, write: () => true }, false), 'bar');
    assert.equal(progressMode({ isTTY: false, write: () => true }, false), 'lines');
    assert.equal(progressMode({ write: () => true }, false), 'lines');
    assert.equal(progressMode({ isTTY: true, write: () => true }, true), 'quiet');
  });
});

describe('createProgressDisplay', () => {
  it('on a terminal: one line redrawn in place, at most every 200 ms, log lines above it', () => {
    const { display, transcript, advance } = setUp('bar');
    display.event({ kind: 'evaluation', evaluation: evaluation(0, 0.1068) });
    display.update(progress(0, evaluation(0, 0.1068)));
    advance(50);
    display.update(progress(10, evaluation(0, 0.1068)));
    assert.equal(screen(transcript()).at(-1)!.includes('step 0/3,000'), true, 'a redraw within 200 ms is skipped');
    advance(200);
    display.update(progress(60, evaluation(0, 0.1068)));
    assert.match(
      screen(transcript()).at(-1)!,
      /^\[.*\] {3}2 % step 60\/3,000 · 250 steps\/s · 12 s left · loss 0\.25 · validation 10\.68 %$/,
    );
    display.event({ kind: 'evaluation', evaluation: evaluation(1000, 0.9612) });
    // An evaluation is drawn at once, however recent the last redraw.
    display.update(progress(1000, evaluation(1000, 0.9612)));
    const shown = screen(transcript());
    assert.deepEqual(shown.slice(0, 4), [
      '训练轮数: 0 ,准确率: 10.68 %',
      'step 0: validation accuracy 10.68 %',
      '训练轮数: 1000 ,准确率: 96.12 %',
      'step 1,000: validation accuracy 96.12 %',
    ]);
    assert.match(shown[4], /step 1,000\/3,000 .* validation 96\.12 %$/);
    assert.equal(shown.length, 5);
    display.done();
    display.log('final test accuracy 98.00 %');
    assert.deepEqual(screen(transcript()).slice(4), ['final test accuracy 98.00 %']);
  });

  it('on a narrow terminal the line is cut to fit, so that it stays on one row', () => {
    const { display, transcript } = setUp('bar', 40);
    display.update(progress(60, evaluation(0, 0.1)));
    assert.equal(screen(transcript())[0].length, 39);
  });

  it('off a terminal: plain lines, a status line after each evaluation but the first', () => {
    const { display, transcript } = setUp('lines');
    display.event({ kind: 'evaluation', evaluation: evaluation(0, 0.1068) });
    display.update(progress(0, evaluation(0, 0.1068)));
    for (let step = 10; step < 1000; step += 10) display.update(progress(step, evaluation(0, 0.1068)));
    display.event({ kind: 'evaluation', evaluation: evaluation(1000, 0.9612) });
    display.update(progress(1000, evaluation(1000, 0.9612)));
    display.update(progress(1000, evaluation(1000, 0.9612)));
    display.done();
    assert.ok(!transcript().includes('\r') && !transcript().includes('\u001b'), 'no control characters');
    assert.deepEqual(transcript().trimEnd().split('\n'), [
      '训练轮数: 0 ,准确率: 10.68 %',
      'step 0: validation accuracy 10.68 %',
      '训练轮数: 1000 ,准确率: 96.12 %',
      'step 1,000: validation accuracy 96.12 %',
      '  step 1,000/3,000 · 250 steps/s · 8 s left · loss 0.25 · validation 96.12 %',
    ]);
  });

  it('with showTestAccuracy: the test accuracy in the lines of the events and in the status line', () => {
    const { display, transcript } = setUp('lines', 200, true);
    display.event({ kind: 'evaluation', evaluation: evaluation(1000, 0.9612) });
    display.update(progress(1000, evaluation(1000, 0.9612)));
    assert.deepEqual(transcript().trimEnd().split('\n'), [
      '训练轮数: 1000 ,准确率: 96.12 %',
      'step 1,000: validation accuracy 96.12 %, test accuracy 95.12 %',
      '  step 1,000/3,000 · 250 steps/s · 8 s left · loss 0.25 · validation 96.12 % · test 95.12 %',
    ]);
  });

  it('quiet: the tutorial lines of the events, where the run starts, and what is logged as such', () => {
    const { display, transcript } = setUp('quiet');
    display.info('backend: wasm');
    display.event({ kind: 'resumed', path: 'runs/a', step: 500, of: 3000 });
    display.event({ kind: 'evaluation', evaluation: evaluation(1000, 0.9612) });
    display.update(progress(1000, evaluation(1000, 0.9612)));
    display.log('interrupt: stopping after this step and saving');
    display.event({ kind: 'stopped', step: 1001, of: 3000, interrupted: true });
    display.event({ kind: 'completed', step: 3000, validationAccuracy: 0.98, testAccuracy: 0.9795 });
    display.done();
    assert.deepEqual(transcript().trimEnd().split('\n'), [
      'resuming runs/a from step 500 of 3,000',
      '训练轮数: 1000 ,准确率: 96.12 %',
      'interrupt: stopping after this step and saving',
      '训练轮数: 3000 ,测试准确率: 97.95 %',
    ]);
  });
});
