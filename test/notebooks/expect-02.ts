/**
 * What notebooks/02-training-dynamics.ipynb must show when executed (any MNIST_STEPS), for the
 * EXPECTED table of test/notebooks.test.ts. Run-dependent values are not pinned; their lines are.
 */
import assert from 'node:assert/strict';
import type { Outputs } from './outputs';

/** Exactly one line of `text` matches `pattern` (a regex without flags); returns its match. */
function oneLine(text: string, pattern: RegExp, what: string): RegExpMatchArray {
  const matches = [...text.matchAll(new RegExp(pattern.source, 'gm'))];
  assert.equal(matches.length, 1, `expected one line with ${what} (${pattern}), found ${matches.length}`);
  return matches[0];
}

export function check(o: Outputs): void {
  // Validation accuracy x2, cross-entropy, losses x2, learning rate, gradients, moving average vs live.
  assert.ok(o.charts >= 8, `expected at least the 8 charts of the notebook's sections, found ${o.charts}`);
  assert.ok(o.images >= 1, 'expected the exported loss.png shown as an image');
  assert.match(o.text, /^backend: \w+/m, 'the backend in use is shown');
  assert.match(
    o.text,
    /^(loaded|trained) run \S+ \(completed\): \d+ recorded steps/m,
    'the run cell says which run it uses',
  );
  assert.match(o.text, /^best validation accuracy \d+\.\d\d % at step \d+/m);
  assert.match(
    o.text,
    /^after \d+ steps: training accuracy \d+\.\d\d %, validation accuracy \d+\.\d\d %/m,
    'training accuracy from the saved weights',
  );
  oneLine(
    o.text,
    /^the cross-entropy (falls below the L2 term at step \d+|never falls below the L2 term)/,
    'the crossover step',
  );
  oneLine(o.text, /^the L2 term starts at \d+\.\d+ \(step 0\)/, "the L2 term's path");
  oneLine(o.text, /^at step \d+: learning rate \d\.\d+ after \d+ decays?/, 'the last learning rate');
  oneLine(
    o.text,
    /^mean \|gradient\| over the last \d+ recorded steps, largest first: /,
    'the ranking of the gradients',
  );
  oneLine(
    o.text,
    /^\d+\.\d\d % of the training images' pixel values are 0; \d+ of the 784 pixels/,
    'the count of blank pixels',
  );

  // The comparison's claim that both runs train the same parameters must hold.
  const same = oneLine(
    o.text,
    /^\d+ and \d+ recorded steps; largest difference of their batch cross-entropies: (\S+)$/,
    'the check that both runs trained alike',
  );
  assert.ok(
    Number(same[1]) <= 1e-6,
    `the runs with and without the moving average should record the same losses, differ by ${same[1]}`,
  );
  const spans = [
    ...o.text.matchAll(/^steps \d+-\d+: (the moving average is ahead at \d+ of \d+ evaluations|no evaluation)/gm),
  ];
  assert.equal(spans.length, 2, 'a summary line for each part of the moving-average comparison');

  // Test accuracy once, at the end: nothing quotes it above the final table, nor in the live chart's status lines.
  const table = o.text.search(/^after \d+ steps +validation +test$/m);
  assert.ok(table >= 0, 'the final table ("after <n> steps  validation  test") is printed');
  assert.doesNotMatch(o.text.slice(0, table), /test accuracy|test \d/, 'no test accuracy above the final table');
  const status = /[^<>]*· test \d[^<>]*/.exec(o.html)?.[0];
  assert.equal(status, undefined, `a status line of the live chart quotes the test accuracy: ${status}`);
  assert.match(
    o.text,
    /^(loaded|trained) run \S+ \(with the moving average\): completed, \d+ steps\n(loaded|trained) run \S+ \(with the live parameters\): completed, \d+ steps$/m,
    'the comparison cell says which runs it uses',
  );
  const final = oneLine(
    o.text,
    /^final test accuracy of the evaluated model \([^)]*\): (\d+\.\d\d) %/,
    'the final test accuracy',
  );
  assert.ok(Number(final[1]) >= 90, `the final test accuracy ${final[1]} % is below 90 % even for a short run`);
  assert.match(
    o.text,
    /^on the test images the moving averages (and the live parameters get exactly as many right|get \d+ (more|fewer) of \d+ right)/m,
  );

  // The export: the folder relative to the package root (or MNIST_RUNS_DIR), and the files.
  assert.match(
    o.text,
    /^wrote 14 files to (?!\/)\S*notebook-02-charts:$/m,
    'the export folder, printed without an absolute path',
  );
  for (const file of ['accuracy.html', 'loss.png', 'learning-rate.svg', 'gradients.png', 'metrics.csv']) {
    assert.ok(o.text.includes(file), `the exported file list names ${file}`);
  }
  const absolute = /(^|[\s'"(=])\/(home|tmp|work|root|Users|var)\/\S*/m.exec(o.text);
  assert.equal(absolute, null, `an output names a path of the machine: ${absolute?.[0]}`);
}
