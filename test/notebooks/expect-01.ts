/**
 * What notebook 01 (the tutorial's code, written out, then the long run) must show when
 * executed, whatever the number of steps: the backend, the tutorial's accuracy lines, the check
 * of the notebook's code against the package within float tolerance, the final test accuracy
 * printed once, a chart and the picture of digits.
 */
import assert from 'node:assert/strict';
import type { Outputs } from './outputs';

/** Differences below this count as equal: float32 in another order differs by about 1e-7. */
export const TOLERANCE = 1e-5;

/** The quantities the notebook compares with the package (src/tutorial-check.ts), one table row each. */
const QUANTITIES = [
  'logits (moving averages)',
  'loss',
  ...['weights1', 'biases1', 'weights2', 'biases2'].flatMap((name) => [
    `gradient of ${name}`,
    `${name} after one step`,
    `average of ${name} after one step`,
  ]),
];

/** The rows of the notebook-vs-package table: quantity and its printed difference. */
export function differenceRows(text: string): Map<string, number> {
  const header = text.search(/^quantity +max \|notebook - package\|$/m);
  assert.ok(header >= 0, 'the notebook-vs-package table ("quantity  max |notebook - package|") is printed');
  const rows = new Map<string, number>();
  // Skip the header and the dashes; the table ends at the first line that is not a row.
  for (const line of text.slice(header).split('\n').slice(2)) {
    const match = /^(\S.*?) {2,}(\S+)$/.exec(line);
    if (match === null) break;
    rows.set(match[1], Number(match[2]));
  }
  return rows;
}

export function check(o: Outputs): void {
  assert.match(o.text, /^backend: \w+/m, 'the backend in use is shown');
  const lines = o.text.match(/^训练轮数: \d+ ,准确率: \d+(\.\d+)? %$/gm) ?? [];
  // The notebook's own loop prints 5 (steps 0-200), the long run at least 2 (its start and end).
  assert.ok(
    lines.length >= 7,
    `expected the tutorial's accuracy lines "训练轮数: <step> ,准确率: <acc> %" of both loops, found ${lines.length}`,
  );

  const rows = differenceRows(o.text);
  assert.deepEqual([...rows.keys()].sort(), [...QUANTITIES].sort(), 'the table compares every quantity');
  for (const [quantity, difference] of rows) {
    assert.ok(
      Number.isFinite(difference) && difference >= 0 && difference < TOLERANCE,
      `notebook vs package, ${quantity}: ${difference} (tolerance ${TOLERANCE})`,
    );
  }
  const largest = /^largest difference (\S+): below the tolerance of 1e-5$/m.exec(o.text);
  assert.ok(largest !== null, 'the line "largest difference <d>: below the tolerance of 1e-5" is printed');
  assert.equal(Number(largest[1]), Math.max(...rows.values()), 'the largest difference line agrees with the table');

  const finals = o.text.match(/^final test accuracy: (\d+\.\d+) % after (\d+) steps/gm) ?? [];
  assert.equal(finals.length, 1, `the final test accuracy is printed once, found ${finals.length} lines`);
  // The run's log and its live status lines leave the test set for the final table.
  assert.doesNotMatch(o.text, /test accuracy \d|测试准确率/, 'no test accuracy in the training log');
  const table = o.text.search(/^after step \d+ +this run +tutorial$/m);
  assert.ok(table >= 0, 'the final table ("after step <n>  this run  tutorial") is printed');
  assert.doesNotMatch(o.text.slice(0, table), /test accuracy|test \d/, 'no test accuracy above the final table');
  const status = /[^<>]*· test \d[^<>]*/.exec(o.html)?.[0];
  assert.equal(status, undefined, `a status line of the live chart quotes the test accuracy: ${status}`);
  // The notebook frees its own model before the long run, and the trainer after it.
  assert.match(o.text, /^freed \d+ tensors; 0 still allocated$/m, "the notebook's own model leaves no tensor behind");
  assert.match(o.text, /^tensors still allocated: 0$/m, 'no tensor is left at the end');
  assert.match(
    o.text,
    /^saved the run as (runs|\$MNIST_RUNS_DIR)\/notebook-01/m,
    'the saved run is named, not given as a machine path',
  );

  assert.ok(o.charts >= 1, `expected at least one chart, found ${o.charts}`);
  assert.ok(o.images >= 1, 'expected the picture of a few training digits');
}
