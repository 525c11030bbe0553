import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { createNotebookCharts } from '../../src/notebook/display';
import type { NotebookOutput } from '../../src/notebook/kernel-output';
import { makeConfig } from '../../src/core/config';
import { loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';
import { newHistory, type History } from '../../src/core/history';
import { liveSweep } from '../../src/notebook/live-sweep';
import { compareFigure } from '../../src/charts/figures';
import { expandGrid, spread, summarizeSweep, summaryCsv, summaryMarkdown } from '../../src/sweep/summary';
import { runSweep, type SweepProgress, type SweepResult } from '../../src/sweep/sweep';
import { loadRun } from '../../src/store/runs';
import { train } from '../../src/train/trainer';
import { parseSweepArgs, runSweepCommand } from '../../src/bin/sweep';

let data: MnistData;
let dir: string;

before(async () => {
  await setupBackend('wasm');
  const mnist = await loadMnist();
  data = {
    train: sliceDataSet(mnist.train, 0, 1000),
    validation: sliceDataSet(mnist.validation, 0, 500),
    test: sliceDataSet(mnist.test, 0, 500),
    description: 'MNIST, first 1,000 / 500 / 500',
  };
  dir = await mkdtemp(join(tmpdir(), 'mnist-sweep-test-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A history without what depends on the clock. */
function withoutWallTimes(history: History): unknown {
  const { startedAt: _s, finishedAt: _f, wallTimeSeconds: _w, ...rest } = history;
  return { ...rest, evaluations: history.evaluations.map(({ elapsedSeconds: _e, ...evaluation }) => evaluation) };
}

const tiny = { layer1Node: 20, trainingSteps: 30, evalEvery: 10, recordEvery: 5 };

describe('runSweep', () => {
  it('trains every run on the workers, results in list order, the same histories as this thread; a second sweep loads them', async () => {
    const runsDir = join(dir, 'cache');
    const runs = [1, 2, 3].map((seed) => ({ name: `seed-${seed}`, config: { ...tiny, seed } }));
    const progress: SweepProgress[] = [];
    const results = await runSweep(data, runs, {
      workers: 2,
      runsDir,
      onProgress: (p) => progress.push({ ...p, progress: { ...p.progress } }),
    });
    assert.deepEqual(
      results.map((r) => [r.name, r.history.status, r.reused, r.error]),
      runs.map((r) => [r.name, 'completed', false, null]),
    );
    for (const [i, result] of results.entries()) {
      const here = await train(data, { config: runs[i].config, workers: 1 });
      assert.deepEqual(withoutWallTimes(result.history), withoutWallTimes(here), result.name);
      const saved = await loadRun(result.name, runsDir);
      assert.equal(saved.meta.status, 'completed');
      assert.equal(saved.meta.key, result.run!.meta.key);
    }
    // Progress of every run, with its history growing up to the end.
    for (const [i, run] of runs.entries()) {
      const mine = progress.filter((p) => p.index === i);
      assert.ok(mine.length >= 2, `progress of ${run.name}`);
      assert.ok(mine.every((p) => p.name === run.name));
      assert.equal(mine.at(-1)!.progress.step, 30);
      assert.deepEqual(
        mine.at(-1)!.progress.history.evaluations.map((e) => e.step),
        [0, 10, 20, 30],
      );
    }
    let trained = 0;
    const again = await runSweep(data, runs, { workers: 2, runsDir, onProgress: () => trained++ });
    assert.deepEqual(
      again.map((r) => r.reused),
      [true, true, true],
    );
    assert.equal(trained, 0);
    assert.deepEqual(withoutWallTimes(again[1].history), withoutWallTimes(results[1].history));
  });

  it('an interrupt stops every run after its step, keeps and saves their histories; runs not started say so', async () => {
    const runsDir = join(dir, 'stopped');
    const long = { ...tiny, trainingSteps: 100000, evalEvery: 50 };
    const runs = [1, 2, 3].map((seed) => ({ name: `long-${seed}`, config: { ...long, seed } }));
    const controller = new AbortController();
    const seen = new Map<number, number>();
    const results = await runSweep(data, runs, {
      workers: 2,
      runsDir,
      signal: controller.signal,
      onProgress: ({ index, progress }) => {
        seen.set(index, progress.step);
        if (seen.size === 2 && [...seen.values()].every((step) => step >= 60)) controller.abort();
      },
    });
    for (const result of results.slice(0, 2)) {
      assert.equal(result.history.status, 'stopped', result.name);
      assert.ok(result.history.steps.length >= 12, `${result.name} kept ${result.history.steps.length} records`);
      assert.equal((await loadRun(result.name, runsDir)).meta.status, 'stopped');
    }
    assert.equal(results[2].history.status, 'stopped');
    assert.equal(results[2].history.error, 'not started: the sweep was stopped');
    assert.equal(results[2].run, null);
    assert.equal(existsSync(join(runsDir, 'long-3')), false);
  });

  it('a signal aborted before the sweep starts ends it at once: every run not started', async () => {
    const controller = new AbortController();
    controller.abort();
    const runs = [1, 2].map((seed) => ({ name: `never-${seed}`, config: { ...tiny, seed } }));
    const results = await runSweep(data, runs, {
      workers: 2,
      runsDir: join(dir, 'aborted'),
      signal: controller.signal,
    });
    assert.deepEqual(
      results.map((r) => [r.history.status, r.history.error, r.run]),
      runs.map(() => ['stopped', 'not started: the sweep was stopped', null]),
    );
  });

  it('trains runs of the same settings once; the others get its result', async () => {
    const indexes = new Set<number>();
    const results = await runSweep(
      data,
      [
        { name: 'first', config: { ...tiny, seed: 5 } },
        { name: 'other', config: { ...tiny, seed: 6 } },
        { name: 'same', config: { ...tiny, seed: 5 } },
      ],
      { workers: 2, runsDir: join(dir, 'same'), onProgress: ({ index }) => indexes.add(index) },
    );
    assert.deepEqual([...indexes].sort(), [0, 1]);
    assert.deepEqual(
      results.map((r) => [r.name, r.reused, r.history.status]),
      [
        ['first', false, 'completed'],
        ['other', false, 'completed'],
        ['same', true, 'completed'],
      ],
    );
    assert.equal(results[2].history, results[0].history);
    assert.equal(results[2].run!.name, 'first');
  });

  it('a worker that dies fails its own run; the other worker trains the rest', async () => {
    // A worker is killed as the run named "dies" is handed to it.
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: { type?: string; name?: string }) {
      if (message?.type === 'run' && message.name === 'dies') return void this.terminate();
      return post.call(this, message);
    };
    try {
      const runs = ['a', 'dies', 'b', 'c'].map((name, i) => ({ name, config: { ...tiny, seed: i + 1 } }));
      const results = await runSweep(data, runs, { workers: 2, runsDir: join(dir, 'dies') });
      assert.match(results[1].error ?? '', /worker \d exited/);
      assert.equal(results[1].history.status, 'failed');
      for (const i of [0, 2, 3]) assert.equal(results[i].history.status, 'completed', runs[i].name);
    } finally {
      Worker.prototype.postMessage = post;
    }
  });

  it('workers that cannot start fail their runs with the reason instead of hanging', async () => {
    // A backend no worker can start, whatever is installed (tensorflow starts where tfjs-node is set up).
    const backend = 'no-such-backend' as 'wasm';
    const results = await runSweep(
      data,
      [
        { name: 'a', config: tiny },
        { name: 'b', config: tiny },
      ],
      { workers: 2, runsDir: join(dir, 'none'), backend },
    );
    for (const result of results) {
      assert.match(result.error ?? '', /every worker failed.*backend "no-such-backend" could not be started/);
      assert.equal(result.run, null);
    }
  });

  it('refuses a repeated or unusable run name and an invalid config before starting', async () => {
    await assert.rejects(runSweep(data, [{ name: 'x' }, { name: 'x' }]), /run name "x" appears twice \(runs\[1\]\)/);
    await assert.rejects(runSweep(data, [{ name: 'a/b' }]), /a run name cannot contain/);
    await assert.rejects(
      runSweep(data, [{ name: 'ok', config: { learningRateBase: -1 } }]),
      /learningRateBase must be a number > 0/,
    );
  });
});

/** A result as runSweep gives it, with a final accuracy (or none, for a run that did not complete). */
function result(name: string, config: Record<string, unknown>, final: [number, number] | null): SweepResult {
  const full = makeConfig(config);
  const history = newHistory('wasm', full, 'test');
  history.status = final === null ? 'diverged' : 'completed';
  history.final =
    final === null ? null : { step: full.trainingSteps, validationAccuracy: final[0], testAccuracy: final[1] };
  return { name, config: full, history, reused: false, run: null, error: null };
}

describe('sweep summaries', () => {
  it('expandGrid gives the product of the lists, the first key varying slowest', () => {
    assert.deepEqual(expandGrid({ a: [1, 2], b: ['x', 'y'] }), [
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    assert.throws(() => expandGrid({ a: [] }), /"a" has no values/);
  });

  it('groups runs by configuration apart from the seed: mean, sample standard deviation and range; incomplete runs left out', () => {
    const rows = summarizeSweep([
      result('a1', { learningRateBase: 0.1, seed: 1 }, [0.97, 0.96]),
      result('b1', { learningRateBase: 0.8, seed: 1 }, [0.98, 0.981]),
      result('a2', { learningRateBase: 0.1, seed: 2 }, [0.99, 0.98]),
      result('b2', { learningRateBase: 0.8, seed: 2 }, null),
    ]);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0].settings, { learningRateBase: 0.1 });
    assert.deepEqual(rows[0].seeds, [1, 2]);
    assert.equal(rows[0].incomplete, 0);
    assert.ok(Math.abs(rows[0].test!.mean - 0.97) < 1e-12);
    assert.ok(Math.abs(rows[0].test!.sd - Math.SQRT2 * 0.01) < 1e-12);
    assert.equal(rows[1].incomplete, 1);
    assert.deepEqual(
      { ...rows[1].test!, mean: Math.round(rows[1].test!.mean * 1000) },
      { count: 1, mean: 981, sd: 0, min: 0.981, max: 0.981 },
    );
    assert.equal(spread([]), null);
    const csv = summaryCsv(rows).trim().split('\n');
    assert.equal(
      csv[0],
      'learningRateBase,seeds,completed,validation_mean_pct,validation_sd_pct,test_mean_pct,test_sd_pct,test_min_pct,test_max_pct',
    );
    assert.equal(csv[1], '0.1,1 2,2,98.00,1.414,97.00,1.414,96.00,98.00');
    assert.equal(csv[2], '0.8,1 2,1,98.00,0.000,98.10,0.000,98.10,98.10');
    const markdown = summaryMarkdown(rows).trim().split('\n');
    assert.equal(
      markdown[0],
      '| learningRateBase | seeds | completed | validation accuracy (%) | test accuracy (%) | test range (%) |',
    );
    assert.equal(markdown[2], '| 0.1 | 1, 2 | 2/2 | 98.00 ± 1.41 | 97.00 ± 1.41 | 96.00–98.00 |');
    assert.equal(markdown[3], '| 0.8 | 1, 2 | 1/2 | 98.00 ± 0.00 | 98.10 ± 0.00 | 98.10–98.10 |');
  });
});

describe('liveSweep', () => {
  it('redraws one output in place with every run, at most every intervalMs, and draws the final chart with a static image', async () => {
    const outputs: string[] = [];
    const slots: string[][] = [];
    const output: NotebookOutput = {
      html: (html) => outputs.push(html),
      newDisplay: () => {
        const slot: string[] = [];
        slots.push(slot);
        return { html: (html) => slot.push(html) };
      },
      note: (line) => assert.fail(line),
    };
    const charts = createNotebookCharts({
      output,
      renderSvg: async (figures) => figures.map(() => '<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
      library: '/* plotly */',
    });
    let clock = 0;
    const live = liveSweep({ charts, output, intervalMs: 1000, now: () => clock });
    const histories = [0, 1].map((seed) => newHistory('wasm', makeConfig({ seed }), 'test'));
    const report = (index: number, step: number) => {
      histories[index].evaluations.push({ step, validationAccuracy: 0.5 + step / 1000, testAccuracy: 0.5 });
      live.onProgress({
        index,
        name: `run ${index}`,
        progress: {
          step,
          totalSteps: 100,
          learningRate: 0.8,
          crossEntropy: 1,
          stepsPerSecond: 10,
          secondsLeft: 1,
          latestEvaluation: null,
          history: histories[index],
        },
      });
    };
    report(0, 0);
    report(1, 0);
    clock = 500;
    report(0, 10);
    clock = 1200;
    report(1, 10);
    assert.equal(live.stats.calls, 4);
    assert.equal(live.stats.redraws, 2);
    assert.equal(outputs.length, 1, 'plotly.js in an output of its own');
    assert.equal(slots.length, 1);
    assert.match(slots[0][1], /<td[^>]*>run 0<\/td><td[^>]*><\/td><td[^>]*>step 10\/100<\/td><td[^>]*>51\.00<\/td>/);
    assert.match(slots[0][1], /<td[^>]*>run 1<\/td><td[^>]*><\/td><td[^>]*>step 10\/100<\/td>/);
    assert.match(slots[0][1], /"name":"run 1"/);
    assert.ok(
      slots[0][1].indexOf('data-chart-slot') < slots[0][1].indexOf('mnist-sweep-status'),
      'the chart first, the table under it',
    );
    const final = histories.map((history, i) => ({
      ...history,
      status: 'completed' as const,
      final: { step: 10, validationAccuracy: 0.51, testAccuracy: 0.5 },
      wallTimeSeconds: i + 1,
    }));
    await live.finish(
      final.map((history, i) => ({
        name: `run ${i}`,
        config: history.config,
        history,
        reused: i === 1,
        run: null,
        error: null,
      })),
    );
    const last = slots[0].at(-1)!;
    assert.match(last, /<img class="mnist-chart-fallback"/);
    assert.match(
      last,
      /<td[^>]*>run 1<\/td><td[^>]*><\/td><td[^>]*>completed \(saved run\)<\/td><td[^>]*>51\.00<\/td>/,
    );
    assert.match(last, /2 of 2 runs done/);
    assert.doesNotMatch(last, /test/i, 'validation only: the test set is looked at once, at the end');
    // The session now has plotly.js: the next chart of the notebook does not carry it again.
    assert.equal(charts.libraryInlined, true);
    assert.doesNotMatch(
      charts.outputHtml([compareFigure([{ name: 'run 0', history: final[0] }], 'validationAccuracy')]),
      /\/\* plotly \*\//,
    );
  });
});

describe('liveSweep of variants over seeds', () => {
  it('a colour and legend entry per variant, a dash per seed, a table row per variant under the chart', async () => {
    const slots: string[] = [];
    const output: NotebookOutput = {
      html: () => undefined,
      newDisplay: () => ({ html: (html) => slots.push(html) }),
      note: (line) => assert.fail(line),
    };
    const charts = createNotebookCharts({ output, renderSvg: null, library: '/* plotly */' });
    const runs = [
      { variant: 'full recipe', seed: 1 },
      { variant: 'full recipe', seed: 2 },
      { variant: 'no L2', seed: 1 },
    ];
    const live = liveSweep({ charts, output, intervalMs: 0, runs });
    const results = runs.map((run, i): SweepResult => {
      const history = newHistory('wasm', makeConfig({ seed: run.seed }), 'test');
      history.status = 'completed';
      history.evaluations = [0, 10].map((step) => ({ step, validationAccuracy: 0.9 + i / 100, testAccuracy: 0.5 }));
      history.final = { step: 10, validationAccuracy: 0.9 + i / 100, testAccuracy: 0.5 };
      return { name: `run-${i}`, config: history.config, history, reused: false, run: null, error: null };
    });
    await live.finish(results);
    const html = slots.at(-1)!;
    const figures = JSON.parse(/"figures":(\[.*?\]),"config":/s.exec(html)![1]) as {
      data: { name: string; legendgroup: string; showlegend?: boolean; line: { color: string; dash: string } }[];
    }[];
    const data = figures[0].data;
    assert.deepEqual(
      data.map((t) => [t.name, t.legendgroup, t.showlegend !== false, t.line.dash]),
      [
        ['full recipe', 'full recipe', true, 'solid'],
        ['full recipe', 'full recipe', false, 'dash'],
        ['no L2', 'no L2', true, 'solid'],
      ],
    );
    assert.equal(data[0].line.color, data[1].line.color);
    assert.notEqual(data[0].line.color, data[2].line.color);
    assert.match(
      html,
      /<td[^>]*>full recipe<\/td><td[^>]*>1 2<\/td><td[^>]*>2 completed<\/td><td[^>]*>90\.00 · 91\.00<\/td>/,
    );
    assert.match(html, /<td[^>]*>no L2<\/td><td[^>]*>1<\/td><td[^>]*>completed<\/td><td[^>]*>92\.00<\/td>/);
    assert.ok(html.indexOf('data-chart-slot') < html.indexOf('mnist-sweep-status'), 'the chart first');
  });
});

describe('npm run sweep', () => {
  it('expands comma lists into their product, with every train flag, and reports all problems at once', () => {
    const options = parseSweepArgs([
      '--learning-rate',
      '0.1,0.4',
      '--seeds',
      '1,2,3',
      '--steps=200',
      '--workers',
      '2',
      '--runs-dir',
      dir,
      '--force',
    ]);
    assert.equal(options.runs.length, 6);
    assert.deepEqual(options.runs[0], {
      config: { learningRateBase: 0.1, seed: 1, trainingSteps: 200 },
      label: 'learning-rate-0.1_seed-1',
      group: 'learning-rate 0.1',
    });
    assert.deepEqual(options.runs[5].config, { learningRateBase: 0.4, seed: 3, trainingSteps: 200 });
    assert.equal(options.workers, 2);
    assert.equal(options.force, true);
    assert.throws(
      () => parseSweepArgs(['--learning-rate', '0.1,-2', '--resume', 'x', '--workers', '0', '--bogus', '1']),
      (error: Error & { problems?: string[] }) => {
        assert.deepEqual(error.problems, [
          '--resume is a flag of single runs, not of sweeps',
          '--workers must be a whole number of threads from 1 to 256, got "0"',
          'unknown flag --bogus',
          '--learning-rate: must be a number > 0 and <= 1000000, got -2',
        ]);
        return true;
      },
    );
  });

  it('trains the runs, saves each, and writes the summary as CSV and Markdown', async () => {
    const runsDir = join(dir, 'cli');
    const out = join(dir, 'cli-summary');
    const lines: string[] = [];
    const status = await runSweepCommand(
      [
        '--steps',
        '20',
        '--layer1-node',
        '10,20',
        '--eval-every',
        '10',
        '--seeds',
        '1,2',
        '--runs-dir',
        runsDir,
        '--out',
        out,
        '-q',
      ],
      (line) => lines.push(line),
    );
    assert.equal(status, 0);
    const csv = (await readFile(join(out, 'summary.csv'), 'utf8')).trim().split('\n');
    assert.equal(csv.length, 3);
    assert.match(csv[1], /^10,1 2,2,/);
    assert.match(csv[2], /^20,1 2,2,/);
    assert.match(await readFile(join(out, 'summary.md'), 'utf8'), /\| layer1Node \| seeds \|/);
    assert.ok(lines.some((line) => line.includes('| 20 | 1, 2 | 2/2 |')));
  });
});
