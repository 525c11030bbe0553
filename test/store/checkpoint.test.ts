import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import assert from 'node:assert/strict';
// The module object itself (which src/io.ts calls into), so that mock.method can replace its functions.
import {
  promises as fsPromises,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import {
  CHECKPOINT_FILE,
  CheckpointError,
  WEIGHTS_FILE,
  WEIGHTS_MANIFEST,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  loadWeights,
  saveCheckpoint,
  saveWeights,
} from '../../src/store/checkpoint';
import { mnistFromBytes, type MnistFileRole } from '../../src/data/mnist';
import { OutputError } from '../../src/util/io';
import type { ParamName } from '../../src/core/model';
import { Trainer } from '../../src/train/trainer';
import { type TrainerState } from '../../src/engine/step-engine';
import { idxBytes } from '../helpers/idx';

/** A tiny data set: 4 x 4 images, so that states are small and quick to make. */
function tinyData() {
  const set = (count: number, offset: number) => ({
    images: idxBytes(
      [count, 4, 4],
      Array.from({ length: count * 16 }, (_, i) => (i * 37 + offset) % 256),
    ),
    labels: idxBytes(
      [count],
      Array.from({ length: count }, (_, i) => (i + offset) % 10),
    ),
  });
  const train = set(60, 0);
  const test = set(20, 3);
  const files: Record<MnistFileRole, Uint8Array> = {
    trainImages: train.images,
    trainLabels: train.labels,
    testImages: test.images,
    testLabels: test.labels,
  };
  return mnistFromBytes(files, { validationSize: 10 });
}

const CONFIG = { inputNode: 16, layer1Node: 5, batchSize: 8, trainingSteps: 12, evalEvery: 4, recordEvery: 2 };

/** The state of a trainer after a few steps (with history records and evaluations). */
async function sampleState(steps = 7, config: Record<string, unknown> = CONFIG): Promise<TrainerState> {
  const trainer = new Trainer(tinyData(), { config });
  const controller = new AbortController();
  await trainer.run({
    signal: controller.signal,
    onProgress: (p) => (p.step >= steps ? controller.abort() : undefined),
  });
  const state = trainer.state();
  trainer.dispose();
  return state;
}

function assertSameState(actual: TrainerState, expected: TrainerState): void {
  const { params: ap, averages: aa, ...aRest } = actual;
  const { params: ep, averages: ea, ...eRest } = expected;
  assert.deepEqual(aRest, eRest);
  for (const [a, e] of [
    [ap, ep],
    [aa, ea],
  ]) {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort());
    for (const name of Object.keys(e) as ParamName[]) {
      assert.ok(a[name] instanceof Float32Array);
      assert.deepEqual(Array.from(a[name]!), Array.from(e[name]!), name);
    }
  }
}

function assertCheckpointError(fn: () => unknown, file: string, problem?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof CheckpointError,
    `expected a CheckpointError, got ${caught === undefined ? 'no error' : String(caught)}`,
  );
  assert.equal(caught.file, file);
  if (problem !== undefined) assert.match(caught.message, problem);
}

let tmp: string;
let state: TrainerState;
let bytes: Uint8Array;

before(async () => {
  await setupBackend('wasm');
  tmp = mkdtempSync(join(tmpdir(), 'checkpoint-test-'));
  state = await sampleState();
  // A copy: the mutations below must not touch the encoder's output.
  bytes = Uint8Array.from(await encodeCheckpoint(state));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('encodeCheckpoint / decodeCheckpoint', () => {
  it('round-trips a state exactly', () => {
    assert.equal(state.globalStep, 7);
    assert.ok(state.history.steps.length > 0 && state.history.evaluations.length > 0);
    assert.deepEqual(Object.keys(state.params).sort(), ['biases1', 'biases2', 'weights1', 'weights2']);
    assertSameState(decodeCheckpoint(bytes, 'ckpt'), state);
  });

  it('round-trips a linear model without moving averages', async () => {
    const linear = await sampleState(3, { ...CONFIG, layer1Node: 0, useMovingAverage: false });
    assert.deepEqual(Object.keys(linear.params).sort(), ['biases1', 'weights1']);
    assert.deepEqual(linear.averages, {});
    assertSameState(decodeCheckpoint(await encodeCheckpoint(linear), 'ckpt'), linear);
  });

  it('releases the tensors it uses', async () => {
    const before = tf.memory().numTensors;
    decodeCheckpoint(await encodeCheckpoint(state), 'ckpt');
    assert.equal(tf.memory().numTensors, before);
  });

  it('a decoded state resumes a trainer', async () => {
    const trainer = new Trainer(tinyData(), { resume: decodeCheckpoint(bytes, 'ckpt') });
    assert.equal(trainer.globalStep, 7);
    const history = await trainer.run();
    trainer.dispose();
    assert.equal(history.status, 'completed');
    assert.equal(history.final?.step, 12);
  });
});

describe('corrupt or truncated checkpoints', () => {
  it('every truncation is a CheckpointError', () => {
    const lengths = new Set([
      0,
      1,
      10,
      23,
      24,
      25,
      27,
      28,
      29,
      100,
      bytes.length - 33,
      bytes.length - 32,
      bytes.length - 31,
      bytes.length - 1,
    ]);
    for (let n = 0; n < bytes.length; n += 97) lengths.add(n);
    for (const n of lengths) assertCheckpointError(() => decodeCheckpoint(bytes.subarray(0, n), 'cut'), 'cut');
  });

  it('extra bytes are a CheckpointError', () => {
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    assertCheckpointError(() => decodeCheckpoint(longer, 'long'), 'long');
  });

  it('another file is not a checkpoint', () => {
    assertCheckpointError(
      () => decodeCheckpoint(Buffer.from('{"config": {}}'), 'x.json'),
      'x.json',
      /not a checkpoint of this package/,
    );
    assertCheckpointError(
      () => decodeCheckpoint(Buffer.from('MNIST-TFJS-CHECKPOINT 99\nxxxx'), 'v99'),
      'v99',
      /format version/,
    );
  });

  it('a changed byte anywhere is a CheckpointError', () => {
    // Header, weights and checksum: sampled positions and a few chosen ones.
    const positions = new Set([
      0,
      5,
      24,
      25,
      26,
      27,
      28,
      40,
      bytes.length - 40,
      bytes.length - 33,
      bytes.length - 32,
      bytes.length - 1,
    ]);
    for (let i = 0; i < bytes.length; i += 53) positions.add(i);
    for (const at of positions) {
      const changed = bytes.slice();
      changed[at] ^= 0x04;
      assertCheckpointError(() => decodeCheckpoint(changed, 'flip'), 'flip');
    }
  });

  it('random corruption is always a CheckpointError, never another exception (property-based)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        (flips, cut) => {
          let changed = bytes.slice();
          for (const [at, mask] of flips) changed[at % changed.length] ^= mask;
          if (cut !== undefined) changed = changed.subarray(0, cut % changed.length);
          assertCheckpointError(() => decodeCheckpoint(changed, 'fuzz'), 'fuzz');
        },
      ),
      { numRuns: 500, seed: 11 },
    );
  });

  it('a well-formed checkpoint with a wrong structure is a CheckpointError', async () => {
    // Re-encoded with the checksum intact: the checks behind the checksum must hold on their own.
    const broken = async (change: (s: TrainerState) => void) => {
      const copy = structuredClone(state);
      change(copy);
      return encodeCheckpoint(copy);
    };
    const cases: [string, (s: TrainerState) => void][] = [
      ['global step', (s) => ((s as unknown as { globalStep: unknown }).globalStep = 'seven')],
      ['sampler', (s) => ((s as unknown as { sampler: unknown }).sampler = null)],
      ['history', (s) => ((s.history as unknown as { steps: unknown }).steps = 3)],
      ['config', (s) => ((s as unknown as { config: unknown }).config = 'default')],
      ['params', (s) => ((s.params as Record<string, Float32Array>).extra = new Float32Array(2))],
    ];
    for (const [what, change] of cases) {
      const encoded = await broken(change);
      assertCheckpointError(() => decodeCheckpoint(encoded, what), what);
    }
  });
});

describe('saveCheckpoint and loadCheckpoint', () => {
  it('save to a folder, load from the folder or the file', async () => {
    const dir = join(tmp, 'save');
    mkdirSync(dir);
    const path = await saveCheckpoint(dir, state);
    assert.equal(path, join(dir, CHECKPOINT_FILE));
    assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE]);
    assertSameState(await loadCheckpoint(dir), state);
    assertSameState(await loadCheckpoint(path), state);
  });

  it('loading from a folder without a checkpoint, or a missing path, is a CheckpointError', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    for (const path of [empty, join(tmp, 'nothing-here'), join(tmp, 'nothing.ckpt')]) {
      await assert.rejects(
        loadCheckpoint(path),
        (error: unknown) =>
          error instanceof CheckpointError && error.file === path && /no checkpoint found/.test(error.message),
      );
    }
  });

  it('loading a corrupt file names it', async () => {
    const dir = join(tmp, 'corrupt');
    mkdirSync(dir);
    writeFileSync(join(dir, CHECKPOINT_FILE), bytes.subarray(0, bytes.length - 10));
    await assert.rejects(
      loadCheckpoint(dir),
      (error: unknown) => error instanceof CheckpointError && error.file === join(dir, CHECKPOINT_FILE),
    );
  });

  describe('a failing write leaves the previous checkpoint intact and no temporary files', () => {
    let dir: string;
    let previous: Buffer;
    let newer: TrainerState;

    before(async () => {
      newer = await sampleState(9);
    });

    /** A folder holding the checkpoint of `state`. */
    async function setUp(name: string): Promise<void> {
      dir = join(tmp, name);
      mkdirSync(dir);
      await saveCheckpoint(dir, state);
      previous = readFileSync(join(dir, CHECKPOINT_FILE));
    }

    function assertUnchanged(): void {
      assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE]);
      assert.ok(readFileSync(join(dir, CHECKPOINT_FILE)).equals(previous));
    }

    it('the disk fills up half way through the write', async () => {
      await setUp('disk-full');
      const realWriteFile = fsPromises.writeFile;
      const writeFile = mock.method(fsPromises, 'writeFile', async (path: string, data: Uint8Array) => {
        // Half the data reaches the disk, then the write fails.
        await realWriteFile(path, data.subarray(0, data.length >> 1));
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
      });
      try {
        await assert.rejects(saveCheckpoint(dir, newer), (error: unknown) => {
          assert.ok(error instanceof OutputError, String(error));
          assert.equal(error.path, join(dir, CHECKPOINT_FILE));
          assert.match(error.message, /the disk is full/);
          return true;
        });
        assert.equal(writeFile.mock.callCount(), 1, 'the write must go through fs/promises writeFile');
      } finally {
        writeFile.mock.restore();
      }
      assertUnchanged();
      // The next save works and replaces it.
      await saveCheckpoint(dir, newer);
      assertSameState(await loadCheckpoint(dir), newer);
    });

    it('the rename into place fails', async () => {
      await setUp('rename-fails');
      const rename = mock.method(fsPromises, 'rename', async () => {
        throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
      });
      try {
        await assert.rejects(saveCheckpoint(dir, newer), OutputError);
      } finally {
        rename.mock.restore();
      }
      assertUnchanged();
    });

    it('encoding fails before anything is written', async () => {
      await setUp('encode-fails');
      const unserialisable = {
        ...newer,
        history: { ...newer.history, extra: 10n } as unknown as TrainerState['history'],
      };
      await assert.rejects(saveCheckpoint(dir, unserialisable));
      assertUnchanged();
    });

    it('the checkpoint path is a folder (real file system)', async () => {
      dir = join(tmp, 'target-is-folder');
      mkdirSync(join(dir, CHECKPOINT_FILE), { recursive: true });
      writeFileSync(join(dir, CHECKPOINT_FILE, 'keep'), 'x');
      await assert.rejects(
        saveCheckpoint(dir, newer),
        (error: unknown) => error instanceof OutputError && error.path === join(dir, CHECKPOINT_FILE),
      );
      assert.deepEqual(readdirSync(dir), [CHECKPOINT_FILE]);
      assert.deepEqual(readdirSync(join(dir, CHECKPOINT_FILE)), ['keep']);
    });

    it('the folder is a file (real file system)', async () => {
      const file = join(tmp, 'plain-file');
      writeFileSync(file, 'data');
      await assert.rejects(
        saveCheckpoint(file, newer),
        (error: unknown) => error instanceof OutputError && /a part of the path is a file/.test(error.message),
      );
      assert.equal(readFileSync(file, 'utf8'), 'data');
      assert.ok(!existsSync(join(tmp, 'plain-file.tmp')));
      assert.deepEqual(
        readdirSync(tmp).filter((name) => name.startsWith('plain-file')),
        ['plain-file'],
      );
    });
  });
});

describe('saveWeights and loadWeights', () => {
  it('round-trip parameters and averages as a TensorFlow.js weight manifest and binary file', async () => {
    const dir = join(tmp, 'weights');
    mkdirSync(dir);
    await saveWeights(dir, state.params, state.averages);
    assert.deepEqual(readdirSync(dir).sort(), [WEIGHTS_MANIFEST, WEIGHTS_FILE].sort());
    const loaded = await loadWeights(dir);
    assertSameState({ ...state, ...loaded }, state);
    // Readable by TensorFlow.js itself.
    const manifest = JSON.parse(readFileSync(join(dir, WEIGHTS_MANIFEST), 'utf8')) as tf.io.WeightsManifestConfig;
    assert.deepEqual(manifest[0].paths, [WEIGHTS_FILE]);
    const bin = readFileSync(join(dir, WEIGHTS_FILE));
    const tensors = tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      manifest[0].weights,
    );
    assert.deepEqual(Object.keys(tensors).sort(), [
      'averages/biases1',
      'averages/biases2',
      'averages/weights1',
      'averages/weights2',
      'params/biases1',
      'params/biases2',
      'params/weights1',
      'params/weights2',
    ]);
    assert.deepEqual(Array.from(tensors['params/biases2'].dataSync()), Array.from(state.params.biases2!));
    tf.dispose(Object.values(tensors));
  });

  it('missing or corrupt weight files are a CheckpointError', async () => {
    await assert.rejects(loadWeights(join(tmp, 'no-weights')), CheckpointError);
    const dir = join(tmp, 'bad-weights');
    mkdirSync(dir);
    await saveWeights(dir, state.params, state.averages);
    const bin = readFileSync(join(dir, WEIGHTS_FILE));
    writeFileSync(join(dir, WEIGHTS_FILE), bin.subarray(0, bin.length - 8));
    await assert.rejects(loadWeights(dir), CheckpointError);
    for (const manifest of ['{}', '[]', 'not json', '[{"paths": ["weights.bin"], "weights": 5}]']) {
      writeFileSync(join(dir, WEIGHTS_MANIFEST), manifest);
      await assert.rejects(loadWeights(dir), CheckpointError, manifest);
    }
  });
});
