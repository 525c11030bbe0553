/**
 * The real native backend: @tensorflow/tfjs-node on libtensorflow (set up by
 * scripts/setup-native-tf.sh where tfjs-node's own install cannot download it). In CI (CI=true)
 * it must load and these tests fail when it does not; elsewhere, without it, they are skipped
 * with a message that says how to set it up.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setupBackend, type BackendName } from '../../src/engine/backend';
import { loadCheckpoint, saveCheckpoint } from '../../src/store/checkpoint';
import { makeConfig } from '../../src/core/config';
import { loadMnist, type MnistData } from '../../src/data/mnist';
import { createParams, disposeParams, PARAM_NAMES, type ParamName } from '../../src/core/model';
import { Trainer } from '../../src/train/trainer';
import { manualGradients } from '../../src/core/loss';
import { type TrainerState } from '../../src/engine/step-engine';
import { maxAbs, maxAbsDiff } from '../helpers/arrays';
import { packageRoot } from '../../src/util/package-root';
import { NATIVE_SETUP, nativeFailure, nativeSkip } from '../helpers/native';

const root = packageRoot();
const SETUP = NATIVE_SETUP;
const failure = nativeFailure;
const skip = nativeSkip;

// Differences between the backends come from the order of float32 sums: about 1e-7 here. A
// different batch or a missed update would differ by 1e-2 and more.
const GRADIENT_TOLERANCE = 1e-5; // relative to the largest gradient
const PARAM_TOLERANCE = 1e-4; // parameters and averages after 300 steps, absolute
const LOSS_TOLERANCE = 1e-4; // recorded cross-entropies
const ACCURACY_TOLERANCE = 0.001; // 5 of 5,000 validation images

/** The tutorial's recipe, cut to 300 steps with an evaluation every 100. */
const CONFIG = makeConfig({ trainingSteps: 300, evalEvery: 100 });

let data: MnistData;
let tmp: string;

async function use(backend: BackendName): Promise<void> {
  const info = await setupBackend(backend);
  assert.equal(tf.getBackend(), backend);
  assert.equal(info.name, backend);
}

/** Trains `trainer` until `stopAt` (or its end), saving a checkpoint there into `dir`. */
async function trainUntil(trainer: Trainer, stopAt: number, dir: string): Promise<void> {
  const stop = new AbortController();
  const history = await trainer.run({
    signal: stop.signal,
    checkpointEvery: stopAt,
    onCheckpoint: async (state) => {
      if (state.globalStep !== stopAt) return;
      await saveCheckpoint(dir, state);
      stop.abort();
    },
  });
  assert.equal(history.status, 'stopped');
  assert.equal(trainer.globalStep, stopAt);
}

/** The uninterrupted 300-step run on a backend: its final state (computed once per backend). */
const fullRuns = new Map<BackendName, TrainerState>();
async function fullRun(backend: BackendName): Promise<TrainerState> {
  const known = fullRuns.get(backend);
  if (known !== undefined) return known;
  await use(backend);
  const trainer = new Trainer(data, { backend, config: CONFIG });
  try {
    const history = await trainer.run();
    assert.equal(history.status, 'completed');
    const state = trainer.state();
    fullRuns.set(backend, state);
    return state;
  } finally {
    trainer.dispose();
  }
}

/** Two training states agree within float tolerance: parameters, averages, losses, accuracies. */
function assertCloseStates(actual: TrainerState, expected: TrainerState, what: string): void {
  assert.equal(actual.globalStep, expected.globalStep);
  for (const name of PARAM_NAMES) {
    assert.ok(
      maxAbsDiff(actual.params[name]!, expected.params[name]!) <= PARAM_TOLERANCE,
      `${what}: ${name} differs by ${maxAbsDiff(actual.params[name]!, expected.params[name]!)}`,
    );
    assert.ok(
      maxAbsDiff(actual.averages[name]!, expected.averages[name]!) <= PARAM_TOLERANCE,
      `${what}: average of ${name} differs`,
    );
  }
  const actualSteps = actual.history.steps;
  const expectedSteps = expected.history.steps;
  assert.deepEqual(
    actualSteps.map((s) => s.step),
    expectedSteps.map((s) => s.step),
  );
  const lossDiff = maxAbsDiff(
    actualSteps.map((s) => s.crossEntropy),
    expectedSteps.map((s) => s.crossEntropy),
  );
  assert.ok(lossDiff <= LOSS_TOLERANCE, `${what}: recorded cross-entropies differ by ${lossDiff}`);
  assert.deepEqual(
    actual.history.evaluations.map((e) => e.step),
    expected.history.evaluations.map((e) => e.step),
  );
  actual.history.evaluations.forEach((e, i) => {
    const other = expected.history.evaluations[i];
    assert.ok(
      Math.abs(e.validationAccuracy - other.validationAccuracy) <= ACCURACY_TOLERANCE,
      `${what}: validation accuracy at step ${e.step}: ${e.validationAccuracy} vs ${other.validationAccuracy}`,
    );
    assert.ok(
      Math.abs(e.testAccuracy - other.testAccuracy) <= ACCURACY_TOLERANCE,
      `${what}: test accuracy at step ${e.step}`,
    );
  });
}

describe('native TensorFlow backend (tfjs-node)', { skip }, () => {
  before(async () => {
    data = await loadMnist();
    tmp = mkdtempSync(join(tmpdir(), 'native-test-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('loads (required in CI)', () => {
    assert.equal(failure, null, `@tensorflow/tfjs-node does not load: ${failure} (run ${SETUP} after npm ci)`);
  });

  it('is chosen by auto selection and reported as tensorflow, on a real libtensorflow', () => {
    const script = `const tf = require('@tensorflow/tfjs');
      require(${JSON.stringify(join(root, 'dist', 'engine', 'backend.js'))}).setupBackend().then((info) => {
        console.log(JSON.stringify({ ...info, backend: tf.getBackend(), libtensorflow: tf.backend().binding?.TF_Version ?? null }));
      });`;
    // auto's fixed order, without its probe (tested in backend.test.ts).
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: root,
      env: { ...process.env, MNIST_BACKEND: '', MNIST_PROBE: 'off' },
      encoding: 'utf8',
    });
    const info = JSON.parse(out.trim().split('\n').at(-1)!);
    assert.deepEqual(
      { ...info, libtensorflow: undefined },
      {
        name: 'tensorflow',
        provider: '@tensorflow/tfjs-node',
        skipped: [],
        backend: 'tensorflow',
        libtensorflow: undefined,
      },
    );
    assert.match(info.libtensorflow, /^2\.\d+\.\d+/);
  });

  it('runs the recipe from the command line: reported, recorded, and learning', () => {
    const out = join(tmp, 'cli-run');
    const stdout = execFileSync(
      process.execPath,
      [
        join(root, 'dist', 'bin', 'train.js'),
        'train',
        '--steps',
        '300',
        '--eval-every',
        '100',
        '--out',
        out,
        '--no-charts',
      ],
      {
        cwd: root,
        // auto's fixed order: the test is of the native backend, not of auto's probe.
        env: { ...process.env, MNIST_BACKEND: '', MNIST_PROBE: 'off' },
        encoding: 'utf8',
      },
    );
    assert.match(stdout, /^backend: tensorflow \(@tensorflow\/tfjs-node\)$/m);
    assert.match(stdout, /final test accuracy [\d.]+ % after 300 steps in [\d.]+ s on tensorflow/);
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    assert.equal(history.backend, 'tensorflow');
    assert.equal(history.status, 'completed');
    assert.ok(history.final.testAccuracy > 0.93, `test accuracy after 300 steps: ${history.final.testAccuracy}`);
  });

  it('computes the same gradients as wasm', async () => {
    const gradientsOn = async (backend: BackendName): Promise<Record<ParamName, Float32Array>> => {
      await use(backend);
      const params = createParams(CONFIG);
      try {
        return tf.tidy(() => {
          const images = tf.tensor2d(data.train.images.subarray(0, 100 * 784), [100, 784]);
          const labels = tf.tensor1d(data.train.labels.subarray(0, 100), 'int32');
          const { grads } = manualGradients(params, CONFIG, images, labels);
          return Object.fromEntries([...grads].map(([name, g]) => [name, g.dataSync() as Float32Array])) as Record<
            ParamName,
            Float32Array
          >;
        });
      } finally {
        disposeParams(params);
      }
    };
    const native = await gradientsOn('tensorflow');
    const wasm = await gradientsOn('wasm');
    for (const name of PARAM_NAMES) {
      const scale = maxAbs(wasm[name]);
      assert.ok(scale > 0, `${name}: gradient is zero`);
      const diff = maxAbsDiff(native[name], wasm[name]);
      assert.ok(diff <= GRADIENT_TOLERANCE * scale, `${name}: gradients differ by ${diff} (largest ${scale})`);
    }
  });

  it('trains 300 steps as wasm does, within float tolerance', async () => {
    const native = await fullRun('tensorflow');
    const wasm = await fullRun('wasm');
    assert.equal(native.history.backend, 'tensorflow');
    assert.equal(wasm.history.backend, 'wasm');
    assertCloseStates(native, wasm, 'tensorflow vs wasm');
    assert.ok(native.history.evaluations.at(-1)!.testAccuracy > 0.93);
  });

  it('leaks no tensors', async () => {
    await use('tensorflow');
    const baseline = tf.memory().numTensors;
    const trainer = new Trainer(data, { backend: 'tensorflow', config: CONFIG });
    trainer.step(true);
    trainer.evaluate();
    const during = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) trainer.step(i % 10 === 0);
    trainer.evaluate();
    trainer.state();
    assert.equal(tf.memory().numTensors, during);
    trainer.dispose();
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('resumes a checkpoint written on tensorflow on wasm, and one written on wasm on tensorflow', async () => {
    // tensorflow to step 100, wasm to 200, tensorflow to 300: each resume restores the saved
    // state exactly, and the whole agrees with the uninterrupted run.
    const legs: { backend: BackendName; stopAt: number | null }[] = [
      { backend: 'tensorflow', stopAt: 100 },
      { backend: 'wasm', stopAt: 200 },
      { backend: 'tensorflow', stopAt: null },
    ];
    let dir: string | null = null;
    let final: TrainerState | null = null;
    for (const [i, leg] of legs.entries()) {
      await use(leg.backend);
      const saved: TrainerState | null = dir === null ? null : await loadCheckpoint(dir);
      const trainer: Trainer =
        saved === null
          ? new Trainer(data, { backend: leg.backend, config: CONFIG })
          : new Trainer(data, { resume: saved });
      try {
        if (saved !== null) {
          const restored: TrainerState = trainer.state();
          assert.equal(restored.globalStep, saved.globalStep);
          assert.deepEqual(restored.params, saved.params, `leg ${i + 1} (${leg.backend}): parameters restored exactly`);
          assert.deepEqual(
            restored.averages,
            saved.averages,
            `leg ${i + 1} (${leg.backend}): averages restored exactly`,
          );
        }
        if (leg.stopAt !== null) {
          dir = join(tmp, `leg-${i + 1}-${leg.backend}`);
          mkdirSync(dir);
          await trainUntil(trainer, leg.stopAt, dir);
        } else {
          assert.equal((await trainer.run()).status, 'completed');
          final = trainer.state();
        }
      } finally {
        trainer.dispose();
      }
    }
    assertCloseStates(final!, await fullRun('tensorflow'), 'tensorflow/wasm/tensorflow vs tensorflow');
  });
});
