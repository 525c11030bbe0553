/** Running the built CLI (dist/bin/train.js) in a child process, for end-to-end tests. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/util/package-root';

export const root = packageRoot();
export const cliPath = join(root, 'dist', 'bin', 'train.js');

/** The modules the CLI runs; dist must be at least as new as their sources. */
const CORE = [
  'bin/train',
  'train/trainer',
  'engine/local-engine',
  'store/checkpoint',
  'core/config',
  'util/io',
  'core/history',
  'core/model',
  'engine/backend',
  'util/random',
  'data/idx',
  'data/mnist',
];

/** Builds dist (`npm run build`) when a core module is newer than its compiled file. */
export function ensureBuilt(): void {
  const stale = CORE.filter((name) => {
    const built = join(root, 'dist', `${name}.js`);
    return !existsSync(built) || statSync(join(root, 'src', `${name}.ts`)).mtimeMs > statSync(built).mtimeMs;
  });
  if (stale.length === 0) return;
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (error) {
    // tsc writes its output even when it reports type errors elsewhere; what matters is a fresh dist.
    const output = String((error as { stdout?: Buffer }).stdout ?? '');
    if (!existsSync(cliPath)) throw new Error(`dist is missing and could not be built:\n${output}`);
  }
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in a child process. `onLine` sees each line of its standard output as it comes.
 * A child still running after `limitSeconds` is killed and the test fails (a hang guard, far
 * above the time any of these runs takes).
 */
export function runCli(
  args: string[],
  onLine?: (line: string, child: ChildProcess) => void,
  limitSeconds = 300,
): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: root,
      // MNIST_PROBE=off: auto's fixed order, not a measured (machine-dependent) choice.
      env: { ...process.env, MNIST_BACKEND: '', MNIST_PROBE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) onLine?.(line, child);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `mnist-tutorial ${args.join(' ')} still running after ${limitSeconds} s\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, limitSeconds * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}
