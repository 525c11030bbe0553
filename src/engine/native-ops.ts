/**
 * TensorFlow ops that TensorFlow.js has no op for, run by name on the native backend
 * (@tensorflow/tfjs-node): each one replaces several tfjs ops, and on native TensorFlow every op
 * dispatched costs 0.01-0.03 ms whatever its size.
 */
import * as tf from '@tensorflow/tfjs';

/** What this module uses of tfjs-node's `NodeJSKernelBackend` (not exported in its typings). */
interface NodeKernelBackend {
  executeSingleOutput(
    name: string,
    attrs: { name: string; type: number; value: number }[],
    inputs: tf.Tensor[],
  ): tf.Tensor;
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
}

/** Native TensorFlow's ops by name, when the current backend is tfjs-node's. */
export class NativeOps {
  private constructor(private readonly backend: NodeKernelBackend) {}

  /** The ops of the current backend, or null when it is not native TensorFlow. */
  static ofCurrentBackend(): NativeOps | null {
    if (tf.getBackend() !== 'tensorflow') return null;
    const backend = tf.backend() as unknown as Partial<NodeKernelBackend>;
    if (typeof backend.executeSingleOutput !== 'function' || backend.binding === undefined) return null;
    return new NativeOps(backend as NodeKernelBackend);
  }

  /**
   * `ReluGrad(dy, features)`: `dy` where `features > 0`, else 0, in one op (tfjs: `step` then
   * `mul`, and native `step` alone is five ops). `features` may be the ReLU's output: it is
   * positive exactly where the ReLU's input is. The result belongs to the caller's `tf.tidy`.
   */
  reluGrad(dy: tf.Tensor2D, features: tf.Tensor2D): tf.Tensor2D {
    const type = { name: 'T', type: this.backend.binding.TF_ATTR_TYPE, value: this.backend.binding.TF_FLOAT };
    return this.backend.executeSingleOutput('ReluGrad', [type], [dy, features]) as tf.Tensor2D;
  }
}
