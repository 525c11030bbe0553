/**
 * A worker of a sweep: its own TensorFlow.js backend, the data in shared memory, and one run at
 * a time through the saved-runs cache (`trainOrLoad`), reporting progress to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendChoice } from '../engine/backend';
import type { Progress } from '../train/trainer';
import { trainOrLoad } from '../store/train-or-load';
import { mnistFromShared } from '../engine/shared-data';
import type { SweepToMain, SweepToWorker, SweepWorkerData } from './protocol';
import { errorMessage } from '../util/text';

/** Least time between two progress messages of a run, in ms (evaluations are always sent). */
const PROGRESS_INTERVAL_MS = 200;

async function main(): Promise<void> {
  const init = workerData as SweepWorkerData;
  const port = parentPort!;
  const send = (message: SweepToMain) => port.postMessage(message);
  const data = mnistFromShared(init.data);
  let current: AbortController | null = null;
  let ready: Promise<unknown> = setupBackend(init.backend as BackendChoice);
  port.on('message', (message: SweepToWorker) => {
    if (message.type === 'stop') {
      current?.abort();
      return;
    }
    ready = ready.then(async () => {
      const controller = new AbortController();
      current = controller;
      let sentSteps = 0;
      let sentEvaluations = 0;
      let lastSent = 0;
      const onProgress = (progress: Progress) => {
        const { history } = progress;
        const now = performance.now();
        if (now - lastSent < PROGRESS_INTERVAL_MS && history.evaluations.length === sentEvaluations) return;
        lastSent = now;
        const { history: _history, ...rest } = progress;
        send({
          type: 'progress',
          id: message.id,
          progress: rest,
          steps: history.steps.slice(sentSteps),
          evaluations: history.evaluations.slice(sentEvaluations),
        });
        sentSteps = history.steps.length;
        sentEvaluations = history.evaluations.length;
      };
      try {
        const result = await trainOrLoad(data, {
          name: message.name,
          config: message.config,
          force: message.force,
          runsDir: init.runsDir,
          backend: init.backend,
          signal: controller.signal,
          onProgress,
        });
        send({ type: 'result', id: message.id, history: result.history, reused: result.reused, run: result.run });
      } catch (error) {
        const history = (error as { history?: unknown }).history;
        send({ type: 'failed', id: message.id, message: errorMessage(error), history: history as never });
      } finally {
        current = null;
      }
    });
  });
  try {
    await ready;
    send({ type: 'ready' });
  } catch (error) {
    send({ type: 'failed', id: -1, message: `backend: ${errorMessage(error)}` });
  }
}

void main();
