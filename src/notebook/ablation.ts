/**
 * Ablations: the full recipe against versions of it with one change each, over a few seeds.
 * A table of variants becomes the runs of one sweep (`ablationRuns`, `runAblation`); the results
 * come back grouped by variant, with the mean and spread of their final accuracies
 * (`summarizeVariants`) and a rule that says which differences exceed the seed-to-seed spread
 * (`compareWithBaseline`). `checkRun` looks at a run's saved weights: training accuracy, dead
 * ReLU units, and the moving averages against the live parameters.
 */
import * as tf from '@tensorflow/tfjs';
import { formatDuration } from '../util/text';
import type { NamedRun } from '../charts/figures';
import { makeConfig, type Activation, type TrainingConfig } from '../core/config';
import type { DataSet, MnistData } from '../data/mnist';
import { dense, forward, type Params } from '../core/model';
import { forEachChunk, setAccuracy } from '../core/accuracy';
import { liveSweep, type LiveSweep } from './live-sweep';
import { spread, type Spread } from '../sweep/summary';
import { runSweep, type SweepOptions, type SweepResult, type SweepRun } from '../sweep/sweep';
import { textTable } from './print';
import { loadRunModel, type RunModel } from '../store/run-model';

/** One row of an ablation: a name, the group it belongs to, and its one change to the base configuration. */
export interface Variant {
  name: string;
  group: string;
  change: Partial<TrainingConfig>;
}

/** One run of an ablation: a variant with one seed. */
export interface AblationRun extends SweepRun {
  config: Partial<TrainingConfig>;
  variant: string;
  seed: number;
}

/** Seeds of each group of variants; a group not listed runs the base configuration's seed only. */
export type GroupSeeds = Readonly<Record<string, readonly number[]>>;

/** A variant's name as a folder name: `no ReLU, learning rate 0.1` -> `no-relu-learning-rate-0.1`. */
export function variantSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * One run per variant and seed, in the order of the table: `base` (e.g. `tutorialConfig()`), the variant's
 * change, the seed. Runs are named `<variant>-<steps>`, or `<variant>-seed-<n>-<steps>` when the
 * variant has several seeds (so that short runs never replace full ones).
 */
export function ablationRuns(
  variants: readonly Variant[],
  base: Partial<TrainingConfig>,
  seeds: GroupSeeds = {},
): AblationRun[] {
  const problems: string[] = [];
  const baseConfig = makeConfig(base);
  const names = new Set<string>();
  variants.forEach((variant, i) => {
    const slug = variantSlug(variant.name ?? '');
    if (slug === '') problems.push(`variants[${i}]: the name ${JSON.stringify(variant.name)} has no letters or digits`);
    if (names.has(slug))
      problems.push(`variants[${i}]: "${variant.name}" has the same folder name (${slug}) as an earlier variant`);
    names.add(slug);
    if (variant.change !== undefined && 'seed' in variant.change)
      problems.push(
        `variants[${i}] ("${variant.name}"): the seed comes from the seeds of its group, not from a change`,
      );
  });
  const groups = new Set(variants.map((v) => v.group));
  for (const [group, list] of Object.entries(seeds)) {
    if (!groups.has(group))
      problems.push(`seeds: no variant is in group "${group}" (groups: ${[...groups].join(', ')})`);
    if (
      list.length === 0 ||
      list.some((s) => !Number.isSafeInteger(s) || s < 0) ||
      new Set(list).size !== list.length
    ) {
      problems.push(`seeds["${group}"] must be distinct whole numbers >= 0, got [${list.join(', ')}]`);
    }
  }
  if (problems.length > 0) throw new Error(`ablationRuns: ${problems.join('; ')}`);
  return variants.flatMap((variant) => {
    const list = seeds[variant.group] ?? [baseConfig.seed];
    return list.map((seed) => {
      const config = makeConfig({ ...baseConfig, ...variant.change, seed });
      const name = `${variantSlug(variant.name)}${list.length > 1 ? `-seed-${seed}` : ''}-${config.trainingSteps}`;
      return { name, config, variant: variant.name, seed };
    });
  });
}

/** Options of `runAblation`: those of `runSweep`, plus the live chart. */
export interface AblationOptions extends Omit<SweepOptions, 'onProgress' | 'onResult'> {
  /** The live chart of every run; default `liveSweep()` (the notebook's output); null: none. */
  display?: LiveSweep | null;
}

/** The runs of an ablation and their results, in the same order. */
export interface AblationSweep {
  runs: AblationRun[];
  results: SweepResult[];
  /** Seconds from the start of the sweep to its end. */
  wallSeconds: number;
}

/**
 * Trains (or loads) every run in one sweep, with a live chart of their validation accuracy; an interrupt stops them
 * all, histories kept.
 */
export async function runAblation(
  data: MnistData,
  runs: readonly AblationRun[],
  options: AblationOptions = {},
): Promise<AblationSweep> {
  const { display: given, ...sweepOptions } = options;
  // A colour and a legend entry per variant, a line style per seed: the seeds of a variant read as one.
  const display =
    given === undefined ? liveSweep({ figure: { title: 'Validation accuracy of every run' }, runs }) : given;
  const start = performance.now();
  const results = await runSweep(data, runs, {
    stopOnSigint: true,
    ...sweepOptions,
    onProgress: display?.onProgress,
    onResult: display?.onResult,
  });
  const wallSeconds = (performance.now() - start) / 1000;
  await display?.finish(results);
  return { runs: [...runs], results, wallSeconds };
}

/** How the sweep's time was spent. */
export interface SweepTime {
  runs: number;
  /** Runs trained (or continued) now. */
  trained: number;
  /** Runs loaded from saved runs, or sharing another run's settings. */
  reused: number;
  /** The other runs by status, e.g. `{ diverged: 3 }`. */
  other: Record<string, number>;
  /** Training time of the runs trained now, added up. */
  trainedSeconds: number;
  /** Training time recorded in the histories of all distinct runs (saved ones included), added up. */
  recordedSeconds: number;
  wallSeconds: number;
}

/** What a sweep cost: runs trained now, reused and diverged, their training time added up, and the wall time. */
export function sweepTime(sweep: AblationSweep): SweepTime {
  const { results } = sweep;
  const trained = results.filter((r) => !r.reused && r.run !== null && r.history.status === 'completed');
  const reused = results.filter((r) => r.reused);
  const other: Record<string, number> = {};
  for (const r of results)
    if (!trained.includes(r) && !reused.includes(r)) other[r.history.status] = (other[r.history.status] ?? 0) + 1;
  const distinct = new Map<string, SweepResult>();
  for (const r of results) if (r.run !== null) distinct.set(r.run.dir, r);
  return {
    runs: results.length,
    trained: trained.length,
    reused: reused.length,
    other,
    trainedSeconds: trained.reduce((sum, r) => sum + r.history.wallTimeSeconds, 0),
    recordedSeconds: [...distinct.values()].reduce((sum, r) => sum + r.history.wallTimeSeconds, 0),
    wallSeconds: sweep.wallSeconds,
  };
}

/** The sweep's time in a sentence. */
export function describeSweepTime(time: SweepTime): string {
  const parts = [
    `${time.runs} runs: ${time.trained} trained now (${formatDuration(time.trainedSeconds)} of training added up), ${time.reused} reused`,
    ...Object.entries(time.other).map(([status, n]) => `${n} ${status}`),
  ];
  return `${parts.join(', ')}; the sweep took ${formatDuration(time.wallSeconds)} of wall time. The saved histories of the distinct runs record ${formatDuration(time.recordedSeconds)} of training in all.`;
}

/** The results of one variant over its seeds. */
export interface VariantSummary {
  variant: Variant;
  runs: AblationRun[];
  results: SweepResult[];
  /** Runs that completed; only they count in the spreads. */
  completed: number;
  /** Final validation accuracy (fractions) of the completed runs. */
  validation: Spread | null;
  /** Final test accuracy, for the one look at the test set at the end. */
  test: Spread | null;
  /** Statuses of the runs that did not complete, e.g. `3 diverged`. */
  incomplete: string;
}

/** Groups a sweep's results by variant, in the order of the table. */
export function summarizeVariants(variants: readonly Variant[], sweep: AblationSweep): VariantSummary[] {
  return variants.map((variant) => {
    const indices = sweep.runs.flatMap((run, i) => (run.variant === variant.name ? [i] : []));
    const results = indices.map((i) => sweep.results[i]);
    const done = results.filter((r) => r.history.status === 'completed' && r.history.final !== null);
    const counts = new Map<string, number>();
    for (const r of results)
      if (!done.includes(r)) counts.set(r.history.status, (counts.get(r.history.status) ?? 0) + 1);
    return {
      variant,
      runs: indices.map((i) => sweep.runs[i]),
      results,
      completed: done.length,
      validation: spread(done.map((r) => r.history.final!.validationAccuracy)),
      test: spread(done.map((r) => r.history.final!.testAccuracy)),
      incomplete: [...counts].map(([status, n]) => `${n} ${status}`).join(', '),
    };
  });
}

/**
 * Each run of the given variants for a chart, named `<variant>` (one seed) or `<variant>, seed <n>`, grouped by
 * variant: `compareFigure` gives a variant one colour and one legend entry, and each seed a line style.
 */
export function variantRuns(summaries: readonly VariantSummary[]): NamedRun[] {
  return summaries.flatMap((s) =>
    s.results.map((r, i) => ({
      name: s.runs.length > 1 ? `${s.variant.name}, seed ${s.runs[i].seed}` : s.variant.name,
      history: r.history,
      group: s.variant.name,
      member: `seed ${s.runs[i].seed}`,
    })),
  );
}

/**
 * How likely two groups of n1 and n2 runs fall entirely apart (every value of one above every value of the other) when
 * nothing tells them apart: 2 / C(n1 + n2, n1).
 */
export function separationChance(n1: number, n2: number): number {
  if (!Number.isInteger(n1) || !Number.isInteger(n2) || n1 < 1 || n2 < 1)
    throw new RangeError(`separationChance: group sizes must be whole numbers >= 1, got ${n1} and ${n2}`);
  let orderings = 1;
  for (let k = 1; k <= n1; k++) orderings = (orderings * (n2 + k)) / k;
  return Math.min(1, 2 / orderings);
}

/**
 * The rule's threshold: ranges that do not overlap count as a real difference when chance alone does that at most 1
 * time in 10.
 */
export const SEPARATION_CHANCE_LIMIT = 0.1;

/**
 * A variant against the baseline: the difference of their mean validation accuracies and whether it exceeds the spread.
 */
export interface Comparison {
  variant: string;
  /** Mean minus the baseline's mean (fractions), null without completed runs. */
  difference: number | null;
  /** True when the ranges (min-max) of the two groups do not overlap. */
  apart: boolean | null;
  /** `separationChance` of the two group sizes. */
  chance: number | null;
  /** The rule's reading, in words. */
  verdict: string;
}

/**
 * Each variant against the baseline on one accuracy (validation by default). The rule: a
 * difference exceeds the seed-to-seed spread when the two groups' ranges do not overlap and
 * chance alone would do that at most 1 time in 10 (`SEPARATION_CHANCE_LIMIT`); with three seeds
 * on each side it does that 1 time in 10, with one run against three 1 time in 2.
 */
export function compareWithBaseline(
  summaries: readonly VariantSummary[],
  baseline: string,
  accuracy: 'validation' | 'test' = 'validation',
): Comparison[] {
  const base = summaries.find((s) => s.variant.name === baseline);
  if (base === undefined)
    throw new Error(
      `compareWithBaseline: no variant named "${baseline}" (variants: ${summaries.map((s) => s.variant.name).join(', ')})`,
    );
  const b = base[accuracy];
  return summaries.map((s) => {
    const v = s[accuracy];
    if (s === base)
      return { variant: s.variant.name, difference: 0, apart: null, chance: null, verdict: 'the baseline' };
    if (v === null || b === null)
      return {
        variant: s.variant.name,
        difference: null,
        apart: null,
        chance: null,
        verdict: `no completed run${s.incomplete ? ` (${s.incomplete})` : ''}`,
      };
    const apart = v.max < b.min || b.max < v.min;
    const chance = separationChance(v.count, b.count);
    const enough = chance <= SEPARATION_CHANCE_LIMIT;
    const away = b.sd > 0 ? `, ${(Math.abs(v.mean - b.mean) / b.sd).toFixed(1)} baseline sd away` : '';
    const verdict = !apart ? 'within the spread' : enough ? 'beyond the spread' : `apart${away}; too few runs to tell`;
    return { variant: s.variant.name, difference: v.mean - b.mean, apart, chance, verdict };
  });
}

/** The comparisons in words: which differences exceed the spread, which do not, which variants have no result. */
export function conclusions(comparisons: readonly Comparison[]): string {
  const others = comparisons.filter((c) => c.verdict !== 'the baseline');
  // A row without result keeps what became of its runs: "no ReLU (3 diverged)".
  const named = (c: Comparison) =>
    c.difference === null
      ? `${c.variant}${c.verdict.replace(/^no completed run/, '')}`
      : `${c.variant} (${points(c.difference)})`;
  const groups: [string, Comparison[]][] = [
    ['beyond the spread', others.filter((c) => c.verdict === 'beyond the spread')],
    ['within the spread', others.filter((c) => c.verdict === 'within the spread')],
    ['apart, but too few runs to tell', others.filter((c) => c.apart === true && c.verdict !== 'beyond the spread')],
    ['no completed run', others.filter((c) => c.difference === null)],
  ];
  return groups
    .filter(([, list]) => list.length > 0)
    .map(([label, list]) => `${label}: ${list.map(named).join(', ')}`)
    .join('\n');
}

/** A chance as "1 in N". */
export function formatChance(chance: number): string {
  return `1 in ${Math.round(1 / chance)}`;
}

/** Accuracy of `params` on a data set, in chunks, releasing every tensor. */
export function datasetAccuracy(params: Params, activation: Activation, set: DataSet, chunk = 5000): number {
  if (set.count === 0) throw new RangeError('datasetAccuracy: the data set is empty');
  return setAccuracy(set, (input) => forward(input, params, null, activation), chunk);
}

/**
 * Hidden units that no image of the set switches on: their ReLU input `x W1 + b1` is <= 0 for
 * every image, so they output 0 and pass no gradient. Null for a network without a hidden layer.
 */
export function deadUnits(params: Params, set: DataSet, chunk = 5000): { dead: number; units: number } | null {
  if (params.weights2 === null) return null;
  const units = params.weights1.shape[1] as number;
  const highest = new Float32Array(units).fill(Number.NEGATIVE_INFINITY);
  forEachChunk(
    set,
    (input) => {
      const max = tf.max(dense(input, params.weights1, params.biases1), 0).dataSync();
      for (let u = 0; u < units; u++) highest[u] = Math.max(highest[u], max[u]);
    },
    chunk,
  );
  return { dead: highest.filter((value) => !(value > 0)).length, units };
}

/** What a run's saved weights show. */
export interface RunCheck {
  /** Accuracy of the evaluated parameters (the moving averages when the run used them). */
  trainAccuracy: number;
  validationAccuracy: number;
  /** Validation accuracy of the live parameters, when the run has moving averages as well. */
  liveValidationAccuracy: number | null;
  /**
   * Hidden units of the evaluated parameters never active on the validation images; null without a ReLU hidden layer.
   */
  dead: { dead: number; units: number } | null;
}

/** Checks a run's network: training and validation accuracy, live parameters, dead units. */
export function checkModel(model: RunModel, data: MnistData): RunCheck {
  const { activation } = model.config;
  return {
    trainAccuracy: datasetAccuracy(model.evaluated, activation, data.train),
    validationAccuracy: datasetAccuracy(model.evaluated, activation, data.validation),
    liveValidationAccuracy: model.averaged === null ? null : datasetAccuracy(model.params, activation, data.validation),
    dead: activation === 'relu' ? deadUnits(model.evaluated, data.validation) : null,
  };
}

/** `checkModel` of each completed run of the sweep (a run shared by two rows is checked once), by run folder. */
export async function checkRuns(
  sweep: AblationSweep,
  data: MnistData,
  log: (line: string) => void = () => undefined,
): Promise<Map<string, RunCheck>> {
  const checks = new Map<string, RunCheck>();
  for (const result of sweep.results) {
    if (result.run === null || result.history.status !== 'completed' || checks.has(result.run.dir)) continue;
    const model = await loadRunModel(result.run);
    try {
      checks.set(result.run.dir, checkModel(model, data));
    } finally {
      model.dispose();
    }
    log(`checked ${result.run.name}`);
  }
  return checks;
}

/** The checks of a variant's runs, in seed order (runs without a check are left out). */
export function variantChecks(
  summary: VariantSummary,
  checks: ReadonlyMap<string, RunCheck>,
): { seed: number; check: RunCheck }[] {
  return summary.results.flatMap((r, i) => {
    const check = r.run === null ? undefined : checks.get(r.run.dir);
    return check === undefined ? [] : [{ seed: summary.runs[i].seed, check }];
  });
}

// ---------------------------------------------------------------------------------------------
// Tables for the notebook (plain text, aligned columns)

const pct = (fraction: number) => (fraction * 100).toFixed(2);
const points = (fraction: number) => `${fraction >= 0 ? '+' : '−'}${Math.abs(fraction * 100).toFixed(2)}`;
const meanOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * Mean, standard deviation and range of each variant's final accuracy, its difference to the baseline and the rule's
 * verdict.
 */
export function summaryTable(
  summaries: readonly VariantSummary[],
  comparisons: readonly Comparison[],
  accuracy: 'validation' | 'test' = 'validation',
): string {
  const rows = summaries.map((s) => {
    const a = s[accuracy];
    const c = comparisons.find((x) => x.variant === s.variant.name);
    if (c === undefined) throw new Error(`summaryTable: no comparison for variant "${s.variant.name}"`);
    return [
      s.variant.name,
      s.runs.map((r) => r.seed).join(' '),
      String(s.completed),
      a === null ? '—' : pct(a.mean),
      a === null ? '—' : pct(a.sd),
      a === null ? '—' : `${pct(a.min)}–${pct(a.max)}`,
      c.difference === null ? '—' : c.verdict === 'the baseline' ? '0' : points(c.difference),
      c.verdict,
    ];
  });
  return textTable(
    ['variant', 'seeds', 'n', `${accuracy} mean (%)`, 'sd', 'min–max', 'vs baseline (points)', 'rule'],
    rows,
  );
}

/** The mean gap between training and validation accuracy of a variant's runs (fractions), null without checked runs. */
export function fitGap(summary: VariantSummary, checks: ReadonlyMap<string, RunCheck>): number | null {
  const c = variantChecks(summary, checks).map((x) => x.check);
  return c.length === 0 ? null : meanOf(c.map((x) => x.trainAccuracy - x.validationAccuracy));
}

/**
 * A y range in percent that shows the end of the variants' validation curves: `margin` points around their final
 * values.
 */
export function closeUpRange(summaries: readonly VariantSummary[], margin = 0.5): [number, number] {
  const finals = summaries.flatMap((s) =>
    s.validation === null ? [] : [s.validation.min * 100, s.validation.max * 100],
  );
  if (finals.length === 0) return [0, 100];
  return [
    Math.max(0, Math.floor((Math.min(...finals) - margin) * 10) / 10),
    Math.min(100, Math.ceil((Math.max(...finals) + margin) * 10) / 10),
  ];
}

/** Training accuracy next to validation accuracy (both from the saved weights), mean over each variant's runs. */
export function fitTable(summaries: readonly VariantSummary[], checks: ReadonlyMap<string, RunCheck>): string {
  const rows = summaries.flatMap((s) => {
    const c = variantChecks(s, checks).map((x) => x.check);
    if (c.length === 0) return [];
    const train = meanOf(c.map((x) => x.trainAccuracy));
    const validation = meanOf(c.map((x) => x.validationAccuracy));
    return [[s.variant.name, String(c.length), pct(train), pct(validation), points(train - validation)]];
  });
  return textTable(['variant', 'n', 'training (%)', 'validation (%)', 'training − validation (points)'], rows);
}

/**
 * Validation accuracy of the moving averages and of the live parameters of the same runs, mean over each variant's
 * runs.
 */
export function averageTable(summaries: readonly VariantSummary[], checks: ReadonlyMap<string, RunCheck>): string {
  const rows = summaries.flatMap((s) => {
    const c = variantChecks(s, checks)
      .map((x) => x.check)
      .filter((x) => x.liveValidationAccuracy !== null);
    if (c.length === 0) return [];
    const averaged = c.map((x) => x.validationAccuracy);
    const gains = c.map((x) => x.validationAccuracy - x.liveValidationAccuracy!);
    return [
      [
        s.variant.name,
        String(c.length),
        pct(meanOf(averaged)),
        pct(meanOf(c.map((x) => x.liveValidationAccuracy!))),
        points(meanOf(gains)),
        gains.map(points).join(' '),
      ],
    ];
  });
  return textTable(
    ['variant', 'n', 'moving averages (%)', 'live parameters (%)', 'gain (points)', 'gain per run'],
    rows,
  );
}

/** Dead hidden units of every ReLU run, by variant and seed. */
export function deadUnitTable(summaries: readonly VariantSummary[], checks: ReadonlyMap<string, RunCheck>): string {
  const rows = summaries.flatMap((s) =>
    variantChecks(s, checks).flatMap(({ seed, check }) =>
      check.dead === null
        ? []
        : [
            [
              s.variant.name,
              String(seed),
              `${check.dead.dead} of ${check.dead.units}`,
              pct(check.dead.dead / check.dead.units),
            ],
          ],
    ),
  );
  return textTable(['variant', 'seed', 'dead hidden units', 'share (%)'], rows);
}
