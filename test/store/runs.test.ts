import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { setupBackend } from '../../src/engine/backend';
import { loadWeights, saveCheckpoint } from '../../src/store/checkpoint';
import { makeConfig, type TrainingConfig } from '../../src/core/config';
import type { DataSet, MnistData } from '../../src/data/mnist';
import { paramList } from '../../src/core/model';
import { predict } from '../../src/predict/predict';
import {
  canonicalJson,
  checkRunName,
  dataFingerprint,
  defaultRunsDir,
  listRuns,
  loadRun,
  RunError,
  runKey,
  saveRun,
  type RunMeta,
} from '../../src/store/runs';
import { loadRunModel } from '../../src/store/run-model';
import { trainOrLoad } from '../../src/store/train-or-load';
import type { History } from '../../src/core/history';
import type { RunEvent } from '../../src/train/events';
import { train, Trainer } from '../../src/train/trainer';
import { type TrainerState } from '../../src/engine/step-engine';
import { packageRoot } from '../../src/util/package-root';

/** A small random data set: `count` images of 784 pixels, labels cycling through 0-9. */
function dataSet(count: number, seed: number): DataSet {
  let state = seed;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  const images = new Float32Array(count * 784);
  for (let i = 0; i < count; i++) {
    // A class-dependent block of ink plus noise, so the network can learn something.
    for (let p = 0; p < 784; p++) images[i * 784 + p] = (Math.floor(p / 78) === labels[i] ? 0.8 : 0) + 0.2 * next();
  }
  return { images, labels, count, imageSize: 784, numClasses: 10 };
}

function tinyData(description = 'synthetic test data'): MnistData {
  return { train: dataSet(200, 1), validation: dataSet(50, 2), test: dataSet(60, 3), description };
}

const TINY: Partial<TrainingConfig> = {
  layer1Node: 10,
  trainingSteps: 20,
  evalEvery: 10,
  recordEvery: 5,
  batchSize: 20,
};

let runsDir: string;
const data = tinyData();

before(async () => {
  await setupBackend('cpu');
  runsDir = await mkdtemp(join(tmpdir(), 'mnist-runs-'));
});

after(async () => {
  await rm(runsDir, { recursive: true, force: true });
});

describe('run keys', () => {
  it('canonical JSON ignores key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 3 } }),
      canonicalJson({ a: { c: 3, d: [2, { x: 0, y: 1 }] }, b: 1 }),
    );
  });

  it('depends on every config field, the seed and the data, not on how the config is written', () => {
    const base = runKey(TINY, data);
    assert.equal(runKey({ ...TINY }, tinyData()), base);
    assert.equal(runKey(makeConfig(TINY), data), base, 'defaults filled in give the same key');
    assert.equal(
      runKey({ ...TINY, learningRateBase: 0.8 }, data),
      base,
      'a field set to its default is the same config',
    );
    assert.notEqual(runKey({ ...TINY, seed: 2 }, data), base);
    assert.notEqual(runKey({ ...TINY, regularizationRate: 0 }, data), base);
    assert.notEqual(runKey({ ...TINY, activation: 'linear' }, data), base);
    assert.notEqual(runKey(TINY, tinyData('other data')), base);
    const relabelled = tinyData();
    relabelled.test = { ...relabelled.test, labels: relabelled.test.labels.map((l) => (l + 1) % 10) };
    assert.notEqual(runKey(TINY, relabelled), base, 'same description and sizes, different labels');
    assert.match(
      dataFingerprint(data),
      /^synthetic test data;train:200x784;validation:50x784;test:60x784;labels:[0-9a-f]{16}$/,
    );
  });

  it('rejects run names that are not plain folder names', () => {
    for (const bad of ['', '../x', 'a/b', '.hidden', 'a\\b']) assert.throws(() => checkRunName(bad), RunError, bad);
    assert.equal(checkRunName('lr-0.8_full recipe'), 'lr-0.8_full recipe');
  });

  it('keeps runs in runs/ at the package root unless MNIST_RUNS_DIR says otherwise', () => {
    assert.equal(defaultRunsDir({}), join(packageRoot(), 'runs'));
    assert.equal(defaultRunsDir({ MNIST_RUNS_DIR: '/tmp/elsewhere' }), '/tmp/elsewhere');
  });
});

describe('saveRun and loadRun', () => {
  it('round-trips the history, the description and the weights', async () => {
    const trainer = new Trainer(data, { config: TINY, backend: 'cpu' });
    try {
      await trainer.run();
      const saved = await saveRun(trainer.history, trainer, { name: 'round-trip', runsDir, data });
      const files = (await readdir(saved.dir)).sort();
      assert.deepEqual(files, ['history.json', 'metrics.csv', 'run.json', 'weights.bin', 'weights.json']);
      assert.match(await readFile(join(saved.dir, 'metrics.csv'), 'utf8'), /^step,learning_rate,/);

      const loaded = await loadRun('round-trip', runsDir);
      assert.deepEqual(loaded.history, trainer.history);
      assert.equal(loaded.name, 'round-trip');
      const meta: RunMeta = loaded.meta;
      assert.equal(meta.key, runKey(TINY, data));
      assert.deepEqual(meta.config, makeConfig(TINY));
      assert.equal(meta.seed, 1);
      assert.equal(meta.backend, 'cpu');
      assert.equal(meta.status, 'completed');
      assert.equal(meta.steps, 20);
      assert.equal(meta.finalTestAccuracy, trainer.history.final!.testAccuracy);
      assert.ok(!Number.isNaN(Date.parse(meta.date)));
      assert.deepEqual(await loadRun(saved.dir, '/nonexistent'), loaded, 'by folder path too');

      const before = tf.memory().numTensors;
      const model = await loadRunModel(loaded);
      assert.notEqual(model.averaged, null);
      assert.equal(model.evaluated, model.averaged);
      for (const [name, v] of paramList(model.params))
        assert.deepEqual(v.dataSync(), trainer.params[name]!.dataSync(), name);
      for (const [name, v] of paramList(model.averaged!))
        assert.deepEqual(
          v.dataSync(),
          trainer.average!.average(trainer.params[name]!).dataSync(),
          `average of ${name}`,
        );
      // The loaded model predicts what the trainer's evaluated model predicts.
      const images = data.test.images.subarray(0, 5 * 784);
      const fromRun = predict(model, images, 5);
      const live = predict({ ...trainer.params }, images, 5);
      assert.equal(fromRun.length, 5);
      assert.notDeepEqual(fromRun, live, 'the run predicts with the moving averages');
      model.dispose();
      model.dispose();
      assert.equal(tf.memory().numTensors, before, 'dispose releases every tensor');
    } finally {
      trainer.dispose();
    }
  });

  it('saves a linear model without moving averages', async () => {
    const config = { ...TINY, layer1Node: 0, useMovingAverage: false };
    const { run } = await trainOrLoad(data, { name: 'linear', config, runsDir });
    const model = await loadRunModel('linear', runsDir);
    assert.equal(model.averaged, null);
    assert.equal(model.params.weights2, null);
    assert.deepEqual(model.params.weights1.shape, [784, 10]);
    assert.equal(model.evaluated, model.params);
    model.dispose();
    assert.equal(run.meta.config.layer1Node, 0);
  });

  it('explains a missing run and lists the saved ones', async () => {
    await assert.rejects(loadRun('no-such-run', runsDir), (error: Error) => {
      assert.ok(error instanceof RunError);
      assert.match(error.message, /no-such-run: no saved run here \(saved runs in .*: .*round-trip/);
      return true;
    });
  });

  it('does not take a folder without run.json (an interrupted save) for a run', async () => {
    const saved = await loadRun('round-trip', runsDir);
    const { params, averages } = await loadWeights(saved.dir);
    const state: TrainerState = {
      config: saved.meta.config,
      backend: 'cpu',
      globalStep: saved.meta.steps,
      sampler: { epochRandomState: 0, indexInEpoch: 0, epochsCompleted: 0 },
      params,
      averages,
      history: saved.history,
    };
    const copy = await saveRun(saved.history, state, { name: 'half-saved', runsDir, data });
    assert.equal(copy.meta.key, saved.meta.key, 'a state saves like a trainer');
    await rm(join(copy.dir, 'run.json'));
    assert.ok(!(await listRuns(runsDir)).some((r) => r.name === 'half-saved'));
    await assert.rejects(loadRun('half-saved', runsDir), RunError);
  });
});

describe('trainOrLoad', () => {
  it('reuses a completed run only for the same configuration, seed and data', async () => {
    // Seed 3: no other test trains this configuration.
    const config = { ...TINY, seed: 3 };
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const first = await trainOrLoad(data, { name: 'cache', config, runsDir, log });
    assert.equal(first.reused, false);
    assert.equal(first.history.status, 'completed');
    assert.match(lines.join('\n'), /training cache: 20 steps/);

    const again = await trainOrLoad(data, { name: 'cache', config: { ...config }, runsDir, log });
    assert.equal(again.reused, true);
    assert.deepEqual(again.history, first.history);
    assert.match(lines.at(-1)!, /^reusing saved run cache/);

    const seed = await trainOrLoad(data, { name: 'cache', config: { ...config, seed: 4 }, runsDir });
    assert.equal(seed.reused, false, 'another seed is another run');
    assert.equal(seed.run.meta.seed, 4);
    const field = await trainOrLoad(data, {
      name: 'cache',
      config: { ...config, seed: 4, regularizationRate: 0 },
      runsDir,
    });
    assert.equal(field.reused, false, 'one changed field is another run');
    const otherData = await trainOrLoad(tinyData('other data'), {
      name: 'cache',
      config: { ...config, seed: 4, regularizationRate: 0 },
      runsDir,
    });
    assert.equal(otherData.reused, false, 'other data is another run');

    const forced = await trainOrLoad(tinyData('other data'), {
      name: 'cache',
      config: { ...config, seed: 4, regularizationRate: 0 },
      runsDir,
      force: true,
    });
    assert.equal(forced.reused, false, 'force trains again');
    const back = await trainOrLoad(tinyData('other data'), {
      name: 'cache',
      config: { ...config, seed: 4, regularizationRate: 0 },
      runsDir,
    });
    assert.equal(back.reused, true);
  });

  it('finds a completed run of the same configuration saved under another name', async () => {
    const lines: string[] = [];
    const result = await trainOrLoad(data, {
      name: 'same-as-round-trip',
      config: TINY,
      runsDir,
      log: (l) => lines.push(l),
    });
    assert.equal(result.reused, true);
    assert.equal(result.run.name, 'round-trip');
    assert.match(lines[0], /reusing saved run round-trip \(same configuration as "same-as-round-trip"\)/);
    assert.ok(!existsSync(join(runsDir, 'same-as-round-trip')));
  });

  it('saves a stopped run with its status but never reuses it', async () => {
    const stop = new AbortController();
    const config = { ...TINY, seed: 7 };
    const stopped = await trainOrLoad(data, {
      name: 'stopped',
      config,
      runsDir,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.step >= 5) stop.abort();
      },
    });
    assert.equal(stopped.reused, false);
    assert.equal(stopped.history.status, 'stopped');
    assert.equal(stopped.run.meta.status, 'stopped');
    assert.ok(stopped.run.meta.steps < 20);
    const summary = (await listRuns(runsDir)).find((r) => r.name === 'stopped');
    assert.equal(summary?.status, 'stopped');

    const retrained = await trainOrLoad(data, { name: 'stopped', config, runsDir });
    assert.equal(retrained.reused, false);
    assert.equal(retrained.history.status, 'completed');
  });

  it('saves a diverged run and resolves with its status', async () => {
    const config = { ...TINY, seed: 8, learningRateBase: 1e5, initStddev: 10 };
    const lines: string[] = [];
    const diverged = await trainOrLoad(data, { name: 'diverged', config, runsDir, log: (l) => lines.push(l) });
    assert.equal(diverged.history.status, 'diverged');
    assert.equal(diverged.run.meta.status, 'diverged');
    assert.match(diverged.run.meta.error ?? '', /diverged at step/);
    assert.match(lines.at(-1)!, /run diverged diverged: training diverged .* trained again next time/);
    const again = await trainOrLoad(data, { name: 'diverged', config, runsDir });
    assert.equal(again.reused, false);
  });

  it('lists runs with date, steps, final accuracy and status', async () => {
    const runs = await listRuns(runsDir);
    const byName = new Map(runs.map((r) => [r.name, r]));
    for (const name of ['round-trip', 'linear', 'cache', 'stopped', 'diverged']) assert.ok(byName.has(name), name);
    const roundTrip = byName.get('round-trip')!;
    assert.equal(roundTrip.status, 'completed');
    assert.equal(roundTrip.steps, 20);
    assert.ok(roundTrip.finalTestAccuracy! >= 0 && roundTrip.finalTestAccuracy! <= 1);
    const dates = runs.map((r) => r.date);
    assert.deepEqual(dates, [...dates].sort(), 'oldest first');
    assert.deepEqual(await listRuns(join(runsDir, 'missing')), []);
  });

  it('skips folders that are not runs (CLI outputs, broken run.json)', async () => {
    await writeFile(join(runsDir, 'round-trip', 'extra.txt'), 'x');
    const broken = join(runsDir, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'run.json'), '{not json');
    assert.ok(!(await listRuns(runsDir)).some((r) => r.name === 'broken'));
    await assert.rejects(loadRun('broken', runsDir), /run\.json: not valid JSON/);
  });
});

/** A history without its wall-clock fields, which differ between any two runs. */
function withoutClock(history: History): unknown {
  const { startedAt: _s, finishedAt: _f, wallTimeSeconds: _w, ...rest } = history;
  return { ...rest, evaluations: history.evaluations.map(({ elapsedSeconds: _e, ...evaluation }) => evaluation) };
}

/** The process id of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

describe('unfinished runs continue from their checkpoint', () => {
  const config = { ...TINY, trainingSteps: 40, seed: 11 };
  let uninterrupted: History;

  before(async () => {
    uninterrupted = await train(data, { config, backend: 'cpu' });
  });

  it('a stopped run continues from where it stopped, says so, and ends with the uninterrupted history', async () => {
    const stop = new AbortController();
    const stopped = await trainOrLoad(data, {
      name: 'resumed',
      config,
      runsDir,
      checkpointEvery: 10,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.step >= 15) stop.abort();
      },
    });
    assert.equal(stopped.history.status, 'stopped');
    assert.ok(existsSync(join(stopped.run.dir, 'checkpoint.ckpt')), 'a stopped run keeps its checkpoint');
    const lines: string[] = [];
    const resumed = await trainOrLoad(data, {
      name: 'resumed',
      config,
      runsDir,
      checkpointEvery: 10,
      log: (l) => lines.push(l),
    });
    assert.equal(resumed.resumedFrom, stopped.run.meta.steps);
    assert.match(
      lines[0],
      new RegExp(
        `^resuming resumed from step ${stopped.run.meta.steps} of 40 \\(the checkpoint of saved run resumed \\(stopped\\)\\)$`,
      ),
    );
    assert.equal(resumed.history.status, 'completed');
    assert.deepEqual(withoutClock(resumed.history), withoutClock(uninterrupted));
    assert.deepEqual(
      (await readdir(resumed.run.dir)).sort(),
      ['history.json', 'metrics.csv', 'run.json', 'weights.bin', 'weights.json'],
      'a completed run drops its checkpoint',
    );
    assert.deepEqual(
      (await readdir(runsDir)).filter((f) => f.startsWith('.')),
      [],
      'no workspace left',
    );
  });

  it("a dead writer's workspace is adopted and continued; a live writer's is left alone", async () => {
    const name = 'adopted';
    const config = { ...TINY, trainingSteps: 40, seed: 13 };
    const key = runKey(config, data);
    const trainer = new Trainer(data, { config, backend: 'cpu' });
    for (let i = 0; i < 20; i++) trainer.step(i % config.recordEvery! === 0);
    const state = trainer.state();
    trainer.dispose();
    // What a process killed at step 20 leaves: a workspace with its checkpoint.
    const workspace = (owner: object) => {
      const dir = join(runsDir, `.writing-${Math.random().toString(36).slice(2)}`);
      return mkdir(dir)
        .then(() => saveCheckpoint(dir, state))
        .then(() => writeFile(join(dir, 'partial.json'), JSON.stringify({ key, name, host: hostname(), ...owner })))
        .then(() => dir);
    };
    const live = await workspace({ pid: process.pid });
    const dead = await workspace({ pid: deadPid() });
    const lines: string[] = [];
    const result = await trainOrLoad(data, { name, config, runsDir, checkpointEvery: 10, log: (l) => lines.push(l) });
    assert.equal(result.resumedFrom, 20);
    assert.equal(lines[0], 'resuming adopted from step 20 of 40 (the checkpoint of an unfinished run)');
    // The steps before the checkpoint were taken without recording; the resumed ones record.
    assert.deepEqual(
      result.history.steps.map((s) => s.step),
      [20, 25, 30, 35],
    );
    assert.deepEqual(
      result.history.evaluations.map((e) => e.step),
      [20, 30, 40],
    );
    assert.ok(!existsSync(dead), 'the dead writer’s workspace was taken');
    assert.ok(existsSync(live), 'the live writer’s workspace is untouched');
    await rm(live, { recursive: true });
  });

  it('force starts again at step 0 even when a checkpoint could be resumed', async () => {
    const stop = new AbortController();
    await trainOrLoad(data, {
      name: 'forced',
      config: { ...config, seed: 12 },
      runsDir,
      checkpointEvery: 5,
      signal: stop.signal,
      onProgress: (p) => p.step >= 10 && stop.abort(),
    });
    const forced = await trainOrLoad(data, { name: 'forced', config: { ...config, seed: 12 }, runsDir, force: true });
    assert.equal(forced.resumedFrom, null);
    assert.equal(forced.history.status, 'completed');
  });
});

describe('a completed run goes on to more steps', () => {
  // 2,000 steps are not a multiple of evalEvery: the 2,000-step run's last evaluation is one the longer run never made.
  const config = { ...TINY, trainingSteps: 4000, evalEvery: 300, recordEvery: 100, batchSize: 10, seed: 41 };
  let uninterrupted: History;

  before(async () => {
    uninterrupted = await train(data, { config, backend: 'cpu' });
  });

  it('trainOrLoad with more steps continues a completed run of the same settings: the history of an uninterrupted run', async () => {
    const first = await trainOrLoad(data, { name: 'longer', config: { ...config, trainingSteps: 2000 }, runsDir });
    assert.equal(first.history.status, 'completed');
    assert.equal(first.history.evaluations.at(-1)?.step, 2000);
    const lines: string[] = [];
    const events: RunEvent[] = [];
    const longer = await trainOrLoad(data, {
      name: 'longer',
      config,
      runsDir,
      log: (l) => lines.push(l),
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(events[0], { kind: 'resumed', path: join(runsDir, 'longer'), step: 2000, of: 4000 });
    assert.deepEqual(
      events.slice(1).map((e) => (e.kind === 'evaluation' ? e.evaluation.step : e.kind)),
      [2100, 2400, 2700, 3000, 3300, 3600, 3900, 4000, 'completed'],
    );
    assert.equal(longer.reused, false);
    assert.equal(longer.resumedFrom, 2000);
    assert.equal(lines[0], 'continuing longer from step 2000 of 4000 (saved run longer (completed))');
    assert.deepEqual(withoutClock(longer.history), withoutClock(uninterrupted));
    assert.equal(longer.run.meta.steps, 4000);
    const reusedEvents: RunEvent[] = [];
    const again = await trainOrLoad(data, { name: 'longer', config, runsDir, onEvent: (e) => reusedEvents.push(e) });
    assert.equal(again.reused, true, 'the longer run is now the saved one');
    assert.deepEqual(reusedEvents, [{ kind: 'reused', path: join(runsDir, 'longer'), steps: 4000 }]);
  });

  it('a completed run saved before runs recorded their data order trains from step 0, and says why', async () => {
    const short = { ...TINY, seed: 42 };
    const first = await trainOrLoad(data, { name: 'old-format', config: short, runsDir });
    // What a run saved by an earlier version looks like: run.json without the data order.
    const { sampler: _sampler, ...meta } = first.run.meta;
    await writeFile(join(first.run.dir, 'run.json'), JSON.stringify(meta));
    const lines: string[] = [];
    const longer = await trainOrLoad(data, {
      name: 'old-format',
      config: { ...short, trainingSteps: 40 },
      runsDir,
      log: (l) => lines.push(l),
    });
    assert.equal(longer.resumedFrom, null);
    assert.equal(
      lines[0],
      'saved run old-format (20 steps) cannot be continued: it was saved before runs recorded their data order; training old-format from step 0 instead (the same run, only slower)',
    );
    const reference = await train(data, { config: { ...short, trainingSteps: 40 }, backend: 'cpu' });
    assert.deepEqual(withoutClock(longer.history), withoutClock(reference));
  });

  it('fewer steps than a completed run, or other settings, is another run', async () => {
    const first = await trainOrLoad(data, {
      name: 'shorter',
      config: { ...TINY, seed: 43, trainingSteps: 30 },
      runsDir,
    });
    const shorter = await trainOrLoad(data, { name: 'shorter', config: { ...TINY, seed: 43 }, runsDir });
    assert.equal(shorter.resumedFrom, null);
    assert.equal(shorter.history.evaluations.at(-1)?.step, 20);
    assert.equal(first.run.meta.steps, 30);
    const other = await trainOrLoad(data, {
      name: 'shorter-2',
      config: { ...TINY, seed: 43, trainingSteps: 40, batchSize: 10 },
      runsDir,
    });
    assert.equal(other.resumedFrom, null);
  });
});

/** Runs `trainOrLoad` in a worker thread once every worker is ready; resolves with its result and log. */
function trainInWorker(
  go: Int32Array,
  workerData: object,
): {
  ready: Promise<void>;
  done: Promise<{ reused: boolean; name: string; status: string; history: History; log: string[] }>;
} {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { setupBackend } = require(${JSON.stringify(require.resolve('../../src/engine/backend'))});
    const { trainOrLoad } = require(${JSON.stringify(require.resolve('../../src/store/train-or-load'))});
    (async () => {
      await setupBackend('cpu');
      const log = [];
      parentPort.postMessage({ ready: true });
      Atomics.wait(workerData.go, 0, 0);
      const result = await trainOrLoad(workerData.data, { name: workerData.name, config: workerData.config, runsDir: workerData.runsDir, log: (l) => log.push(l), checkpointEvery: 50 });
      parentPort.postMessage({ reused: result.reused, name: result.run.name, status: result.history.status, history: result.history, log });
    })().catch((error) => parentPort.postMessage({ error: String(error && error.stack || error) }));
  `;
  const worker = new Worker(code, { eval: true, workerData: { ...workerData, go } });
  let ready!: () => void;
  const readyPromise = new Promise<void>((r) => (ready = r));
  const done = new Promise<{ reused: boolean; name: string; status: string; history: History; log: string[] }>(
    (resolveDone, reject) => {
      worker.on('message', (message: { ready?: boolean; error?: string }) => {
        if (message.ready === true) return ready();
        void worker.terminate();
        if (message.error !== undefined) reject(new Error(message.error));
        else resolveDone(message as never);
      });
      worker.on('error', reject);
    },
  );
  return { ready: readyPromise, done };
}

/** Starts workers together (after each has loaded TensorFlow.js) and waits for all. */
async function race(jobs: object[]) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const workers = jobs.map((job) => trainInWorker(go, job));
  await Promise.all(workers.map((w) => w.ready));
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  return Promise.all(workers.map((w) => w.done));
}

describe('the runs folder with concurrent writers', () => {
  const config = { ...TINY, trainingSteps: 300, evalEvery: 100, seed: 21 };

  /** Every run in `dir` is whole: its run.json, history and weights belong together. */
  async function checkConsistent(dir: string): Promise<string[]> {
    const entries = await readdir(dir);
    assert.deepEqual(
      entries.filter((e) => e.startsWith('.')),
      [],
      'no workspace or replaced run left',
    );
    for (const run of await listRuns(dir)) {
      const loaded = await loadRun(run.name, dir);
      assert.equal(
        loaded.meta.key,
        runKey(loaded.history.config, data),
        `${run.name}: run.json and history.json are of one run`,
      );
      assert.equal(loaded.meta.steps, loaded.history.config.trainingSteps);
      const model = await loadRunModel(loaded);
      model.dispose();
    }
    return entries.sort();
  }

  it('two workers training the same configuration under one name at once: one run, both get it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-race-'));
    const results = await race([0, 1].map(() => ({ data, config, name: 'same', runsDir: dir })));
    assert.deepEqual(await checkConsistent(dir), ['same']);
    assert.ok(
      results.every((r) => !r.reused && r.status === 'completed'),
      'both trained at once (a real race)',
    );
    assert.deepEqual(results[0].history, results[1].history, 'both return the published run');
    const losers = results.filter((r) => r.log.some((l) => /completed by another writer meanwhile; using it/.test(l)));
    assert.equal(losers.length, 1, 'the loser reuses the winner’s run');
    console.log(`race, same configuration: winner published, loser log: ${JSON.stringify(losers[0].log.at(-2))}`);
    await rm(dir, { recursive: true });
  });

  it('two workers training different configurations under one name at once: both kept, one under another name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-race-'));
    const results = await race(
      [21, 22].map((seed) => ({ data, config: { ...config, seed }, name: 'shared', runsDir: dir })),
    );
    assert.deepEqual(await checkConsistent(dir), ['shared', 'shared-2']);
    assert.deepEqual(results.map((r) => r.name).sort(), ['shared', 'shared-2']);
    for (const result of results) assert.equal((await loadRun(result.name, dir)).meta.seed, result.history.config.seed);
    await rm(dir, { recursive: true });
  });

  it('readers never see a mixed run while a writer replaces it again and again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-race-'));
    const states = await Promise.all(
      [31, 32].map(async (seed) => {
        const trainer = new Trainer(data, { config: { ...TINY, seed }, backend: 'cpu' });
        await trainer.run();
        const state = { ...trainer.state(), history: trainer.history };
        trainer.dispose();
        return state;
      }),
    );
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const run = await loadRunModel('flip', dir).catch((error: unknown) =>
          error instanceof RunError ? null : Promise.reject(error),
        );
        if (run !== null) {
          const seed = run.config.seed;
          assert.deepEqual(
            run.params.biases2!.dataSync(),
            states[seed - 31].params.biases2,
            'run.json and the weights are of one run',
          );
          run.dispose();
          reads++;
        }
        const loaded = await loadRun('flip', dir).catch((error: unknown) =>
          error instanceof RunError ? null : Promise.reject(error),
        );
        if (loaded !== null)
          assert.equal(loaded.meta.seed, loaded.history.config.seed, 'run.json and history.json of one run');
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Each save replaces the older run of the name, the other configuration.
    for (let i = 0; i < 30; i++)
      await saveRun(states[i % 2].history, states[i % 2], { name: 'flip', runsDir: dir, data });
    writing = false;
    await reader;
    assert.ok(reads > 0);
    assert.deepEqual(await checkConsistent(dir), ['flip']);
    await rm(dir, { recursive: true });
  });
});
