import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  benchPeer,
  benchTorchPeer,
  comparison,
  defaultPeerPython,
  parsePeerOutput,
  parseTorchOutput,
} from '../../src/bench/peer';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'peer-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A stand-in for recipe_torch.py that prints the real script's final line from what it was given. */
function standIn(body: string): string {
  const file = join(tmp, `stand-in-${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, body);
  return file;
}

describe('PyTorch peer', () => {
  it('reads the final line of recipe_torch.py', () => {
    const out = 'step 0 test acc 9.80%\nfinal step 300 test acc 96.07%  train seconds 1.9  ms/step 6.32\n';
    assert.deepEqual(parseTorchOutput(out, 'recipe_torch.py', 1), {
      peer: 'pytorch',
      script: 'recipe_torch.py',
      python: '/usr/bin/python3',
      steps: 300,
      threads: 1,
      msPerStep: 6.32,
      trainSeconds: 1.9,
      testAccuracy: 0.9607,
    });
    assert.throws(
      () => parseTorchOutput('step 0 test acc 9.80%\n', 'recipe_torch.py', 1),
      /^Error: recipe_torch.py: no "final step N test acc X% train seconds S ms\/step M" line in its output$/,
    );
  });

  it('runs the script on the MNIST folder with the steps, one thread and no evaluations', async () => {
    // The stand-in fails unless called as `recipe_torch.py MNIST_DIR STEPS 1` with EVAL=0.
    const script = standIn(`import os, sys
d, steps, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert os.path.exists(d + '/train-images-idx3-ubyte'), d
assert threads == '1' and os.environ['EVAL'] == '0', (threads, os.environ.get('EVAL'))
print(f'final step {steps} test acc 95.38%  train seconds {steps * 0.006:.1f}  ms/step 6.00')
`);
    const result = await benchTorchPeer(script, { steps: 200, python: '/usr/bin/python3' });
    assert.deepEqual(result, {
      peer: 'pytorch',
      script,
      python: '/usr/bin/python3',
      steps: 200,
      threads: 1,
      msPerStep: 6,
      trainSeconds: 1.2,
      testAccuracy: 0.9538,
    });
  });

  it('fails with the script and its error, and says how to install PyTorch when it is missing', async () => {
    await assert.rejects(
      benchTorchPeer(join(tmp, 'absent.py'), { steps: 10 }),
      /^Error: --peer-torch: .*absent\.py does not exist$/,
    );
    const noTorch = standIn('import torch_that_is_not_there as torch\n');
    await assert.rejects(
      benchTorchPeer(noTorch, { steps: 10, python: '/usr/bin/python3' }),
      /failed: ModuleNotFoundError: No module named 'torch_that_is_not_there'$/,
    );
    const noModule = standIn('raise ModuleNotFoundError("No module named \'torch\'")\n');
    await assert.rejects(
      benchTorchPeer(noModule, { steps: 10, python: '/usr/bin/python3' }),
      /No module named 'torch' \(\/usr\/bin\/python3 needs PyTorch: apt-get install -y python3-torch libopenblas0-pthread\)$/,
    );
  });

  it('puts our lines and the peers side by side, each of ours as a multiple of each peer', () => {
    const results = [
      { backend: 'tensorflow', gradientMode: 'manual', nativeStep: 'graph', msPerStep: 4.123, evalMs: 100.456 },
      { backend: 'tensorflow', gradientMode: 'manual', nativeStep: 'ops', msPerStep: 6, evalMs: 120 },
      { backend: 'tensorflow', gradientMode: 'autodiff', msPerStep: 9, evalMs: 101 },
      { backend: 'wasm', gradientMode: 'manual', msPerStep: 10.4, evalMs: 600 },
    ];
    const steps = [
      { backend: 'wasm', workers: 1, msPerStep: 9.9 },
      { backend: 'wasm', workers: 2, msPerStep: 5.5 },
    ];
    const torch = parseTorchOutput(
      'final step 200 test acc 95.38%  train seconds 1.2  ms/step 5.99',
      'recipe_torch.py',
      1,
    );
    const tf1 = parsePeerOutput('tensorflow1', TF1_LAST_LINE, 'tutorial_tf1.py', 0, 'python');
    assert.deepEqual(comparison(results, [torch, tf1], steps), {
      compare: {
        msPerStep: {
          tensorflow: 4.12,
          'tensorflow ops': 6,
          wasm: 10.4,
          'wasm loop 1': 9.9,
          'wasm split 2': 5.5,
          pytorch: 5.99,
          tensorflow1: 2,
        },
        evalMs: { tensorflow: 100.46, 'tensorflow ops': 120, wasm: 600 },
        timesPeer: {
          pytorch: { tensorflow: 0.69, 'tensorflow ops': 1, wasm: 1.74, 'wasm loop 1': 1.65, 'wasm split 2': 0.92 },
          tensorflow1: { tensorflow: 2.06, 'tensorflow ops': 3, wasm: 5.2, 'wasm loop 1': 4.95, 'wasm split 2': 2.75 },
        },
      },
    });
    assert.deepEqual(comparison(results, []), {
      compare: {
        msPerStep: { tensorflow: 4.12, 'tensorflow ops': 6, wasm: 10.4 },
        evalMs: { tensorflow: 100.46, 'tensorflow ops': 120, wasm: 600 },
      },
    });
  });
});

/** tutorial_tf1.py's output as captured (tensorflow-cpu 2.21, 2,000 steps): its evaluations, then its last line. */
const TF1_OUTPUT = `训练轮数: 0 ,准确率: 7.48 %
训练轮数: 1000 ,准确率: 97.62 %
训练轮数: 2000 ,准确率: 98.04 %  test 97.91 %  train seconds 4.0  ms/step 2.00
`;
const TF1_LAST_LINE = TF1_OUTPUT.trim().split('\n').at(-1)!;

describe('TensorFlow 1 peer', () => {
  it('reads the last line of tutorial_tf1.py', () => {
    assert.deepEqual(parsePeerOutput('tensorflow1', TF1_OUTPUT, 'tutorial_tf1.py', 0, '/venv/bin/python'), {
      peer: 'tensorflow1',
      script: 'tutorial_tf1.py',
      python: '/venv/bin/python',
      steps: 2000,
      threads: 0,
      msPerStep: 2,
      trainSeconds: 4,
      testAccuracy: 0.9791,
    });
    // Its evaluation lines alone are not a result.
    assert.throws(
      () => parsePeerOutput('tensorflow1', '训练轮数: 0 ,准确率: 7.48 %\n', 'tutorial_tf1.py', 0, 'python'),
      /^Error: tutorial_tf1.py: no "训练轮数: N ,准确率: X % {2}test Y % {2}train seconds S {2}ms\/step M" line in its output$/,
    );
  });

  it("runs the script on the MNIST folder with the steps and TensorFlow's default threads", async () => {
    // The stand-in fails unless called as `tutorial_tf1.py MNIST_DIR STEPS 0`.
    const script = standIn(`import os, sys
d, steps, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert os.path.exists(d + '/t10k-labels-idx1-ubyte'), d
assert threads == '0', threads
print('训练轮数: 0 ,准确率: 9.80 %')
print(f'训练轮数: {steps} ,准确率: 96.00 %  test 95.50 %  train seconds {steps * 0.002:.1f}  ms/step 2.10')
`);
    const result = await benchPeer('tensorflow1', script, { steps: 500, python: '/usr/bin/python3' });
    assert.deepEqual(result, {
      peer: 'tensorflow1',
      script,
      python: '/usr/bin/python3',
      steps: 500,
      threads: 0,
      msPerStep: 2.1,
      trainSeconds: 1,
      testAccuracy: 0.955,
    });
  });

  it('names a missing script, a Python without TensorFlow, and what to install', async () => {
    await assert.rejects(
      benchPeer('tensorflow1', join(tmp, 'absent.py'), { steps: 10, python: '/usr/bin/python3' }),
      /^Error: --peer-tf1: .*absent\.py does not exist$/,
    );
    const noModule = standIn('raise ModuleNotFoundError("No module named \'tensorflow\'")\n');
    await assert.rejects(
      benchPeer('tensorflow1', noModule, { steps: 10, python: '/usr/bin/python3' }),
      /No module named 'tensorflow' \(\/usr\/bin\/python3 needs TensorFlow: npm run bench:setup \(pip-installs tensorflow-cpu==2\.21\.0 into \.venv\), or pass --peer-python PYTHON\)$/,
    );
  });

  it('runs with the Python of .venv when it has TensorFlow, else says what to install', () => {
    const venvPython = join(tmp, 'venv-python');
    writeFileSync(venvPython, '');
    const asked: string[] = [];
    const has = (answer: boolean) => (python: string, module: string) => {
      asked.push(`${python} ${module}`);
      return answer;
    };
    assert.equal(defaultPeerPython('tensorflow1', has(true), venvPython), venvPython);
    assert.deepEqual(asked, [`${venvPython} tensorflow`]);
    assert.throws(
      () => defaultPeerPython('tensorflow1', has(false), venvPython),
      /^Error: --peer-tf1 needs a Python with TensorFlow: .*venv-python has no TensorFlow; run npm run bench:setup \(pip-installs tensorflow-cpu==2\.21\.0 into \.venv\), or pass --peer-python PYTHON$/,
    );
    assert.throws(
      () => defaultPeerPython('tensorflow1', has(true), join(tmp, 'absent-python')),
      /absent-python does not exist; run npm run bench:setup/,
    );
    assert.equal(defaultPeerPython('pytorch', has(false), venvPython), '/usr/bin/python3');
  });
});
