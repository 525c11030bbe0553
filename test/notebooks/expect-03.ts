/**
 * What notebook 03 (the ablation) must show: the summary of the tricks over three seeds or more,
 * the rule's chances, the checks made on the saved weights (training against validation
 * accuracy, the moving averages against the live parameters, dead hidden units), the sweep's
 * time, the test table once at the end, and its charts.
 */
import assert from 'node:assert/strict';
import type { Outputs } from './outputs';

/** The rows of the first plain-text table whose header line matches `header` (cells split on two spaces or more). */
function table(text: string, header: RegExp, what: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => header.test(line));
  assert.ok(start >= 0, `${what}: no table with a header matching ${header}`);
  assert.match(lines[start + 1] ?? '', /^-+( +-+)*$/, `${what}: the header is followed by its rule of dashes`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (line.trim() === '' || !/\S {2,}\S/.test(line)) break;
    rows.push(line.trim().split(/ {2,}/));
  }
  assert.ok(rows.length > 0, `${what}: the table has no rows`);
  return rows;
}

const TRICKS = [
  'full recipe',
  'no moving average',
  'no L2',
  'no learning-rate decay',
  'no hidden layer',
  'no ReLU',
  'no ReLU, learning rate 0.1',
];

export function check(o: Outputs): void {
  assert.deepEqual(o.errors, []);
  assert.match(o.text, /^backend: \w+/m, 'the backend in use is shown');
  assert.match(
    o.text,
    /^\d+ runs: \d+ trained now \(.+ of training added up\), \d+ reused.*; the sweep took .+ of wall time\./m,
    "the sweep's wall time, trained against reused",
  );
  assert.match(o.text, /three runs against three: ranges apart by chance alone 1 in 10/);
  assert.match(o.text, /one run against three: 1 in 2/);

  // The summary of the tricks: every variant with three seeds or more, mean, sd and range.
  const summary = table(
    o.text,
    /^variant\s+seeds\s+n\s+validation mean \(%\)\s+sd\s+min–max\s+vs baseline \(points\)\s+rule$/,
    'summary of the tricks',
  );
  for (const name of TRICKS) {
    const row = summary.find((r) => r[0] === name);
    assert.ok(row !== undefined, `the summary of the tricks has a row "${name}"`);
    assert.ok(row[1].split(' ').length >= 3, `"${name}" has three seeds or more, got "${row[1]}"`);
  }
  const full = summary.find((r) => r[0] === 'full recipe')!;
  assert.ok(Number(full[2]) >= 3, `the full recipe has n >= 3 completed runs, got ${full[2]}`);
  assert.match(full[3], /^\d+\.\d\d$/, 'the mean is printed');
  assert.match(full[5], /^\d+\.\d\d–\d+\.\d\d$/, 'the range is printed');
  assert.match(o.text, /^(beyond the spread|within the spread): /m, 'the conclusions of the rule are printed in words');

  const fit = table(
    o.text,
    /^variant\s+n\s+training \(%\)\s+validation \(%\)\s+training − validation \(points\)$/,
    'training against validation accuracy',
  );
  assert.ok(
    fit.some((r) => r[0] === 'no L2') && fit.some((r) => r[0] === 'full recipe'),
    'training against validation for the full recipe and no L2',
  );
  assert.match(o.text, /^training minus validation accuracy: -?\d+\.\d\d points with L2, -?\d+\.\d\d points without$/m);
  const average = table(
    o.text,
    /^variant\s+n\s+moving averages \(%\)\s+live parameters \(%\)\s+gain \(points\)\s+gain per run$/,
    'moving averages against live parameters',
  );
  assert.ok(
    average.some((r) => r[0] === 'no learning-rate decay'),
    'the moving average without decay',
  );

  const dead = table(o.text, /^variant\s+seed\s+dead hidden units\s+share \(%\)$/, 'dead hidden units');
  const rate = dead.find((r) => r[0] === 'learning rate 2.0');
  assert.ok(rate !== undefined, 'the dead units of learning rate 2.0');
  assert.match(rate[2], /^\d+ of 500$/);

  // Validation for choices, test once: no test accuracy printed before the final test table, and the live view of
  // the sweep (a table of its variants under the chart) shows validation accuracy only.
  const finalTable = o.text.search(/^variant\s+seeds\s+n\s+test mean \(%\)/m);
  assert.ok(finalTable > 0, 'the final test table is printed');
  assert.doesNotMatch(
    o.text.slice(0, finalTable),
    /test accuracy|\btest\b[^\n%]{0,30}?\d+(?:\.\d+)?\s?%/i,
    'no test accuracy printed above the final test table',
  );
  const sweepTables = o.html.match(/<div class="mnist-sweep-status"[\s\S]*?<\/table>/g) ?? [];
  assert.ok(sweepTables.length > 0, 'the sweep shows a table of its runs');
  for (const sweepTable of sweepTables) {
    assert.match(sweepTable, /validation \(%\)/, 'the sweep table shows validation accuracy');
    assert.doesNotMatch(sweepTable, /test/i, 'the sweep table shows no test accuracy');
  }

  const test = table(
    o.text,
    /^variant\s+seeds\s+n\s+test mean \(%\)\s+sd\s+min–max\s+vs baseline \(points\)\s+rule$/,
    'final test table',
  );
  for (const name of [...TRICKS, 'learning rate 2.0', 'hidden 1000'])
    assert.ok(
      test.some((r) => r[0] === name),
      `the final test table has a row "${name}"`,
    );
  assert.ok(
    o.charts >= 3,
    `expected the live chart of all runs and the charts of each section, found ${o.charts} charts`,
  );
}
