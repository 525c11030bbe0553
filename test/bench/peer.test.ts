import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { benchTorchPeer, comparison, parseTorchOutput } from '../../src/bench/peer';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'peer-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A stand-in for seed_torch.py that prints the real script's final line from what it was given. */
function standIn(body: string): string {
  const file = join(tmp, `stand-in-${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, body);
  return file;
}

describe('PyTorch peer', () => {
  it('reads the final line of seed_torch.py', () => {
    const out = 'step 0 test acc 9.80%\nfinal step 300 test acc 96.07%  train seconds 1.9  ms/step 6.32\n';
    assert.deepEqual(parseTorchOutput(out, 'seed_torch.py', 1), {
      peer: 'pytorch',
      script: 'seed_torch.py',
      steps: 300,
      threads: 1,
      msPerStep: 6.32,
      trainSeconds: 1.9,
      testAccuracy: 0.9607,
    });
    assert.throws(
      () => parseTorchOutput('step 0 test acc 9.80%\n', 'seed_torch.py', 1),
      /^Error: seed_torch.py: no "final step N test acc X% train seconds S ms\/step M" line in its output$/,
    );
  });

  it('runs the script on the MNIST folder with the steps, one thread and no evaluations', async () => {
    // The stand-in fails unless called as `seed_torch.py MNIST_DIR STEPS 1` with EVAL=0.
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

  it('puts the backends and the peer side by side', () => {
    const results = [
      { backend: 'tensorflow', gradientMode: 'manual', msPerStep: 4.123, evalMs: 100.456 },
      { backend: 'tensorflow', gradientMode: 'autodiff', msPerStep: 9, evalMs: 101 },
      { backend: 'wasm', gradientMode: 'manual', msPerStep: 10.4, evalMs: 600 },
    ];
    const peer = parseTorchOutput(
      'final step 200 test acc 95.38%  train seconds 1.2  ms/step 5.99',
      'seed_torch.py',
      1,
    );
    assert.deepEqual(comparison(results, peer), {
      compare: {
        msPerStep: { tensorflow: 4.12, wasm: 10.4, pytorch: 5.99 },
        evalMs: { tensorflow: 100.46, wasm: 600 },
      },
    });
    assert.deepEqual(comparison(results, null).compare.msPerStep, { tensorflow: 4.12, wasm: 10.4 });
  });
});
