/**
 * A tslab kernel killed during a notebook training cell (`trainOrLoad`) and restarted: running
 * the cell again continues the run from its last checkpoint, says so, and ends with the history
 * of an uninterrupted run. Driven by test/notebooks/restart_kernel.py through Jupyter's own client.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ensureBuilt, root } from '../helpers/cli';

/** Debian's Python, the one with Jupyter (the first `python3` on PATH may be another). */
const PYTHON = process.env.NOTEBOOK_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(root, 'test', 'notebooks', 'restart_kernel.py');
const PATH = `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`;

interface Summary {
  resumedFrom: number | null;
  reused: boolean;
  status: string;
  run: string;
  evaluations: number[][];
  steps: number[][];
  final: unknown;
}

describe('restarting the kernel during a training cell', () => {
  test(
    'the cell run again continues from the checkpoint, says so, and ends with the uninterrupted history',
    { timeout: 15 * 60_000 },
    () => {
      const probe = spawnSync(PYTHON, ['-c', 'import jupyter_client'], { encoding: 'utf8' });
      assert.equal(
        probe.status,
        0,
        `${PYTHON} with jupyter_client is needed (npm run test:setup installs it): ${probe.stderr}`,
      );
      const kernels = spawnSync(
        PYTHON,
        [
          '-c',
          'from jupyter_client.kernelspec import KernelSpecManager as M; print("\\n".join(M().find_kernel_specs()))',
        ],
        { encoding: 'utf8' },
      );
      if (!kernels.stdout.split('\n').includes('tslab')) {
        const install = spawnSync(
          process.execPath,
          [join(root, 'node_modules', 'tslab', 'bin', 'tslab'), 'install', `--python=${PYTHON}`],
          { encoding: 'utf8' },
        );
        assert.equal(install.status, 0, `could not register the tslab kernel:\n${install.stdout}${install.stderr}`);
      }
      // The notebooks' kernel imports the compiled package from dist.
      ensureBuilt();
      const runs = mkdtempSync(join(tmpdir(), 'kernel-restart-'));
      try {
        const result = spawnSync(PYTHON, [SCRIPT, join(root, 'notebooks'), join(runs, 'runs')], {
          encoding: 'utf8',
          env: { ...process.env, PATH, MNIST_PROBE: 'off' },
          timeout: 14 * 60_000,
        });
        assert.equal(
          result.status,
          0,
          `restart_kernel.py failed:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
        );
        const findings = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
          restarted: boolean;
          firstLog: string;
          secondLog: string;
          resumed: Summary;
          reference: Summary;
        };
        assert.equal(findings.restarted, true, 'the kernel came back');
        assert.match(findings.firstLog, /^training restarted: 3000 steps$/m);
        const resumedAt = Number(
          /^resuming restarted from step (\d+) of 3000 \(the checkpoint of an unfinished run\)$/m.exec(
            findings.secondLog,
          )?.[1],
        );
        assert.ok(
          resumedAt >= 1000 && resumedAt % 200 === 0,
          `resumed from the last checkpoint before the restart (every 200 steps, past step 1,100), not ${resumedAt}:\n${findings.secondLog}`,
        );
        const { resumed, reference } = findings;
        assert.equal(resumed.resumedFrom, resumedAt);
        assert.equal(resumed.status, 'completed');
        assert.equal(reference.status, 'completed');
        assert.deepEqual(resumed.evaluations, reference.evaluations, 'evaluations equal an uninterrupted run’s');
        assert.deepEqual(resumed.steps, reference.steps, 'recorded steps equal an uninterrupted run’s');
        assert.deepEqual(resumed.final, reference.final);
        console.log(
          `kernel restarted past step 1,100; the cell run again resumed from step ${resumedAt}; final test accuracy ${JSON.stringify(resumed.final)}; history identical to an uninterrupted run`,
        );
      } finally {
        rmSync(runs, { recursive: true, force: true });
      }
    },
  );
});
