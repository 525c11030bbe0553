import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackendError, backendFromEnv, describeBackend, parseBackendChoice } from '../../src/engine/backend';
import { packageRoot } from '../../src/util/package-root';

const root = packageRoot();
const preload = join(root, 'test', 'fixtures', 'fake-native', 'preload.js');

/**
 * What `require('@tensorflow/tfjs-node')` finds in a child process, whether or not the real
 * package is installed: nothing, or the stand-in that registers a cpu-backed `tensorflow`.
 * (The real native backend is tested in native.test.ts.)
 */
type Native = 'missing' | 'fake';

/** Runs a script in a fresh process (the backend registry is per process); returns its last line. */
function runInChild(script: string, native: Native, env: NodeJS.ProcessEnv = {}): string {
  const out = execFileSync(process.execPath, ['-r', preload, '-e', script], {
    cwd: root,
    env: { ...process.env, MNIST_BACKEND: '', FAKE_NATIVE: native, ...env },
    encoding: 'utf8',
  });
  return out.trim().split('\n').at(-1)!;
}

/** Runs setupBackend in a fresh process and returns its report. */
function setupInChild(
  choice: string | undefined,
  native: Native,
  env: NodeJS.ProcessEnv = {},
): { name: string; provider: string; skipped: { name: string }[] } {
  const script = `require(${JSON.stringify(join(root, 'dist', 'engine', 'backend.js'))}).setupBackend(${choice === undefined ? '' : JSON.stringify(choice)})
    .then((info) => { console.log(JSON.stringify(info)); }, (error) => { console.log(JSON.stringify({ error: error.message })); });`;
  return JSON.parse(runInChild(script, native, env));
}

describe('backend choice', () => {
  it('falls back to wasm when native TensorFlow is not installed, and says why', () => {
    const info = setupInChild(undefined, 'missing');
    assert.equal(info.name, 'wasm');
    assert.deepEqual(
      info.skipped.map((s) => s.name),
      ['tensorflow'],
    );
  });

  it('prefers native TensorFlow when @tensorflow/tfjs-node loads', () => {
    const info = setupInChild(undefined, 'fake');
    assert.equal(info.name, 'tensorflow');
    assert.equal(info.provider, '@tensorflow/tfjs-node');
    assert.deepEqual(info.skipped, []);
  });

  it('trains on the native backend and records it in the history', () => {
    const dist = join(root, 'dist');
    const script = `
      const { setupBackend } = require(${JSON.stringify(join(dist, 'engine', 'backend.js'))});
      const { mnistFromBytes } = require(${JSON.stringify(join(dist, 'data', 'mnist.js'))});
      const { Trainer } = require(${JSON.stringify(join(dist, 'train', 'trainer.js'))});
      const idx = (magic, dims, values) => {
        const header = Buffer.alloc(4 + 4 * dims.length);
        header.writeUInt32BE(magic, 0);
        dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
        return Buffer.concat([header, Buffer.from(values)]);
      };
      const images = (n) => idx(0x803, [n, 28, 28], Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256));
      const labels = (n) => idx(0x801, [n], Array.from({ length: n }, (_, i) => i % 10));
      setupBackend().then(async (info) => {
        const data = mnistFromBytes({ trainImages: images(60), trainLabels: labels(60), testImages: images(20), testLabels: labels(20) });
        const trainer = new Trainer(data, { backend: info.name, config: { layer1Node: 8, batchSize: 10, trainingSteps: 3, evalEvery: 3, recordEvery: 1 } });
        const history = await trainer.run();
        trainer.dispose();
        console.log(JSON.stringify({ backend: history.backend, steps: history.steps.length, status: history.status }));
      });`;
    assert.deepEqual(JSON.parse(runInChild(script, 'fake')), { backend: 'tensorflow', steps: 3, status: 'completed' });
  });

  it('honours MNIST_BACKEND and an explicit choice', () => {
    assert.equal(setupInChild(undefined, 'fake', { MNIST_BACKEND: 'cpu' }).name, 'cpu');
    assert.equal(setupInChild('wasm', 'fake').name, 'wasm');
  });

  it('fails clearly when a forced backend cannot start', () => {
    const result = setupInChild('tensorflow', 'missing') as unknown as { error: string };
    assert.match(result.error, /backend "tensorflow" could not be started: .*tfjs-node not installed/);
  });

  it('rejects unknown backend names, naming the source', () => {
    assert.throws(
      () => parseBackendChoice('gpu', '--backend'),
      (e: unknown) =>
        e instanceof BackendError && /--backend must be one of auto, tensorflow, wasm, cpu; got "gpu"/.test(e.message),
    );
    assert.throws(() => backendFromEnv({ MNIST_BACKEND: 'fast' }), /MNIST_BACKEND must be one of/);
    assert.equal(backendFromEnv({ MNIST_BACKEND: '' }), undefined);
  });

  it('describes the choice in one line', () => {
    assert.equal(
      describeBackend({
        name: 'wasm',
        provider: '@tensorflow/tfjs-backend-wasm',
        skipped: [{ name: 'tensorflow', reason: 'not installed' }],
      }),
      'backend: wasm (@tensorflow/tfjs-backend-wasm) - skipped tensorflow: not installed',
    );
  });
});
