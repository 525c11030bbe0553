import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { takeInterrupts } from '../src/interrupt';

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
      assert.equal(process.listeners('SIGINT').includes(kernel), false, 'the kernel listener is detached while the run trains');
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
      const scope = await (vm.runInThisContext('takeInterruptsForTest()', { breakOnSigint: true }) as ReturnType<typeof takeInterrupts>);
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
