import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchSplitGain, type ProductThreads, type SplitGainParts } from '../../src/bench/parallel';
import type { MnistData } from '../../src/data/mnist';
import type { StepEngine } from '../../src/engine/step-engine';

/** Only `data.train.count` is read before the parts are built. */
const data = { train: { count: 1000 } } as MnistData;

/** Parts that record what was built and disposed; `fail` names the part that fails to start. */
function parts(fail: 'split' | 'one' | 'products') {
  const log: string[] = [];
  const engine = (name: string) => {
    if (fail === name) throw new Error(`${name} failed to start`);
    log.push(`built ${name}`);
    return {
      dispose: () => log.push(`disposed ${name}`),
      stepTimings: () => ({ steps: 0, workers: [], main: 0 }),
    } as unknown as StepEngine & ReturnType<SplitGainParts['split']>;
  };
  const built: SplitGainParts = {
    split: () => engine('split'),
    one: () => engine('one'),
    products: async () => {
      if (fail === 'products') throw new Error('products failed to start');
      log.push('built products');
      return {
        capacity: async () => 1,
        dispose: async () => {
          log.push('disposed products');
        },
      } satisfies ProductThreads;
    },
  };
  return { log, built };
}

describe('benchSplitGain', () => {
  it('disposes the engines built when a later one fails to start', async () => {
    const { log, built } = parts('one');
    await assert.rejects(benchSplitGain(data, 2, 1, 10, built), /one failed to start/);
    assert.deepEqual(log, ['built split', 'disposed split']);
  });

  it('disposes both engines when the capacity threads fail to start', async () => {
    const { log, built } = parts('products');
    await assert.rejects(benchSplitGain(data, 2, 1, 10, built), /products failed to start/);
    assert.deepEqual(log, ['built split', 'built one', 'disposed split', 'disposed one']);
  });

  it('builds nothing more when the first engine fails', async () => {
    const { log, built } = parts('split');
    await assert.rejects(benchSplitGain(data, 2, 1, 10, built), /split failed to start/);
    assert.deepEqual(log, []);
  });
});
