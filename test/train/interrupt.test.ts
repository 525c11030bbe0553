import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import vm from 'node:vm';
import { setupBackend } from '../../src/engine/backend';
import { loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';
import { takeInterrupts } from '../../src/train/interrupt';
import { runInNotebook } from '../../src/notebook/index';
import { runSweep } from '../../src/sweep/sweep';
import { Trainer } from '../../src/train/trainer';

/** Sends a real SIGINT to this process and lets its handlers run. */
async function interrupt(): Promise<void> {
  process.kill(process.pid, 'SIGINT');
  // Signals are delivered through the event loop: wait a few turns.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('takeInterrupts', () => {
  it('takes the first SIGINT from the other listeners, hands a second one on, and puts them back', async () => {
    const kernelCalls: string[] = [];
    const kernel = () => kernelCalls.push('kernel');
    process.on('SIGINT', kernel);
    try {
      let noted = 0;
      const scope = await takeInterrupts(() => noted++);
      assert.equal(
        process.listeners('SIGINT').includes(kernel),
        false,
        'the kernel listener is detached while the run trains',
      );
      assert.equal(scope.signal.aborted, false);
      await interrupt();
      assert.equal(scope.signal.aborted, true);
      assert.equal(scope.interrupted, true);
      assert.equal(noted, 1);
      assert.deepEqual(kernelCalls, [], 'the first interrupt does not reach the kernel');
      await interrupt();
      assert.deepEqual(kernelCalls, ['kernel'], 'a second interrupt goes to the kernel as usual');
      assert.equal(noted, 1);
      scope.restore();
      scope.restore();
      assert.deepEqual(process.listeners('SIGINT').filter((l) => l === kernel).length, 1, 'restored once');
      await interrupt();
      assert.deepEqual(kernelCalls, ['kernel', 'kernel'], 'after restore the kernel gets interrupts again');
    } finally {
      process.off('SIGINT', kernel);
    }
  });

  it('works when started in the synchronous start of a breakOnSigint script (how tslab runs a cell)', async () => {
    const kernelCalls: number[] = [];
    const kernel = () => kernelCalls.push(1);
    process.on('SIGINT', kernel);
    try {
      // Node removes every SIGINT listener while such a script runs and re-adds them after it.
      const global = globalThis as { takeInterruptsForTest?: typeof takeInterrupts };
      global.takeInterruptsForTest = takeInterrupts;
      const scope = await (vm.runInThisContext('takeInterruptsForTest()', { breakOnSigint: true }) as ReturnType<
        typeof takeInterrupts
      >);
      delete global.takeInterruptsForTest;
      await interrupt();
      assert.equal(scope.signal.aborted, true, 'the interrupt reached the run');
      assert.deepEqual(kernelCalls, [], 'and not the kernel');
      scope.restore();
      assert.deepEqual(process.listeners('SIGINT'), [kernel], 'only the kernel listener is left');
    } finally {
      process.off('SIGINT', kernel);
    }
  });

  it('not interrupted: restore leaves the listeners as they were', async () => {
    const before = process.listeners('SIGINT');
    const scope = await takeInterrupts();
    assert.equal(scope.interrupted, false);
    scope.restore();
    assert.deepEqual(process.listeners('SIGINT'), before);
  });
});

describe('an interrupt during training (the notebook paths)', () => {
  let data: MnistData;
  before(async () => {
    await setupBackend('cpu');
    const full = await loadMnist();
    data = {
      ...full,
      train: sliceDataSet(full.train, 0, 2000),
      validation: sliceDataSet(full.validation, 0, 200),
      test: sliceDataSet(full.test, 0, 200),
    };
  });

  /** Runs `train` with a stand-in for tslab's SIGINT listener, interrupting once `underWay` says so. */
  async function interruptDuring<T>(
    train: (onUnderWay: () => void) => Promise<T>,
  ): Promise<{ result: T; kernelCalls: number }> {
    let kernelCalls = 0;
    const kernel = () => kernelCalls++;
    process.on('SIGINT', kernel);
    try {
      let sent = false;
      const result = await train(() => {
        if (sent) return;
        sent = true;
        process.kill(process.pid, 'SIGINT');
      });
      assert.deepEqual(process.listeners('SIGINT'), [kernel], 'the kernel listener is back, alone');
      return { result, kernelCalls };
    } finally {
      process.off('SIGINT', kernel);
    }
  }

  it('runInNotebook (Trainer.run with stopOnSigint): stops after the step, one line, history kept, no tensor left', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const trainer = new Trainer(data, {
      config: { trainingSteps: 100_000, evalEvery: 100_000, recordEvery: 5, batchSize: 50, layer1Node: 50 },
      workers: 1,
    });
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => printed.push(line);
    let outcome;
    try {
      outcome = await interruptDuring((underWay) =>
        runInNotebook(trainer, { onProgress: (p) => (p.step >= 50 ? underWay() : undefined) }),
      );
    } finally {
      console.log = log;
    }
    const history = outcome.result;
    assert.equal(outcome.kernelCalls, 0, 'the interrupt did not reach the kernel');
    assert.equal(history.status, 'stopped');
    assert.ok(trainer.globalStep >= 50 && trainer.globalStep < 100, `stopped at step ${trainer.globalStep}`);
    assert.equal(
      history.steps.at(-1)!.step,
      Math.floor((trainer.globalStep - 1) / 5) * 5,
      'the history so far is kept',
    );
    assert.deepEqual(printed, [
      `interrupted at step ${trainer.globalStep} of 100,000: the history so far is kept in trainer.history`,
    ]);
    trainer.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left after dispose');
  });

  it('runSweep with stopOnSigint: every run stops, the sweep resolves, the listener is restored', async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'mnist-interrupt-sweep-'));
    try {
      const logged: string[] = [];
      const { result, kernelCalls } = await interruptDuring((underWay) =>
        runSweep(
          data,
          [
            {
              name: 'a',
              config: { trainingSteps: 100_000, evalEvery: 100_000, recordEvery: 5, batchSize: 50, layer1Node: 50 },
            },
            {
              name: 'b',
              config: { trainingSteps: 100_000, evalEvery: 100_000, recordEvery: 5, batchSize: 50, layer1Node: 60 },
            },
          ],
          {
            workers: 1,
            runsDir,
            backend: 'cpu',
            stopOnSigint: true,
            log: (line) => logged.push(line),
            onProgress: (p) => (p.progress.step >= 20 ? underWay() : undefined),
          },
        ),
      );
      assert.equal(kernelCalls, 0);
      assert.deepEqual(
        result.map((r) => r.history.status),
        ['stopped', 'stopped'],
      );
      assert.ok(result[0].history.steps.length >= 4, 'the first run keeps its history');
      assert.equal(result[1].history.error, 'not started: the sweep was stopped');
      assert.ok(logged.includes('interrupt: stopping every run after its current step'), logged.join('\n'));
    } finally {
      await rm(runsDir, { recursive: true, force: true });
    }
  });
});
