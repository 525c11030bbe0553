/**
 * What notebooks/04-predictions.ipynb must show once executed (any number of training steps):
 * the measured test accuracy (once), the confusion table, the shift table, the 8-bit accuracy
 * line and the drawing pad's HTML, and its charts.
 */
import assert from 'node:assert/strict';
import type { Outputs } from './outputs';

const PERCENT = String.raw`(\d+\.\d\d) %`;

export function check(o: Outputs): void {
  const accuracy =
    o.text.match(new RegExp(`^test accuracy: ${PERCENT} \\((\\d+) mistakes in 10000 images\\)$`, 'gm')) ?? [];
  assert.equal(
    accuracy.length,
    1,
    `expected one line "test accuracy: <acc> % (<n> mistakes in 10000 images)", found ${accuracy.length}`,
  );
  const [, measured, mistakes] = new RegExp(`^test accuracy: ${PERCENT} \\((\\d+) mistakes`, 'm').exec(o.text)!;
  assert.ok(
    Math.abs(100 - Number(measured) - Number(mistakes) / 100) < 0.006,
    `accuracy ${measured} % and ${mistakes} mistakes disagree`,
  );
  assert.equal((o.text.match(/test accuracy/gi) ?? []).length, 1, 'the test accuracy is reported once');
  // predict against the run's own evaluation: the same network on the same images (another backend may round a few
  // differently).
  const differing = /^the run's own final evaluation counted (\d+) answers differently$/m.exec(o.text);
  assert.ok(
    differing !== null && Number(differing[1]) <= 3,
    `predict disagrees with the run's final evaluation: ${differing?.[0] ?? 'no line'}`,
  );

  // The confusion table: a header, a rule, then up to 8 rows "true  read as  images  the other way round".
  const table =
    /most frequent confusions \(true digit read as another\):\ntrue +read as +images +the other way round\n[- ]+\n((?: *\d+ +\d+ +\d+ +\d+\n)+)/.exec(
      o.text,
    );
  assert.ok(table !== null, 'the confusion table is printed');
  const rows = table[1]
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/ +/).map(Number));
  assert.ok(rows.length >= 1 && rows.length <= 8, `${rows.length} rows in the confusion table`);
  for (const [t, p, count] of rows) assert.ok(t !== p && count > 0, `row ${t} -> ${p}: ${count}`);
  assert.deepEqual(
    rows.map((r) => r[2]),
    rows.map((r) => r[2]).sort((a, b) => b - a),
    'sorted by count',
  );
  assert.match(o.text, /^these \d+ pairs hold \d+ of the \d+ mistakes$/m);

  assert.match(o.text, /^hardest digit: \d \(\d+\.\d\d %\), easiest: \d \(\d+\.\d\d %\)$/m);
  assert.match(
    o.text,
    /^test index +true +predicted +confidence +probability of the true class$/m,
    'the table of confident mistakes',
  );
  assert.match(o.text, /^digit-7\.png: predicted class \d$/m);
  const shifts = /^shift \(pixels right\) +validation accuracy\n[- ]+\n((?: *\d +\d+\.\d\d %\n){5})/m.exec(o.text);
  assert.ok(shifts !== null, 'the shift table: 5 rows of validation accuracy');
  assert.match(o.text, /^a shift of 4 pixels costs -?\d+\.\d points of validation accuracy$/m);

  const eightBit = new RegExp(
    `^8-bit weights: ${PERCENT} on the test set, (-?\\d+\\.\\d\\d) points from the full-precision network`,
    'm',
  ).exec(o.text);
  assert.ok(eightBit !== null, 'the 8-bit accuracy line');
  // Per-column 8-bit weights move few of 10,000 answers: the accuracy stays within a point.
  assert.ok(Math.abs(Number(eightBit[2])) < 1, `8 bits cost ${eightBit[2]} points`);
  assert.match(o.text, /^\d+ of 10000 predictions change; the largest change of a probability is \d\.\d{4}$/m);
  const size = /^the pad adds (\d+) KB of HTML to the notebook$/m.exec(o.text);
  assert.ok(size !== null && Number(size[1]) > 100, "the pad's size");

  assert.match(o.html, /<div id="mnist-draw-[0-9a-f]+" class="mnist-draw">/, "the pad's HTML in a text/html output");
  assert.match(o.html, /class="mnist-draw-note"/, 'with its note for views that run no scripts');
  assert.match(o.text, /^released the network$/m);

  // First 20 digits, confusion matrix, per-digit accuracy, confident mistakes, preprocessing, probabilities.
  assert.ok(o.charts >= 6, `expected at least 6 charts, found ${o.charts}`);
}
