import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CHECKPOINT_FILE,
  WEIGHTS_FILE,
  WEIGHTS_MANIFEST,
  loadCheckpoint,
  loadWeights,
} from '../../src/store/checkpoint';
import * as tf from '@tensorflow/tfjs';
import { EXIT, UsageError, parseTrainArgs, runReport, runTrain, usage } from '../../src/bin/train';
import { ChromiumNotFoundError } from '../../src/charts/chromium';
import type { Terminal } from '../../src/bin/progress';
import { CONFIG_HELP, DEFAULT_CONFIG, type TrainingConfig } from '../../src/core/config';
import { CSV_COLUMNS, type Evaluation, type History } from '../../src/core/history';
import { loadRunModel } from '../../src/store/run-model';
import { listRuns, loadRun } from '../../src/store/runs';
import { browserSkip } from '../helpers/chromium';
import { ensureBuilt, root, runCli } from '../helpers/cli';

function readHistory(dir: string): History {
  return JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as History;
}

/** Evaluations without their wall times. */
function accuracies(history: History): Omit<Evaluation, 'elapsedSeconds'>[] {
  return history.evaluations.map(({ step, validationAccuracy, testAccuracy }) => ({
    step,
    validationAccuracy,
    testAccuracy,
  }));
}

/** A history without its wall-clock fields, which differ between any two runs. */
function withoutClock(history: History): unknown {
  const { startedAt: _s, finishedAt: _f, wallTimeSeconds: _w, ...rest } = history;
  return { ...rest, evaluations: history.evaluations.map(({ elapsedSeconds: _e, ...evaluation }) => evaluation) };
}

/** `process.stdout` stand-in off a terminal, writing nothing. */
const silent: Terminal = { isTTY: false, write: () => true };

/** Runs `train` in this process; its printed lines and its stderr lines. */
async function trainHere(
  args: string[],
  hook?: Parameters<typeof runTrain>[2],
): Promise<{ status: number; lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    const status = await runTrain(args, (line) => lines.push(line), hook, silent);
    return { status, lines, errors };
  } finally {
    console.error = consoleError;
  }
}

function assertNoTemporaryFiles(dir: string): void {
  const leftovers = readdirSync(dir).filter((name) => /\.(tmp|partial)$/.test(name));
  assert.deepEqual(leftovers, [], `temporary files left in ${dir}`);
}

let tmp: string;
before(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'cli-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseTrainArgs', () => {
  it('no flags: the tutorial on the embedded data', () => {
    assert.deepEqual(parseTrainArgs([]), {
      config: {},
      backend: undefined,
      source: { kind: 'embedded' },
      out: undefined,
      checkpointEvery: undefined,
      resume: undefined,
      charts: true,
      showTestAccuracy: false,
      quiet: false,
      help: false,
    });
  });

  it('reads hyperparameters, aliases and run flags', () => {
    const options = parseTrainArgs([
      '--steps',
      '200',
      '--learning-rate=0.5',
      '--layer1-node',
      '20',
      '--use-moving-average',
      'false',
      '--activation',
      'linear',
      '--init-bias',
      '-0.5',
      '--backend',
      'cpu',
      '--data-dir',
      '/data',
      '--out',
      'o',
      '--checkpoint-every',
      '50',
      '--no-charts',
      '-q',
    ]);
    assert.deepEqual(options.config, {
      trainingSteps: 200,
      learningRateBase: 0.5,
      layer1Node: 20,
      useMovingAverage: false,
      activation: 'linear',
      initBias: -0.5,
    });
    assert.equal(options.backend, 'cpu');
    assert.deepEqual(options.source, { kind: 'directory', path: '/data' });
    assert.equal(options.out, 'o');
    assert.equal(options.checkpointEvery, 50);
    assert.equal(options.charts, false);
    assert.equal(options.quiet, true);
    assert.deepEqual(parseTrainArgs(['--data-url', 'http://example.org/mnist/']).source, {
      kind: 'url',
      baseUrl: 'http://example.org/mnist/',
    });
    assert.equal(parseTrainArgs(['-h']).help, true);
  });

  /** The problems of a UsageError thrown by parseTrainArgs. */
  function problems(args: string[]): string[] {
    try {
      parseTrainArgs(args);
    } catch (error) {
      assert.ok(error instanceof UsageError, String(error));
      return error.problems;
    }
    assert.fail(`${args.join(' ')} was accepted`);
  }

  it('reports unknown flags and bad values together', () => {
    assert.deepEqual(problems(['--steps', 'abc', '--learning-rate-decay', '2', '--bogus']), [
      'unknown flag --bogus',
      '--learning-rate-decay: must be a number > 0 and <= 1, got 2',
      '--steps: must be an integer >= 0, got "abc"',
    ]);
  });

  it('reports every other kind of mistake', () => {
    const found = problems([
      'stray',
      '-x',
      '--quiet=yes',
      '--eval-every',
      '--seed',
      '1',
      '--seed',
      '2',
      '--steps',
      '5',
      '--training-steps',
      '6',
      '--backend',
      'gpu',
      '--checkpoint-every',
      '-1',
      '--data-dir',
      'd',
      '--data-url',
      'u',
      '--batch-size',
      '1.5',
      '--use-moving-average',
      'maybe',
      '--activation',
      'tanh',
      '--record-every',
    ]);
    assert.ok(
      !found.some((p) => p.includes('"1"') || p.includes('"2"')),
      'the values of --seed were taken for arguments',
    );
    for (const pattern of [
      /^unexpected argument "stray"$/,
      /^unknown flag -x$/,
      /^--quiet takes no value, got "yes"$/,
      /^--eval-every needs a value \(write --eval-every=VALUE for a value that starts with -\)$/,
      /^--seed given more than once$/,
      /^--steps and --training-steps both given$/,
      /^--backend must be one of auto, tensorflow, wasm, cpu; got "gpu"$/,
      /^--checkpoint-every must be an integer >= 0 \(0: no checkpoints\), got "-1"$/,
      /^--data-dir and --data-url both given/,
      /^--batch-size: must be an integer/,
      /^--use-moving-average: must be true or false, got "maybe"$/,
      /^--activation: must be one of relu, linear, got "tanh"$/,
      /^--record-every needs a value/,
    ]) {
      assert.ok(
        found.some((p) => pattern.test(p)),
        `no problem matches ${pattern}:\n${found.join('\n')}`,
      );
    }
  });
});

describe('usage', () => {
  it("says what every hyperparameter flag means, with its default and the tutorial's name", () => {
    const text = usage();
    for (const [field, { tutorial, text: meaning }] of Object.entries(CONFIG_HELP) as [
      keyof TrainingConfig,
      (typeof CONFIG_HELP)[keyof TrainingConfig],
    ][]) {
      const flag = `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      // The entry: flag and value, default, then the meaning, wrapped under its column.
      const start = text.indexOf(`  ${flag} `);
      assert.ok(start >= 0, `${flag} is missing`);
      const entry = text
        .slice(start)
        .split(/\n(?= {2}--| *$)/)[0]
        .replace(/\s+/g, ' ');
      const head = new RegExp(`^ ${flag} (N|X|BOOL|NAME) ${String(DEFAULT_CONFIG[field]).replace('.', '\\.')} `);
      assert.match(entry, head, flag);
      assert.ok(entry.endsWith(`${tutorial === undefined ? '' : `${tutorial}: `}${meaning}`), `${flag}: ${entry}`);
    }
    for (const line of text.split('\n')) assert.ok(line.length <= 100, `too long: ${line}`);
  });
});

describe('mnist-tutorial train (end to end)', () => {
  it('a short run writes history.json, metrics.csv and the weights, and exits 0', async () => {
    const out = join(tmp, 'short');
    const result = await runCli([
      'train',
      '--steps',
      '200',
      '--eval-every',
      '100',
      '--out',
      out,
      '--no-charts',
      '--backend',
      'wasm',
    ]);
    assert.equal(result.code, EXIT.ok, result.stderr);
    assert.match(result.stdout, /^backend: wasm/m);
    assert.match(result.stdout, /final test accuracy \d+\.\d\d % after 200 steps/);
    // Not a terminal: plain lines, and a status line after each evaluation.
    assert.ok(!result.stdout.includes('\r') && !result.stdout.includes('\u001b'), 'no control characters');
    assert.match(
      result.stdout,
      /^step 100: validation accuracy .*\n {2}step 100\/200 · [\d.,]+ steps\/s · .* left · loss \d\.\d+ · validation \d+\.\d\d %$/m,
    );

    const history = readHistory(out);
    assert.equal(history.backend, 'wasm');
    assert.equal(history.status, 'completed');
    assert.equal(history.error, null);
    assert.equal(history.config.trainingSteps, 200);
    assert.equal(history.config.evalEvery, 100);
    assert.equal(history.config.layer1Node, 500);
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0, 100, 200],
    );
    for (const e of history.evaluations) {
      for (const accuracy of [e.validationAccuracy, e.testAccuracy])
        assert.ok(accuracy >= 0 && accuracy <= 1, `accuracy ${accuracy}`);
    }
    assert.ok(history.evaluations[2].validationAccuracy > 0.9);
    assert.deepEqual(
      history.steps.map((s) => s.step),
      Array.from({ length: 20 }, (_, i) => i * 10),
    );
    for (const s of history.steps) {
      for (const key of ['learningRate', 'crossEntropy', 'totalLoss', 'meanAbsGradient'] as const)
        assert.ok(Number.isFinite(s[key]) && s[key] > 0, `${key} at ${s.step}`);
    }
    assert.equal(history.final?.step, 200);
    assert.equal(history.final?.testAccuracy, history.evaluations[2].testAccuracy);

    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv[0], CSV_COLUMNS.join(','));
    // A row per recorded step (0, 10, ..., 190) plus one for the evaluation at 200.
    assert.equal(csv.length, 1 + 21);
    const rows = csv.slice(1).map((line) => line.split(','));
    assert.ok(rows.every((cells) => cells.length === CSV_COLUMNS.length));
    const byStep = new Map(rows.map((cells) => [Number(cells[0]), cells]));
    const column = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    assert.equal(Number(byStep.get(10)![column('learning_rate')]), 0.8);
    assert.equal(byStep.get(10)![column('validation_accuracy')], '');
    assert.equal(Number(byStep.get(100)![column('validation_accuracy')]), history.evaluations[1].validationAccuracy);
    assert.equal(Number(byStep.get(100)![column('cross_entropy')]), history.steps[10].crossEntropy);
    assert.equal(byStep.get(200)![column('cross_entropy')], '');

    const weights = await loadWeights(out);
    assert.equal(weights.params.weights1?.length, 784 * 500);
    assert.equal(weights.params.biases2?.length, 10);
    assert.equal(weights.averages.weights2?.length, 500 * 10);
    assert.ok(existsSync(join(out, WEIGHTS_MANIFEST)) && existsSync(join(out, WEIGHTS_FILE)));
    assert.ok(!existsSync(join(out, CHECKPOINT_FILE)), 'no checkpoint unless asked for');
    assertNoTemporaryFiles(out);

    // The output folder is a saved run: listed, and loaded back with its weights' shapes.
    const [listed] = await listRuns(tmp).then((runs) => runs.filter((r) => r.name === 'short'));
    assert.equal(listed?.status, 'completed');
    assert.equal(listed?.finalTestAccuracy, history.final?.testAccuracy);
    const model = await loadRunModel(await loadRun(out));
    assert.deepEqual(model.params.weights1.shape, [784, 500]);
    model.dispose();
  });

  it('bad flags print the usage and every problem, and exit 2 before doing anything', async () => {
    const out = join(tmp, 'bad-flags');
    const result = await runCli(['train', '--steps', 'abc', '--learning-rate-decay', '2', '--bogus', '--out', out]);
    assert.equal(result.code, EXIT.usage);
    assert.match(result.stderr, /^error: unknown flag --bogus$/m);
    assert.match(result.stderr, /^error: --steps: must be an integer >= 0, got "abc"$/m);
    assert.match(result.stderr, /^error: --learning-rate-decay: must be a number > 0 and <= 1, got 2$/m);
    assert.match(result.stderr, /Usage: mnist-tutorial train/);
    assert.equal(result.stdout, '');
    assert.ok(!existsSync(out));
  });

  it('--help prints the usage and exits 0; an unknown command exits 2', async () => {
    const help = await runCli(['train', '--help']);
    assert.equal(help.code, EXIT.ok);
    assert.match(help.stdout, /Usage: mnist-tutorial train/);
    const unknown = await runCli(['fly']);
    assert.equal(unknown.code, EXIT.usage);
    assert.match(unknown.stderr, /error: unknown command "fly"/);
  });

  it('a learning rate of 50 diverges: exit 1, history.json says so, naming the step and learning rate', async () => {
    const out = join(tmp, 'diverged');
    const result = await runCli([
      'train',
      '--learning-rate',
      '50',
      '--steps',
      '100',
      '--out',
      out,
      '--no-charts',
      '--backend',
      'wasm',
    ]);
    assert.equal(result.code, EXIT.failed);
    assert.match(result.stderr, /^error: training diverged at step \d+: .*with learning rate 50\b/m);
    const history = readHistory(out);
    assert.equal(history.status, 'diverged');
    assert.match(history.error ?? '', /^training diverged at step \d+: .*with learning rate 50\b/);
    assert.equal(history.final, null);
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0],
    );
    // The weights of the last good step are kept.
    assert.equal((await loadWeights(out)).params.weights1?.length, 784 * 500);
    assertNoTemporaryFiles(out);
  });

  it('SIGINT stops the run (exit 130, history stopped, checkpoint written); --resume finishes it exactly as an uninterrupted run', async () => {
    const flags = [
      '--steps',
      '300',
      '--eval-every',
      '100',
      '--checkpoint-every',
      '100',
      '--no-charts',
      '--backend',
      'wasm',
    ];
    const whole = join(tmp, 'whole');
    const uninterrupted = await runCli(['train', ...flags, '--out', whole]);
    assert.equal(uninterrupted.code, EXIT.ok, uninterrupted.stderr);
    const expected = readHistory(whole);
    assert.deepEqual(
      expected.evaluations.map((e) => e.step),
      [0, 100, 200, 300],
    );

    // Interrupted once the step-100 evaluation is out (so a periodic checkpoint exists too).
    const parted = join(tmp, 'parted');
    let interrupted = false;
    const stopped = await runCli(['train', ...flags, '--out', parted], (line, child) => {
      if (!interrupted && line.startsWith('step 100: validation accuracy')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(interrupted, `the run never reached step 100:\n${stopped.stdout}\n${stopped.stderr}`);
    assert.equal(stopped.code, EXIT.interrupted, stopped.stderr);
    assert.match(stopped.stdout, /interrupt: stopping after this step/);
    const partial = readHistory(parted);
    assert.equal(partial.status, 'stopped');
    const stopStep = Number(/^stopped at step (\d+) of 300$/.exec(partial.error ?? '')?.[1]);
    assert.ok(stopStep >= 100 && stopStep < 300, `stopped at ${partial.error}`);
    assert.equal(partial.steps.at(-1)!.step, Math.floor((stopStep - 1) / 10) * 10);
    const checkpoint = await loadCheckpoint(parted);
    assert.equal(checkpoint.globalStep, stopStep);
    assertNoTemporaryFiles(parted);

    const resumed = await runCli(['train', '--resume', parted, '--no-charts', '--backend', 'wasm']);
    assert.equal(resumed.code, EXIT.ok, resumed.stderr);
    assert.ok(
      resumed.stdout.includes(`resuming ${parted} from step ${stopStep} of 300\n`),
      `no resume notice:\n${resumed.stdout}`,
    );
    const finished = readHistory(parted);
    assert.equal(finished.status, 'completed');
    assert.deepEqual(accuracies(finished), accuracies(expected));
    assert.deepEqual(finished.steps, expected.steps);
    assert.deepEqual(finished.final, expected.final);
    assert.deepEqual(finished.config, expected.config);
    const [a, b] = [await loadWeights(whole), await loadWeights(parted)];
    assert.deepEqual(Array.from(b.averages.weights2!), Array.from(a.averages.weights2!));
  });

  it('--out DIR continues an unfinished run given the same flags, refuses other flags without changing anything, and leaves a completed one alone', async () => {
    const flags = ['--eval-every', '100', '--checkpoint-every', '50', '--no-charts', '--backend', 'wasm'];
    const out = join(tmp, 'again');
    let interrupted = false;
    const stopped = await runCli(['train', ...flags, '--steps', '300', '--out', out], (line, child) => {
      if (!interrupted && line.startsWith('step 100: validation accuracy')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    assert.equal(stopped.code, EXIT.interrupted, stopped.stderr);
    flags.push('--steps', '300');
    const stopStep = (await loadCheckpoint(out)).globalStep;
    const snapshot = () =>
      Object.fromEntries(readdirSync(out).map((name) => [name, readFileSync(join(out, name)).toString('base64')]));
    const before = snapshot();

    const other = await runCli([
      'train',
      ...flags.slice(0, -2),
      '--steps',
      '400',
      '--learning-rate',
      '0.5',
      '--out',
      out,
    ]);
    assert.equal(other.code, EXIT.failed);
    assert.equal(
      other.stderr.trim().split('\n').at(-1),
      `error: ${out} holds an unfinished run (step ${stopStep} of 300) with other settings: --learning-rate-base: 0.8 there, 0.5 here; --training-steps: 300 there, 400 here. Nothing was changed: give the same flags to continue it, --resume ${out} to continue it with the new settings, or another --out`,
    );
    assert.deepEqual(snapshot(), before, 'nothing was overwritten');

    const resumed = await runCli(['train', ...flags, '--out', out]);
    assert.equal(resumed.code, EXIT.ok, resumed.stderr);
    assert.ok(
      resumed.stdout.includes(`resuming ${out} from step ${stopStep} of 300\n`),
      `no resume notice:\n${resumed.stdout}`,
    );
    const history = readHistory(out);
    assert.equal(history.status, 'completed');
    assert.deepEqual(
      readdirSync(out).sort(),
      ['history.json', 'metrics.csv', 'run.json', 'weights.bin', 'weights.json'],
      'a completed run drops its checkpoint',
    );

    const done = snapshot();
    const again = await runCli(['train', ...flags, '--out', out]);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.match(
      again.stdout,
      /already holds this run, completed after 300 steps: test accuracy [\d.]+ %; nothing to do/,
    );
    const changed = await runCli(['train', ...flags, '--seed', '2', '--out', out]);
    assert.equal(changed.code, EXIT.failed);
    assert.match(
      changed.stderr,
      /holds a run that completed with other settings: --seed: 1 there, 2 here\. Nothing was changed/,
    );
    assert.deepEqual(snapshot(), done, 'nothing was overwritten');
  });

  it('--out below a regular file fails before training, naming the path, and writes nothing', async () => {
    const file = join(tmp, 'not-a-folder');
    writeFileSync(file, 'keep me');
    const out = join(file, 'run');
    const result = await runCli(['train', '--steps', '10', '--out', out, '--no-charts']);
    assert.equal(result.code, EXIT.failed);
    assert.equal(
      result.stderr.trim(),
      `error: ${out}: cannot write output here: a part of the path is a file, not a folder`,
    );
    // Nothing was started: no backend, no data, no training.
    assert.doesNotMatch(result.stdout, /backend:|step 0/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
    assert.deepEqual(
      readdirSync(tmp).filter((name) => name.startsWith('not-a-folder')),
      ['not-a-folder'],
    );
  });

  it("--quiet prints only the tutorial's log lines and the summary", async () => {
    const out = join(tmp, 'quiet');
    const result = await runCli([
      'train',
      '--steps',
      '100',
      '--eval-every',
      '50',
      '--out',
      out,
      '--no-charts',
      '--backend',
      'wasm',
      '--quiet',
    ]);
    assert.equal(result.code, EXIT.ok, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.slice(0, -2).map((line) => line.replace(/[\d.]+ %$/, 'P %')),
      [
        '训练轮数: 0 ,准确率: P %',
        '训练轮数: 50 ,准确率: P %',
        '训练轮数: 100 ,准确率: P %',
        '训练轮数: 100 ,测试准确率: P %',
      ],
    );
    assert.match(lines.at(-2)!, /^final test accuracy [\d.]+ % after 100 steps in [\d.]+ s on wasm$/);
    assert.equal(lines.at(-1), `wrote ${out}/: history.json, metrics.csv, weights.json, weights.bin, run.json`);
  });

  it('--resume from a folder without a checkpoint fails before training and creates nothing', async () => {
    const missing = join(tmp, 'no-such-run');
    const result = await runCli(['train', '--resume', missing, '--no-charts']);
    assert.equal(result.code, EXIT.failed);
    assert.match(
      result.stderr,
      new RegExp(`^error: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no checkpoint found`),
    );
    assert.doesNotMatch(result.stdout, /backend:/);
    assert.ok(!existsSync(missing), `${relative(root, missing)} was created`);
  });
});

describe('runTrain (in this process)', () => {
  it('a run that cannot be saved exits 1 naming the folder, and its trainer is still released', async () => {
    const out = join(tmp, 'unsaveable');
    // A small network on the cpu backend: the test is about what happens after training.
    const args = [
      '--steps',
      '20',
      '--eval-every',
      '10',
      '--layer1-node',
      '20',
      '--checkpoint-every',
      '0',
      '--no-charts',
      '--backend',
      'cpu',
      '--workers',
      '1',
    ];
    const silent: Terminal = { isTTY: false, write: () => true };
    // A first run sets up the backend and the data; what it leaves is the baseline.
    assert.equal(
      await runTrain([...args, '--out', join(tmp, 'saveable')], () => undefined, undefined, silent),
      EXIT.ok,
    );
    const tensors = tf.memory().numTensors;
    const lines: string[] = [];
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    let status: number;
    try {
      status = await runTrain(
        [...args, '--out', out],
        (line) => {
          lines.push(line);
          // Once training starts, the output folder becomes a file: saving the run must fail.
          if (line === `output: ${out}`) {
            rmSync(out, { recursive: true, force: true });
            writeFileSync(out, 'not a folder');
          }
        },
        undefined,
        silent,
      );
    } finally {
      console.error = consoleError;
    }
    assert.equal(status, EXIT.failed);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(
      errors[0],
      new RegExp(`^error: the run could not be saved in ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
    );
    assert.equal(tf.memory().numTensors, tensors, 'the trainer was disposed');
    assert.match(lines.at(-1)!, /^final test accuracy [\d.]+ % after 20 steps/);
    assert.ok(!lines.some((line) => line.startsWith('wrote ')), 'nothing claims to be written');
  });
});

describe('runTrain: going on from a completed run', () => {
  // A small network on the cpu backend; 2,000 steps are not a multiple of --eval-every.
  const small = ['--layer1-node', '10', '--batch-size', '10', '--eval-every', '700', '--record-every', '50'];
  const run = ['--checkpoint-every', '500', '--no-charts', '--backend', 'cpu', '--workers', '1'];

  it('--steps 4000 --resume DIR continues a completed 2,000-step run: the history of an uninterrupted 4,000-step run', async () => {
    const whole = join(tmp, 'whole-4000');
    const uninterrupted = await trainHere([...small, ...run, '--steps', '4000', '--out', whole]);
    assert.equal(uninterrupted.status, EXIT.ok, uninterrupted.errors.join('\n'));
    const dir = join(tmp, 'continued');
    const first = await trainHere([...small, ...run, '--steps', '2000', '--out', dir]);
    assert.equal(first.status, EXIT.ok, first.errors.join('\n'));
    assert.deepEqual(readdirSync(dir).sort(), [
      'history.json',
      'metrics.csv',
      'run.json',
      'weights.bin',
      'weights.json',
    ]);

    // The run's own settings, but for the steps.
    const continued = await trainHere(['--steps', '4000', '--resume', dir, ...run]);
    assert.equal(continued.status, EXIT.ok, continued.errors.join('\n'));
    assert.ok(continued.lines.includes(`resuming ${dir} from step 2,000 of 4,000`), continued.lines.join('\n'));
    assert.equal(
      continued.lines.at(-1),
      `wrote ${dir}/: history.json, metrics.csv, weights.json, weights.bin, run.json`,
    );
    assert.deepEqual(withoutClock(readHistory(dir)), withoutClock(readHistory(whole)));
    assert.deepEqual(
      await loadWeights(dir),
      await loadWeights(whole),
      'the weights and averages of the uninterrupted run',
    );
  });

  it('a completed run saved before runs recorded their data order: an error that says what to do, nothing changed', async () => {
    const dir = join(tmp, 'old-format');
    assert.equal((await trainHere([...small, ...run, '--steps', '20', '--out', dir])).status, EXIT.ok);
    const meta = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
    delete meta.sampler;
    writeFileSync(join(dir, 'run.json'), JSON.stringify(meta));
    const snapshot = () => readdirSync(dir).map((name) => [name, readFileSync(join(dir, name)).toString('base64')]);
    const before = snapshot();
    const result = await trainHere(['--steps', '40', '--resume', dir, ...run]);
    assert.equal(result.status, EXIT.failed);
    assert.deepEqual(result.errors, [
      `error: ${dir} holds a run that completed at step 20, which cannot go on: it was saved before runs recorded their data order, which going on exactly needs. Nothing was changed: train from step 0 with another --out`,
    ]);
    assert.deepEqual(snapshot(), before);
  });
});

describe('runTrain: the report', () => {
  const tiny = ['--steps', '20', '--eval-every', '10', '--layer1-node', '10', '--backend', 'cpu', '--workers', '1'];

  it('without Chromium: the report only, a line that says why, and only the files written listed', async () => {
    const out = join(tmp, 'no-chromium');
    const noChromium = runReport(() => {
      throw new ChromiumNotFoundError(['/nowhere/chromium']);
    });
    const result = await trainHere([...tiny, '--checkpoint-every', '0', '--out', out], noChromium);
    assert.equal(result.status, EXIT.ok, result.errors.join('\n'));
    assert.match(
      result.lines.join('\n'),
      /^chart images not written: No Chromium browser found; .*Looked for: \/nowhere\/chromium/m,
    );
    assert.ok(result.lines.includes(`report: ${resolve(out, 'report.html')}`), result.lines.join('\n'));
    assert.equal(
      result.lines.at(-1),
      `wrote ${out}/: history.json, metrics.csv, weights.json, weights.bin, run.json, report.html`,
    );
    assert.deepEqual(readdirSync(out).sort(), [
      'history.json',
      'metrics.csv',
      'report.html',
      'run.json',
      'weights.bin',
      'weights.json',
    ]);
  });

  it('with Chromium: the chart images are counted in the files written', { skip: browserSkip }, async () => {
    const out = join(tmp, 'with-chromium');
    const result = await trainHere([...tiny, '--checkpoint-every', '0', '--out', out]);
    assert.equal(result.status, EXIT.ok, result.errors.join('\n'));
    assert.ok(!result.lines.some((line) => line.startsWith('chart images not written')), result.lines.join('\n'));
    const images = readdirSync(out).filter((name) => /\.(svg|png)$/.test(name));
    assert.equal(images.length, 8);
    assert.equal(
      result.lines.at(-1),
      `wrote ${out}/: history.json, metrics.csv, weights.json, weights.bin, run.json, report.html, 8 chart images`,
    );
  });

  it('shows validation accuracy only while training, and test accuracy too with --show-test-accuracy', async () => {
    const plain = await trainHere([
      ...tiny,
      '--checkpoint-every',
      '0',
      '--no-charts',
      '--out',
      join(tmp, 'validation-only'),
    ]);
    assert.equal(plain.status, EXIT.ok, plain.errors.join('\n'));
    const text = plain.lines.join('\n');
    assert.match(text, /^step 10: validation accuracy [\d.]+ %$/m);
    assert.match(text, /^ {2}step 10\/20 · .* · validation [\d.]+ %$/m);
    const shown = await trainHere([
      ...tiny,
      '--checkpoint-every',
      '0',
      '--no-charts',
      '--show-test-accuracy',
      '--out',
      join(tmp, 'test-shown'),
    ]);
    assert.equal(shown.status, EXIT.ok, shown.errors.join('\n'));
    assert.match(shown.lines.join('\n'), /^step 10: validation accuracy [\d.]+ %, test accuracy [\d.]+ %$/m);
    assert.match(shown.lines.join('\n'), /^ {2}step 10\/20 · .* · validation [\d.]+ % · test [\d.]+ %$/m);
  });
});
