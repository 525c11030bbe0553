#!/usr/bin/env node
/**
 * `npm run bench`: times the training step and a full evaluation pass on each backend that
 * loads (or the one given), and prints one JSON line per backend and gradient mode.
 *
 * Figures are medians over repeated timing rounds after a warm-up, in milliseconds.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { BACKENDS, fasterEngine, parseBackendChoice, setupBackend, type BackendName } from '../engine/backend';
import { measureEngines } from '../engine/engine-probe';
import { splitWorkersFor } from '../engine/workers';
import { DEFAULT_CONFIG } from '../core/config';
import { createNotebookCharts } from '../notebook/display';
import { loadMnist, type MnistData } from '../data/mnist';
import { Trainer } from '../train/trainer';
import { NATIVE_STEPS, type NativeStep } from '../engine/engines';
import { type GradientMode } from '../core/loss';
import { runCommand } from './command';
import { benchParallel, PARALLEL_BENCH_OPTIONS, PARALLEL_BENCH_USAGE, type StepBench } from '../bench/parallel';
import { benchPeer, comparison, type PeerName, type PeerResult } from '../bench/peer';
import { benchCheckpoint } from '../bench/checkpoint';
import { median } from '../bench/median';
import { firstLine } from '../util/text';

export interface BenchResult {
  backend: BackendName;
  gradientMode: GradientMode;
  /** On native TensorFlow, how the hand-derived step ran: the tutorial's graph, or ops one by one. */
  nativeStep?: NativeStep;
  /** Median time of one training step (gradient step + moving-average update), no metrics recorded. */
  msPerStep: number;
  /** Median time of one step that also records the metrics (losses, mean absolute gradients). */
  msPerRecordedStep: number;
  /** Median time to evaluate the averaged model on the 5,000 validation and 10,000 test images. */
  evalMs: number;
  /** Steps per timing round and rounds. */
  stepsPerRound: number;
  rounds: number;
  /** Tensors alive before and after the timed steps (equal when nothing leaks). */
  tensorsBefore: number;
  tensorsAfter: number;
}

function timeRounds(rounds: number, stepsPerRound: number, body: () => void): number {
  const perStep: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < stepsPerRound; i++) body();
    perStep.push((performance.now() - start) / stepsPerRound);
  }
  return median(perStep);
}

/** Benchmarks the current backend. */
export function benchBackend(
  data: MnistData,
  backend: BackendName,
  gradientMode: GradientMode,
  steps: number,
  nativeStep?: NativeStep,
): BenchResult {
  const trainer = new Trainer(data, { backend, gradientMode, workers: 1, nativeStep });
  try {
    const stepsPerRound = Math.max(1, Math.floor(steps / 5));
    const rounds = 5;
    for (let i = 0; i < Math.min(20, stepsPerRound); i++) trainer.step(i % 2 === 0); // warm-up
    trainer.evaluate();
    const tensorsBefore = tf.memory().numTensors;
    const msPerStep = timeRounds(rounds, stepsPerRound, () => trainer.step(false));
    const msPerRecordedStep = timeRounds(rounds, Math.max(1, Math.floor(stepsPerRound / 5)), () => trainer.step(true));
    const tensorsAfter = tf.memory().numTensors;
    const evalMs = timeRounds(3, 1, () => trainer.evaluate());
    return {
      backend,
      gradientMode,
      ...(backend === 'tensorflow' && gradientMode === 'manual' ? { nativeStep: nativeStep ?? 'graph' } : {}),
      msPerStep,
      msPerRecordedStep,
      evalMs,
      stepsPerRound,
      rounds,
      tensorsBefore,
      tensorsAfter,
    };
  } finally {
    trainer.dispose();
  }
}

export interface LiveDisplayCost {
  backend: BackendName;
  steps: number;
  /** Wall time of the training loop, display included. */
  trainMs: number;
  /** Calls of the live display's progress callback, redraws, and the time spent in the callback. */
  progressCalls: number;
  redraws: number;
  displayMs: number;
  /** `displayMs` as a share of `trainMs`. */
  displayPercent: number;
}

/**
 * The cost of the notebook's live display during training: a short run with the live charts
 * (redrawn every `intervalMs`, as in a notebook) writing into a stand-in notebook output, timing
 * every call of the progress callback.
 */
export async function benchLiveDisplay(
  data: MnistData,
  backend: BackendName,
  steps: number,
  intervalMs = 2000,
): Promise<LiveDisplayCost> {
  const outputs: string[] = [];
  const charts = createNotebookCharts({
    output: {
      html: (html) => outputs.push(html),
      newDisplay: () => ({ html: (html) => outputs.push(html) }),
      note: () => undefined,
    },
    renderSvg: null,
  });
  const live = charts.liveTraining({ intervalMs });
  let displayMs = 0;
  let progressCalls = 0;
  const trainer = new Trainer(data, {
    backend,
    config: { trainingSteps: steps, evalEvery: Math.max(1, Math.floor(steps / 4)) },
  });
  try {
    const start = performance.now();
    await trainer.run({
      onProgress: (progress) => {
        const t = performance.now();
        live.onProgress(progress);
        displayMs += performance.now() - t;
        progressCalls++;
      },
    });
    const trainMs = performance.now() - start;
    return {
      backend,
      steps,
      trainMs,
      progressCalls,
      redraws: live.stats.redraws,
      displayMs,
      displayPercent: (100 * displayMs) / trainMs,
    };
  } finally {
    trainer.dispose();
    await charts.close();
  }
}

export interface MemorySample {
  step: number;
  tensors: number;
  /** Bytes held by tensors (tf.memory().numBytes). */
  tensorBytes: number;
  rssMB: number;
}

/**
 * A long run of the tutorial with a memory sample at each evaluation: the tensor count, the
 * bytes held by tensors and the process's resident memory, to show that they stay flat.
 */
export async function benchSoak(data: MnistData, backend: BackendName, steps: number): Promise<MemorySample[]> {
  const samples: MemorySample[] = [];
  const sample = (step: number) => {
    const memory = tf.memory();
    samples.push({
      step,
      tensors: memory.numTensors,
      tensorBytes: memory.numBytes,
      rssMB: process.memoryUsage().rss / 2 ** 20,
    });
  };
  const trainer = new Trainer(data, { backend, config: { trainingSteps: steps } });
  try {
    await trainer.run({ onEvaluation: (evaluation) => sample(evaluation.step) });
  } finally {
    trainer.dispose();
  }
  return samples;
}

const round = (x: number) => Math.round(x * 100) / 100;

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      backend: { type: 'string', default: 'all' },
      steps: { type: 'string', default: '200' },
      autodiff: { type: 'boolean', default: false },
      live: { type: 'boolean', default: false },
      soak: { type: 'string' },
      'peer-torch': { type: 'string' },
      'peer-tf1': { type: 'string' },
      'peer-python': { type: 'string' },
      'peer-tf1-python': { type: 'string' },
      'peer-steps': { type: 'string', default: '1000' },
      ...PARALLEL_BENCH_OPTIONS,
      checkpoint: { type: 'boolean', default: false },
      probe: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`Usage: npm run bench -- [--backend all|tensorflow|wasm|cpu] [--steps N] [--autodiff] [--live] [--soak STEPS] [--checkpoint] [--probe]
                       [--peer-torch recipe_torch.py] [--peer-tf1 tutorial_tf1.py] [--peer-python PYTHON]
                       [--peer-tf1-python PYTHON] [--peer-steps N]
Times the training step (median over 5 rounds of N/5 steps, after a warm-up) and one evaluation
pass (15,000 images) on each backend that loads; --autodiff also times the autodiff gradients;
--live measures the notebook's live charts during a run of 10 x N steps; --soak STEPS trains
that many steps of the tutorial and samples tensors and memory at every evaluation;
--peer-torch also times the PyTorch port (one thread, Debian's python3 by default);
--peer-tf1 the tutorial's TensorFlow 1 program (TensorFlow's default threads, the Python of
.venv by default: npm run bench:setup installs TensorFlow there); --peer-steps N steps each
(default 1000); --peer-python runs both with another Python, --peer-tf1-python only the
latter. The last line compares them all, each of our steps as a multiple of each peer's
("timesPeer");
--checkpoint measures what the default checkpoints cost as a share of training time;
--probe only runs auto's probe, now (native TensorFlow against the split wasm step, not
cached), and prints its figures, its choice and what it cost (probeMs).
Prints one JSON line per backend and measurement, then one comparing them.
${PARALLEL_BENCH_USAGE}`);
    return 0;
  }
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 5) {
    console.error(`error: --steps must be an integer >= 5, got "${values.steps}"`);
    return 2;
  }
  const wanted: BackendName[] =
    values.backend === 'all'
      ? [...BACKENDS]
      : [parseBackendChoice(values.backend as string, '--backend') as BackendName];
  if (values.probe) {
    // Both backends must start: auto's probe compares them.
    for (const name of ['wasm', 'tensorflow'] as const) await setupBackend(name);
    const candidates = [
      { backend: 'tensorflow' as const, workers: 1 },
      { backend: 'wasm' as const, workers: splitWorkersFor(DEFAULT_CONFIG) },
    ];
    const measured = await measureEngines(candidates, DEFAULT_CONFIG);
    const chosen = fasterEngine(measured.figures);
    console.log(
      JSON.stringify({ probe: { ...measured, chosen } }, (_, v: unknown) => (typeof v === 'number' ? round(v) : v)),
    );
    return 0;
  }
  const data = await loadMnist();
  const peerSteps = Number(values['peer-steps']);
  if (!Number.isInteger(peerSteps) || peerSteps < 1) {
    console.error(`error: --peer-steps must be a whole number of steps, got "${values['peer-steps']}"`);
    return 2;
  }
  const results: BenchResult[] = [];
  const stepLines: StepBench[] = [];
  for (const name of wanted) {
    try {
      await setupBackend(name);
    } catch (error) {
      console.log(JSON.stringify({ backend: name, skipped: firstLine(error) }));
      continue;
    }
    // The cpu backend is ~30x slower: fewer steps keep the benchmark short.
    const backendSteps = name === 'cpu' ? Math.max(5, Math.floor(steps / 10)) : steps;
    const modes: GradientMode[] = values.autodiff ? ['manual', 'autodiff'] : ['manual'];
    // On native TensorFlow, the hand-derived step both ways: the tutorial's graph and ops one by one.
    type Run = [GradientMode, NativeStep | undefined];
    const runs = modes.flatMap((mode): Run[] =>
      name === 'tensorflow' && mode === 'manual' ? NATIVE_STEPS.map((step): Run => [mode, step]) : [[mode, undefined]],
    );
    for (const [mode, nativeStep] of runs) {
      const result = benchBackend(data, name, mode, backendSteps, nativeStep);
      results.push(result);
      const rounded = Object.fromEntries(
        Object.entries(result).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
      );
      console.log(JSON.stringify(rounded));
    }
    if (values.soak !== undefined) {
      const soakSteps = Number(values.soak);
      if (!Number.isInteger(soakSteps) || soakSteps < 1)
        throw new Error(`--soak must be a whole number of steps, got "${values.soak}"`);
      const samples = await benchSoak(data, name, soakSteps);
      const field = (key: keyof MemorySample) => samples.map((s) => s[key]);
      const summary = (values: number[]) => ({
        first: round(values[0]),
        last: round(values.at(-1)!),
        min: round(Math.min(...values)),
        max: round(Math.max(...values)),
      });
      console.log(
        JSON.stringify({
          soak: {
            backend: name,
            steps: soakSteps,
            samples: samples.length,
            tensors: summary(field('tensors')),
            tensorBytes: summary(field('tensorBytes')),
            rssMB: summary(field('rssMB')),
          },
        }),
      );
    }
    if (values.checkpoint) {
      const cost = await benchCheckpoint(data, name);
      console.log(
        JSON.stringify(
          Object.fromEntries(Object.entries(cost).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])),
        ),
      );
    }
    if (values.live) {
      const cost = await benchLiveDisplay(data, name, backendSteps * 10);
      console.log(
        JSON.stringify({
          liveDisplay: Object.fromEntries(
            Object.entries(cost).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
          ),
        }),
      );
    }
    if (name === 'wasm') stepLines.push(...(await benchParallel(data, values)));
  }
  const peers: PeerResult[] = [];
  const scripts: [PeerName, string | undefined][] = [
    ['pytorch', values['peer-torch']],
    ['tensorflow1', values['peer-tf1']],
  ];
  for (const [peer, script] of scripts) {
    if (script === undefined) continue;
    const python = (peer === 'tensorflow1' ? values['peer-tf1-python'] : undefined) ?? values['peer-python'];
    const result = await benchPeer(peer, script, { steps: peerSteps, python });
    peers.push(result);
    console.log(JSON.stringify(result));
  }
  const compared = comparison(results, peers, stepLines);
  if (Object.keys(compared.compare.msPerStep).length > 1) console.log(JSON.stringify(compared));
  return 0;
}

if (require.main === module) runCommand(main);
