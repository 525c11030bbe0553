/**
 * Whether the native backend (@tensorflow/tfjs-node on libtensorflow, set up by
 * scripts/setup-native-tf.sh where its own install cannot download it) loads here. In CI
 * (CI=true) it must, and the tests that need it fail when it does not; elsewhere they are
 * skipped with a message that says how to set it up.
 */
import * as tf from '@tensorflow/tfjs';
import { firstLine } from '../../src/util/text';

export const NATIVE_SETUP = 'scripts/setup-native-tf.sh';

/** Why tfjs-node does not load here, or null when it does. */
function nativeLoadFailure(): string | null {
  // As setupBackend does: libtensorflow's start-up notices are noise in the test output.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return tf.findBackendFactory('tensorflow') === null ? '@tensorflow/tfjs-node registered no backend' : null;
  } catch (error) {
    return firstLine(error);
  }
}

export const nativeFailure = nativeLoadFailure();

/** `skip` for a suite that needs native TensorFlow: false where it loads, or in CI (where it must). */
export const nativeSkip: false | string =
  nativeFailure !== null && process.env.CI !== 'true'
    ? `native TensorFlow does not load (${nativeFailure}): run ${NATIVE_SETUP} after npm ci to test it`
    : false;
