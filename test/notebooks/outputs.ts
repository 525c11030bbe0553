/**
 * What an executed notebook's outputs hold, for the checks of test/notebooks.test.ts and test/notebooks/expect-*.ts.
 */
export interface Outputs {
  /** Error outputs and stderr text that mentions an error, one line each. */
  errors: string[];
  /** Every stdout text and text/plain output. */
  text: string;
  /** Every text/html output, joined. */
  html: string;
  /** Plotly chart divs in text/html outputs. */
  charts: number;
  /** image/png outputs. */
  images: number;
  /** Code cells that did not run. */
  notRun: number;
}
