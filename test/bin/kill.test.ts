/**
 * Killing `mnist-tutorial train` with SIGKILL (as `kill -9` or the OOM killer do) at random
 * moments, again and again, and running the same command after each kill: every run continues
 * from the last checkpoint, no file is ever left half-written under its name, and the final
 * history equals the one of a run that was never killed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECKPOINT_FILE, loadCheckpoint, loadWeights } from '../../src/store/checkpoint';
import { parseHistory, type History } from '../../src/core/history';
import { readRunMeta } from '../../src/store/runs';
import { formatCount } from '../../src/util/text';
import { cliPath, ensureBuilt, root, runCli } from '../helpers/cli';

const STEPS = 500;
const FLAGS = [
  'train',
  '--steps',
  String(STEPS),
  '--eval-every',
  '100',
  '--checkpoint-every',
  '10',
  '--no-charts',
  '--backend',
  'wasm',
];

/** A history without its wall-clock fields. */
function withoutClock(history: History): unknown {
  const { startedAt: _s, finishedAt: _f, wallTimeSeconds: _w, ...rest } = history;
  return { ...rest, evaluations: history.evaluations.map(({ elapsedSeconds: _e, ...evaluation }) => evaluation) };
}

/**
 * Where a kill lands: after a random time in training, during a checkpoint write, during one file of the final save.
 */
type Moment =
  { kind: 'steps'; afterMs: number } | { kind: 'checkpoint'; nth: number } | { kind: 'final save'; file: string };

interface Outcome {
  /** Where the kill landed (a run killed "during steps" may reach its fallback, a checkpoint write), or null. */
  killed: Moment['kind'] | null;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command once; kills it with SIGKILL at `moment` (unless it ends first). */
function runUntil(out: string, moment: Moment): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, [cliPath, ...FLAGS, '--out', out], {
      cwd: root,
      // MNIST_PROBE=off: auto's fixed order, not a measured (machine-dependent) choice.
      env: { ...process.env, MNIST_BACKEND: '', MNIST_PROBE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed: Moment['kind'] | null = null;
    // fs.watch reports a file several times (created, written): count each temporary file once.
    const checkpoints = new Set<string>();
    const kill = (where: Moment['kind']) => {
      if (killed !== null || child.exitCode !== null) return;
      if (child.kill('SIGKILL')) killed = where;
    };
    // A temporary file appearing is a write under way: kill at once, to land inside it.
    const watcher = watch(out, (_event, name) => {
      if (name === null || !name.endsWith('.tmp')) return;
      // A run killed "during steps" is killed at its third checkpoint at the latest: each run
      // moves the training on by 30 steps at most, so the test kills many times, however fast.
      const nth = moment.kind === 'checkpoint' ? moment.nth : moment.kind === 'steps' ? 4 : 0;
      if (nth > 0 && name.startsWith(`${CHECKPOINT_FILE}.`) && checkpoints.add(name).size === nth) kill('checkpoint');
      if (moment.kind === 'final save' && name.startsWith(`${moment.file}.`)) kill('final save');
    });
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (moment.kind === 'steps' && timer === undefined && stdout.includes('output: '))
        timer = setTimeout(() => kill('steps'), moment.afterMs);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const guard = setTimeout(() => reject(new Error(`still running after 300 s:\n${stdout}\n${stderr}`)), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      clearTimeout(timer);
      watcher.close();
      resolvePromise({ killed, code, stdout, stderr });
    });
  });
}

/** Every file under its final name is whole: it reads back without error. Returns the temporary files left. */
async function checkFiles(out: string): Promise<string[]> {
  const files = readdirSync(out);
  if (files.includes(CHECKPOINT_FILE)) await loadCheckpoint(out);
  if (files.includes('history.json')) parseHistory(readFileSync(join(out, 'history.json'), 'utf8'), 'history.json');
  const meta = await readRunMeta(out);
  // run.json is written last: with it, the history and the weights of that run are there.
  if (files.includes('run.json')) {
    assert.notEqual(meta, null, 'run.json reads back');
    await loadWeights(out);
    assert.equal(parseHistory(readFileSync(join(out, 'history.json'), 'utf8'), 'history.json').status, meta!.status);
  }
  return files.filter((f) => f.endsWith('.tmp'));
}

let tmp: string;
before(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'kill-test-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('SIGKILL at random moments', () => {
  it(
    'every run after a kill continues from the last checkpoint; no file is half-written; the final history is the uninterrupted one',
    { timeout: 900_000 },
    async () => {
      const whole = join(tmp, 'whole');
      const reference = await runCli([...FLAGS, '--out', whole]);
      assert.equal(reference.code, 0, reference.stderr);
      const expected = parseHistory(readFileSync(join(whole, 'history.json'), 'utf8'), 'history.json');

      const started = performance.now();
      const out = join(tmp, 'killed');
      mkdirSync(out);
      const kills: Record<Moment['kind'], number> = { steps: 0, checkpoint: 0, 'final save': 0 };
      let midWrite = 0;
      let resumes = 0;
      let launches = 0;
      const finalFiles = ['history.json', 'weights.bin', 'run.json'];
      let finalKills = 0;
      // A fixed seed for the random moments, so that a failure can be replayed.
      let seed = 20261128;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (;;) {
        const meta = await readRunMeta(out);
        if (meta?.status === 'completed') break;
        assert.ok(launches < 80, 'the run never completed');
        const step = existsSync(join(out, CHECKPOINT_FILE)) ? (await loadCheckpoint(out)).globalStep : 0;
        // Near the end, aim at the final save (three times, once per file); before, at steps and checkpoint
        // writes. "Near": within what one launch may train before a random moment comes (a second or
        // more), or it would complete the run before any kill during the final save.
        const moment: Moment =
          step >= STEPS - 200 && finalKills < finalFiles.length
            ? { kind: 'final save', file: finalFiles[finalKills++] }
            : random() < 0.5
              ? { kind: 'steps', afterMs: Math.floor(random() * 1000) }
              : { kind: 'checkpoint', nth: 2 + Math.floor(random() * 2) };
        launches++;
        const outcome = await runUntil(out, moment);
        // Every launch that finds a checkpoint continues from it, at its step.
        if (step > 0) {
          assert.ok(
            outcome.stdout.includes(`resuming ${out} from step ${formatCount(step)} of ${formatCount(STEPS)}\n`),
            `launch ${launches} did not resume:\n${outcome.stdout}`,
          );
          resumes++;
        }
        assert.doesNotMatch(outcome.stderr, /error:/, `run ${launches} failed:\n${outcome.stderr}`);
        if (outcome.killed !== null) {
          kills[outcome.killed]++;
          const left = await checkFiles(out);
          if (left.length > 0) midWrite++;
        } else {
          assert.equal(outcome.code, 0, outcome.stderr);
        }
      }
      const total = kills.steps + kills.checkpoint + kills['final save'];
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      console.log(
        `SIGKILL test (${seconds} s): ${total} kills (${kills.steps} during steps, ${kills.checkpoint} during checkpoint writes, ${kills['final save']} during the final save), ` +
          `${midWrite} of them left a temporary file (killed mid-write), ${launches} launches, ${resumes} resumed from a checkpoint, all succeeded; final history identical to the uninterrupted run`,
      );
      assert.ok(total >= 20, `only ${total} kills`);
      assert.ok(kills.checkpoint >= 3 && kills.steps >= 3 && kills['final save'] >= 1, JSON.stringify(kills));
      assert.ok(midWrite >= 1, 'no kill landed inside a write');
      assert.ok(resumes >= total / 2, `${resumes} resumes for ${total} kills`);

      assert.deepEqual(await checkFiles(out), [], 'the last run removed the temporary files of the killed ones');
      assert.ok(!existsSync(join(out, CHECKPOINT_FILE)), 'a completed run drops its checkpoint');
      const finished = parseHistory(readFileSync(join(out, 'history.json'), 'utf8'), 'history.json');
      assert.equal(finished.status, 'completed');
      assert.deepEqual(withoutClock(finished), withoutClock(expected));
      const [a, b] = [await loadWeights(whole), await loadWeights(out)];
      assert.deepEqual(b, a, 'the final weights and averages are the uninterrupted ones');
    },
  );
});
