/** When a training step counts as diverged, and the error that says so. */
import { formatCount, formatLoss, formatSignificant } from '../util/text';

/**
 * Mean cross-entropy above which a step counts as diverged although the loss is still finite:
 * over 400 times that of guessing uniformly among 10 classes (ln 10 = 2.3). Too large a learning
 * rate blows the loss up to thousands within a few steps without making it infinite (the softmax
 * is computed stably), and leaves a dead network behind.
 */
export const DIVERGENCE_CROSS_ENTROPY = 1000;

/**
 * Raised when the loss stops being a finite number or exceeds the divergence threshold; the
 * parameters are left as they were before that step.
 */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    readonly learningRate: number,
    readonly crossEntropy: number,
    readonly threshold = DIVERGENCE_CROSS_ENTROPY,
  ) {
    super(
      `training diverged at step ${formatCount(step)}: the loss is ${formatLoss(crossEntropy)}${Number.isFinite(crossEntropy) ? ` (above ${formatLoss(threshold)})` : ''} with learning rate ${formatSignificant(learningRate)}. ` +
        'Lower learningRateBase (the tutorial uses 0.8) or check the input data.',
    );
    this.name = 'DivergenceError';
  }
}

/** Whether a step's loss counts as diverged. */
export const divergedLoss = (loss: number, threshold: number) => !Number.isFinite(loss) || loss > threshold;
