/**
 * The accuracy the original tutorial printed while training: the validation accuracy of the
 * moving-average model every 1,000 steps, from step 0 to step 30,000 (31 points), as reported
 * ("After %d training step(s), validation accuracy using average model is %g").
 */

export interface ReportedAccuracy {
  /** Training steps completed. */
  readonly step: number;
  /** Validation accuracy in percent, with all the digits the tutorial printed. */
  readonly accuracyPercent: number;
}

/** The tutorial's reported accuracy curve, in step order. */
export const REPORTED_ACCURACY: readonly ReportedAccuracy[] = Object.freeze(
  (
    [
      [0, 9.20000001788],
      [1000, 97.619998455],
      [2000, 98.0799973011],
      [3000, 98.2599973679],
      [4000, 98.1999993324],
      [5000, 98.1800019741],
      [6000, 98.2400000095],
      [7000, 98.2200026512],
      [8000, 98.1999993324],
      [9000, 98.2599973679],
      [10000, 98.2400000095],
      [11000, 98.2400000095],
      [12000, 98.1599986553],
      [13000, 98.2599973679],
      [14000, 98.299998045],
      [15000, 98.4200000763],
      [16000, 98.2800006866],
      [17000, 98.3799993992],
      [18000, 98.3600020409],
      [19000, 98.3200013638],
      [20000, 98.3399987221],
      [21000, 98.3799993992],
      [22000, 98.400002718],
      [23000, 98.400002718],
      [24000, 98.4200000763],
      [25000, 98.3200013638],
      [26000, 98.4200000763],
      [27000, 98.3799993992],
      [28000, 98.400002718],
      [29000, 98.3200013638],
      [30000, 98.3900010586],
    ] as const
  ).map(([step, accuracyPercent]) => Object.freeze({ step, accuracyPercent })),
);
