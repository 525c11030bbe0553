/**
 * Grids of settings and summaries of sweeps: the product of lists of values, and a table of the
 * final accuracies of each configuration over its seeds (mean and spread), as CSV and Markdown.
 */
import { DEFAULT_CONFIG, type TrainingConfig } from '../core/config';
import { canonicalJson } from '../store/runs';
import type { SweepResult } from './sweep';

/**
 * Every combination of the given values, the first key varying slowest: `{a: [1, 2], b: [3]}` gives `[{a: 1, b: 3}, {a:
 * 2, b: 3}]`.
 */
export function expandGrid<T extends Record<string, readonly unknown[]>>(grid: T): { [K in keyof T]: T[K][number] }[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (values.length === 0) throw new Error(`expandGrid: "${key}" has no values`);
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [key]: value })));
  }
  return combos as { [K in keyof T]: T[K][number] }[];
}

/** Mean and spread of a few numbers. */
export interface Spread {
  count: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  sd: number;
  min: number;
  max: number;
}

/** Mean, sample standard deviation, minimum and maximum of `values`; null when there are none. */
export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { count: values.length, mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

/** One configuration of a sweep over its seeds. */
export interface SummaryRow {
  /** The settings that tell this configuration from the others of the sweep (all but the seed). */
  settings: Partial<TrainingConfig>;
  config: TrainingConfig;
  seeds: number[];
  /** Runs whose history did not complete (stopped, diverged, failed): not in the figures. */
  incomplete: number;
  validation: Spread | null;
  test: Spread | null;
}

/** Groups results by configuration apart from the seed, in order of first appearance. */
export function summarizeSweep(results: readonly SweepResult[]): SummaryRow[] {
  const groups = new Map<string, SweepResult[]>();
  for (const result of results) {
    const key = canonicalJson({ ...result.config, seed: 0 });
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  const configs = [...groups.values()].map((group) => group[0].config);
  const fields = (Object.keys(DEFAULT_CONFIG) as (keyof TrainingConfig)[]).filter(
    (field) => field !== 'seed' && new Set(configs.map((c) => c[field])).size > 1,
  );
  return [...groups.values()].map((group) => {
    const config = group[0].config;
    const done = group.filter((r) => r.history.status === 'completed' && r.history.final !== null);
    return {
      settings: Object.fromEntries(fields.map((field) => [field, config[field]])) as Partial<TrainingConfig>,
      config,
      seeds: group.map((r) => r.config.seed),
      incomplete: group.length - done.length,
      validation: spread(done.map((r) => r.history.final!.validationAccuracy)),
      test: spread(done.map((r) => r.history.final!.testAccuracy)),
    };
  });
}

const pct = (value: number | undefined, digits = 2) => (value === undefined ? '' : (value * 100).toFixed(digits));

function columns(rows: readonly SummaryRow[]): { header: string[]; cells: string[][] } {
  const fields = rows.length > 0 ? Object.keys(rows[0].settings) : [];
  const header = [
    ...fields,
    'seeds',
    'completed',
    'validation_mean_pct',
    'validation_sd_pct',
    'test_mean_pct',
    'test_sd_pct',
    'test_min_pct',
    'test_max_pct',
  ];
  const cells = rows.map((row) => [
    ...fields.map((field) => String(row.settings[field as keyof TrainingConfig])),
    row.seeds.join(' '),
    String(row.seeds.length - row.incomplete),
    pct(row.validation?.mean),
    pct(row.validation?.sd, 3),
    pct(row.test?.mean),
    pct(row.test?.sd, 3),
    pct(row.test?.min),
    pct(row.test?.max),
  ]);
  return { header, cells };
}

const csvCell = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** The summary as CSV: a column per setting that varies, then seeds, completed runs, and accuracies in percent. */
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const { header, cells } = columns(rows);
  return [header, ...cells].map((line) => line.map(csvCell).join(',')).join('\n') + '\n';
}

/** The summary as a Markdown table: accuracy as mean ± standard deviation over the seeds, and the range. */
export function summaryMarkdown(rows: readonly SummaryRow[]): string {
  const fields = rows.length > 0 ? Object.keys(rows[0].settings) : [];
  const header = [
    ...(fields.length > 0 ? fields : ['config']),
    'seeds',
    'completed',
    'validation accuracy (%)',
    'test accuracy (%)',
    'test range (%)',
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < Math.max(1, fields.length) ? '---' : '---:')).join('|')}|`,
  ];
  for (const row of rows) {
    const meanSd = (s: Spread | null) => (s === null ? '—' : `${pct(s.mean)} ± ${pct(s.sd, 2)}`);
    const settings =
      fields.length > 0 ? fields.map((field) => String(row.settings[field as keyof TrainingConfig])) : ['as given'];
    lines.push(
      `| ${[...settings, row.seeds.join(', '), `${row.seeds.length - row.incomplete}/${row.seeds.length}`, meanSd(row.validation), meanSd(row.test), row.test === null ? '—' : `${pct(row.test.min)}–${pct(row.test.max)}`].join(' | ')} |`,
    );
  }
  return lines.join('\n') + '\n';
}
