import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BackendError,
  backendFromEnv,
  describeAuto,
  describeBackend,
  fasterEngine,
  homeTilde,
  parseBackendChoice,
  probeFromEnv,
} from '../../src/engine/backend';
import { defaultProbeCacheDir, writeCachedProbe, type CachedProbe } from '../../src/engine/engine-probe';
import { packageRoot } from '../../src/util/package-root';

const root = packageRoot();
const preload = join(root, 'test', 'fixtures', 'fake-native', 'preload.js');

/**
 * What `require('@tensorflow/tfjs-node')` finds in a child process, whether or not the real
 * package is installed: nothing, or the stand-in that registers a cpu-backed `tensorflow`.
 * (The real native backend is tested in native.test.ts.)
 */
type Native = 'missing' | 'fake';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'backend-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs a script in a fresh process (the backend registry is per process); returns its last line.
 * `auto` takes the fixed order there (MNIST_PROBE=off; its probe is tested in "auto's probe" below),
 * and any cache goes to a temporary folder.
 */
function runInChild(script: string, native: Native, env: NodeJS.ProcessEnv = {}): string {
  const out = execFileSync(process.execPath, ['-r', preload, '-e', script], {
    cwd: root,
    env: {
      ...process.env,
      MNIST_BACKEND: '',
      MNIST_PROBE: 'off',
      XDG_CACHE_HOME: tmp,
      FAKE_NATIVE: native,
      ...env,
    },
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

/** One `setupBackend` call of a child process: the choice and the options (a stand-in probe is added). */
interface Call {
  choice?: string;
  options?: Record<string, unknown>;
}

/**
 * Calls setupBackend in one fresh process, with native TensorFlow (the stand-in) and wasm both
 * starting and a stand-in probe that measures `ms` per step for each backend; returns each call's
 * backend, `auto` report and line, and the probes run so far.
 */
function autoInChild(
  calls: Call[],
  ms: { tensorflow: number; wasm: number },
  cacheDir: string,
  env: NodeJS.ProcessEnv = {},
): { name: string; auto: Record<string, unknown> | null; line: string; probes: string[] }[] {
  const script = `const { setupBackend, describeBackend } = require(${JSON.stringify(join(root, 'dist', 'engine', 'backend.js'))});
    const ms = ${JSON.stringify(ms)};
    const probes = [];
    const probe = async (candidates, sizes) => {
      probes.push(candidates.map((c) => c.backend + ' ' + c.workers).join(', ') + ' at ' + sizes.layer1Node + ' units');
      return { figures: candidates.map((c) => ({ ...c, msPerStep: ms[c.backend] })), probeMs: 1234 };
    };
    (async () => {
      const out = [];
      for (const call of ${JSON.stringify(calls)}) {
        const info = await setupBackend(call.choice, { ...call.options, probe, cacheDir: ${JSON.stringify(cacheDir)} });
        out.push({ name: info.name, auto: info.auto ?? null, line: describeBackend(info), probes: [...probes] });
      }
      console.log(JSON.stringify(out));
    })().catch((error) => console.log(JSON.stringify({ error: error.message })));`;
  const result = JSON.parse(runInChild(script, 'fake', { MNIST_PROBE: '', MNIST_WORKERS: '', ...env }));
  if (!Array.isArray(result)) throw new Error(result.error);
  return result;
}

describe("auto's probe (2 cores or more)", { skip: availableParallelism() < 2 ? 'needs 2 cores' : false }, () => {
  it('measures native TensorFlow against the split wasm step once, takes the faster, and reuses the cached answer', () => {
    const dir = join(tmp, 'probe-cache-1');
    const [first, second] = autoInChild([{}, {}], { tensorflow: 5, wasm: 4.7 }, dir);
    const split = first.auto === null ? 0 : (first.auto.chosen as { workers: number }).workers;
    assert.ok(split >= 2, `the split step runs on ${split} workers`);
    assert.equal(first.name, 'wasm');
    assert.deepEqual(first.probes, [`tensorflow 1, wasm ${split} at 500 units`]);
    assert.match(
      first.line,
      new RegExp(
        `^backend: wasm \\(@tensorflow/tfjs-backend-wasm\\) - auto: wasm split ${split} \\(4\\.70 ms/step\\) faster than tensorflow \\(5\\.00 ms/step\\), measured now in 1\\.2 s, cached in .*probe-cache-1/engine-probe\\.json \\(MNIST_PROBE=again measures again\\)$`,
      ),
    );
    // The second call reads the cache: no new probe, the same answer, said to be from the cache.
    assert.equal(second.name, 'wasm');
    assert.equal(second.probes.length, 1);
    assert.equal(second.auto?.measuredNow, false);
    assert.match(
      second.line,
      /faster than tensorflow \(5\.00 ms\/step\), measured \d{4}-\d\d-\d\d \d\d:\d\d, cached in/,
    );
    const cached = JSON.parse(readFileSync(join(dir, 'engine-probe.json'), 'utf8'));
    assert.deepEqual(cached.key.sizes, { inputNode: 784, layer1Node: 500, outputNode: 10, batchSize: 100 });
    assert.equal(cached.key.node, process.version);
  });

  it('keeps native TensorFlow when it is faster or within the margin, and in the process after', () => {
    const [slower] = autoInChild([{}], { tensorflow: 5, wasm: 6 }, join(tmp, 'probe-cache-2'));
    assert.equal(slower.name, 'tensorflow');
    assert.match(
      slower.line,
      /^backend: tensorflow \(@tensorflow\/tfjs-node\) - auto: tensorflow \(5\.00 ms\/step\) faster than wasm split \d+ \(6\.00 ms\/step\)/,
    );
    const [near] = autoInChild([{}], { tensorflow: 5, wasm: 4.9 }, join(tmp, 'probe-cache-3'));
    assert.equal(near.name, 'tensorflow');
    assert.match(near.line, /auto: tensorflow \(5\.00 ms\/step\) within 5 % of wasm split \d+ \(4\.90 ms\/step\)/);
  });

  it('measures again when asked (option or MNIST_PROBE=again) or when the sizes change', () => {
    const dir = join(tmp, 'probe-cache-4');
    const runs = autoInChild(
      [{}, { options: { reprobe: true } }, { options: { config: { layer1Node: 300 } } }, {}],
      { tensorflow: 5, wasm: 6 },
      dir,
    );
    assert.deepEqual(
      runs.map((r) => r.probes.length),
      [1, 2, 3, 4],
    );
    assert.match(runs[2].probes[2], / at 300 units$/);
    const [again] = autoInChild([{}], { tensorflow: 5, wasm: 6 }, dir, { MNIST_PROBE: 'again' });
    assert.equal(again.probes.length, 1);
    assert.equal(again.auto?.measuredNow, true);
  });

  it('does not measure when a backend or a worker count is given', () => {
    const dir = join(tmp, 'probe-cache-5');
    const runs = autoInChild(
      [
        { choice: 'wasm' },
        { choice: 'tensorflow' },
        { options: { workers: 2 } },
        { options: { config: { layer1Node: 64 } } },
      ],
      { tensorflow: 5, wasm: 1 },
      dir,
    );
    assert.deepEqual(
      runs.map((r) => [r.name, r.auto, r.probes.length]),
      [
        ['wasm', null, 0],
        ['tensorflow', null, 0],
        ['tensorflow', null, 0],
        // 64 hidden units: no split step to measure.
        ['tensorflow', null, 0],
      ],
    );
    const [fromEnv] = autoInChild([{}], { tensorflow: 5, wasm: 1 }, dir, { MNIST_WORKERS: '2' });
    assert.deepEqual([fromEnv.name, fromEnv.probes.length], ['tensorflow', 0]);
    const [forced] = autoInChild([{}], { tensorflow: 5, wasm: 1 }, dir, { MNIST_BACKEND: 'tensorflow' });
    assert.deepEqual([forced.name, forced.probes.length], ['tensorflow', 0]);
    const [off] = autoInChild([{}], { tensorflow: 5, wasm: 1 }, dir, { MNIST_PROBE: 'off' });
    assert.deepEqual([off.name, off.probes.length], ['tensorflow', 0]);
    assert.throws(
      () => probeFromEnv({ MNIST_PROBE: 'yes' }),
      /^BackendError: MNIST_PROBE must be "again", "off" or empty; got "yes"$/,
    );
  });

  it('says which cache folder could not be written, and why', () => {
    const blocker = join(tmp, 'probe-cache-blocker');
    writeFileSync(blocker, '');
    const [info] = autoInChild([{}], { tensorflow: 5, wasm: 6 }, join(blocker, 'cache'));
    assert.equal(info.name, 'tensorflow');
    assert.match(
      info.line,
      /not cached \(cannot write to .*probe-cache-blocker\/cache: ENOTDIR: [^\n]*\) \(MNIST_PROBE/,
    );
  });

  it('keeps native TensorFlow and says so when the probe fails', () => {
    const script = `require(${JSON.stringify(join(root, 'dist', 'engine', 'backend.js'))})
      .setupBackend(undefined, { probe: async () => { throw new Error('worker 1 exited'); }, cacheDir: ${JSON.stringify(join(tmp, 'probe-cache-6'))} })
      .then((info) => console.log(JSON.stringify(info)), (error) => console.log(JSON.stringify({ error: error.message })));`;
    const info = JSON.parse(runInChild(script, 'fake', { MNIST_PROBE: '', MNIST_WORKERS: '' }));
    assert.equal(info.name, 'tensorflow');
    assert.deepEqual(info.skipped, [{ name: 'wasm', reason: "auto's probe failed: worker 1 exited" }]);
    assert.equal(info.auto, undefined);
  });

  it('decides and describes from the figures alone', () => {
    const figures = (native: number, wasm: number) => [
      { backend: 'tensorflow' as const, workers: 1, msPerStep: native },
      { backend: 'wasm' as const, workers: 2, msPerStep: wasm },
    ];
    assert.deepEqual(fasterEngine(figures(5, 4.7)), { backend: 'wasm', workers: 2 });
    assert.deepEqual(fasterEngine(figures(5, 4.8)), { backend: 'tensorflow', workers: 1 });
    assert.deepEqual(fasterEngine(figures(2, 4.7)), { backend: 'tensorflow', workers: 1 });
    // A choice measured earlier whose cache could not be written.
    const uncached = {
      chosen: { backend: 'tensorflow' as const, workers: 1 },
      figures: figures(2, 4.7),
      date: '2026-12-04T08:00:00.000Z',
      measuredNow: false,
      probeMs: 900,
      file: null,
    };
    assert.equal(
      describeAuto(uncached),
      'auto: tensorflow (2.00 ms/step) faster than wasm split 2 (4.70 ms/step), measured 2026-12-04 08:00, not cached (MNIST_PROBE=again measures again)',
    );
    const home = join(homedir(), '.cache', 'mnist-tfjs-tutorial');
    assert.equal(
      describeAuto({ ...uncached, notCached: { dir: home, error: `EACCES: permission denied, mkdir '${home}'` } }),
      'auto: tensorflow (2.00 ms/step) faster than wasm split 2 (4.70 ms/step), measured 2026-12-04 08:00, ' +
        "not cached (cannot write to ~/.cache/mnist-tfjs-tutorial: EACCES: permission denied, mkdir '~/.cache/mnist-tfjs-tutorial') " +
        '(MNIST_PROBE=again measures again)',
    );
    assert.equal(defaultProbeCacheDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/mnist-tfjs-tutorial');
  });
});

describe("auto's probe cache", () => {
  it('says which folder could not be written, and why', () => {
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, '');
    const dir = join(blocker, 'cache');
    const written = writeCachedProbe(dir, {} as CachedProbe);
    assert.equal(written.file, null);
    assert.match(written.error ?? '', /^ENOTDIR: .*mkdir '.*a-file\/cache'$/);
  });
});

describe('homeTilde', () => {
  it('writes the home folder as ~ and leaves other paths alone', () => {
    assert.equal(homeTilde('/home/ada/.cache/x/engine-probe.json', '/home/ada'), '~/.cache/x/engine-probe.json');
    assert.equal(homeTilde('/home/adam/x.json', '/home/ada'), '/home/adam/x.json');
    assert.equal(homeTilde('/tmp/x.json', '/home/ada'), '/tmp/x.json');
    assert.equal(homeTilde('/tmp/x.json', ''), '/tmp/x.json');
  });
});
