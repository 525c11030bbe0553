/**
 * A graph run by native TensorFlow's session (the executor TensorFlow 1 programs run on), through
 * tfjs-node's SavedModel calls: the graph is written to a temporary SavedModel folder, loaded into
 * a session, and each `run` feeds tensors by node name and fetches others. Its variables live in
 * the session, updated in place by the graph's own ops.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstLine } from '../util/text';
import { NativeGraphError, type GraphDefBuilder } from './graph-def';

/** What this module uses of tfjs-node's `NodeJSKernelBackend` (not exported in its typings). */
interface SessionBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], inputInfos: { name: string }[], outputNames: string[]): tf.Tensor[];
  deleteSavedModel(id: number): void;
}

/** The tag the graph's one meta graph is saved under. */
const TAG = 'train';

function removeQuietly(folder: string): void {
  try {
    rmSync(folder, { recursive: true, force: true });
  } catch {
    // left behind: a few kilobytes
  }
}

/** A session of native TensorFlow running one graph; `dispose` closes it. */
export class NativeSession {
  private id: number | null;

  private constructor(
    private readonly backend: SessionBackend,
    id: number,
  ) {
    this.id = id;
  }

  /** True when the current backend is native TensorFlow with tfjs-node's SavedModel calls. */
  static available(): boolean {
    if (tf.getBackend() !== 'tensorflow') return false;
    const backend = tf.backend() as unknown as Partial<SessionBackend>;
    return typeof backend.loadSavedModelMetaGraph === 'function' && typeof backend.runSavedModel === 'function';
  }

  /** Loads `graph` into a new session of the current (native) backend. */
  static open(graph: GraphDefBuilder): NativeSession {
    if (!NativeSession.available()) throw new Error('a native TensorFlow session needs the tensorflow backend');
    const backend = tf.backend() as unknown as SessionBackend;
    const bytes = graph.savedModel(TAG);
    // TensorFlow loads a SavedModel from a folder; the folder is needed only while it loads.
    let folder: string | null = null;
    try {
      folder = mkdtempSync(join(tmpdir(), 'mnist-graph-'));
      writeFileSync(join(folder, 'saved_model.pb'), bytes);
      return new NativeSession(backend, backend.loadSavedModelMetaGraph(folder, TAG));
    } catch (error) {
      const where = folder ?? join(tmpdir(), 'mnist-graph-*');
      throw new NativeGraphError(`loading the graph from ${where}: ${firstLine(error)}`);
    } finally {
      // The session holds the graph now; a folder that cannot be removed is left in the temporary folder.
      if (folder !== null) removeQuietly(folder);
    }
  }

  /**
   * Runs the graph once: feeds each tensor to the node named beside it (a placeholder's output,
   * `"x:0"`) and returns the fetched outputs, in order, as tensors of the caller (`tf.tidy` tracks
   * them). Only the nodes the fetches need run.
   */
  run(feeds: readonly (readonly [string, tf.Tensor])[], fetches: readonly string[]): tf.Tensor[] {
    if (this.id === null) throw new Error('this native session is closed');
    try {
      return this.backend.runSavedModel(
        this.id,
        feeds.map(([, tensor]) => tensor),
        feeds.map(([name]) => ({ name })),
        [...fetches],
      );
    } catch (error) {
      const fed = feeds.map(([name]) => name).join(', ') || 'nothing';
      throw new Error(`running the graph (fed ${fed}; fetched ${fetches.join(', ')}): ${(error as Error).message}`);
    }
  }

  dispose(): void {
    if (this.id === null) return;
    this.backend.deleteSavedModel(this.id);
    this.id = null;
  }
}
