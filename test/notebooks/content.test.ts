/**
 * What can be checked in the committed notebooks without running them: each one ends with a
 * summary and exercises, no output holds a path of the machine it ran on, and the outputs come
 * from the tutorial's full 30,000-step runs (not from a short `MNIST_STEPS` test run).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { packageRoot } from '../../src/util/package-root';

const ROOT = packageRoot();
const NOTEBOOKS = join(ROOT, 'notebooks');
const FULL_STEPS = 30000;
/**
 * How the notebooks say how many steps their runs train: "training steps: N", "N training steps per run", "a run of N
 * steps on wasm".
 */
const STEP_COUNT =
  /\btraining steps: ([\d,]+)|\b([\d,]+) training steps\b|\b([\d,]+) steps on (?:wasm|cpu|tensorflow)\b/g;

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

const joined = (text: string | string[] | undefined) => (Array.isArray(text) ? text.join('') : (text ?? ''));

function cells(name: string): Cell[] {
  return (JSON.parse(readFileSync(join(NOTEBOOKS, name), 'utf8')) as { cells: Cell[] }).cells;
}

/** The text a reader sees in a notebook's outputs: streams, plain text, and HTML without its scripts and styles. */
export function visibleOutputText(notebookCells: Cell[]): string {
  const parts: string[] = [];
  for (const cell of notebookCells) {
    for (const output of cell.outputs ?? []) {
      if (output.output_type === 'stream') parts.push(joined(output.text));
      if (output.data === undefined) continue;
      parts.push(joined(output.data['text/plain']));
      const html = joined(output.data['text/html']);
      parts.push(html.replace(/<script\b[\s\S]*?<\/script>/gi, '').replace(/<style\b[\s\S]*?<\/style>/gi, ''));
      parts.push(joined(output.data['image/svg+xml']));
    }
  }
  return parts.join('\n');
}

/**
 * Absolute paths of a machine: under the usual top-level folders of Linux and macOS, a home
 * folder written as ~user, or a Windows drive.
 */
export const ABSOLUTE_PATH =
  /(?:^|[\s'"`(=:])(?:\/(?:home|root|tmp|work|usr|var|opt|mnt|srv|Users|private|Volumes)\/[^\s'"`)<]+|[A-Za-z]:\\[^\s'"`)<]+)/m;

const notebooks = readdirSync(NOTEBOOKS)
  .filter((name) => name.endsWith('.ipynb'))
  .sort();

describe('the absolute-path pattern', () => {
  test('finds machine paths and leaves relative paths, URLs and fractions alone', () => {
    for (const found of [
      'saved /work/main/runs/notebook-01',
      'dir: /home/ana/mnist',
      "'/tmp/x.png'",
      'at C:\\Users\\ana\\runs',
      'wrote (/Users/bo/runs/a)',
    ]) {
      assert.match(found, ABSOLUTE_PATH, found);
    }
    for (const fine of [
      'saved runs/notebook-01',
      'https://example.org/home/x',
      '784/500/10',
      'a/b',
      'see ../test/fixtures/digit-7.png',
    ]) {
      assert.doesNotMatch(fine, ABSOLUTE_PATH, fine);
    }
  });

  test('reads outputs but not the plotly.js inlined in them', () => {
    const html = '<div>chart</div><script>// see /usr/lib/x\n</script>';
    assert.doesNotMatch(
      visibleOutputText([
        { cell_type: 'code', source: '', outputs: [{ output_type: 'display_data', data: { 'text/html': html } }] },
      ]),
      ABSOLUTE_PATH,
    );
    assert.match(
      visibleOutputText([
        {
          cell_type: 'code',
          source: '',
          outputs: [{ output_type: 'stream', name: 'stdout', text: 'saved /work/x/runs/a\n' }],
        },
      ]),
      ABSOLUTE_PATH,
    );
  });
});

describe('committed notebooks', () => {
  test('there are four', () => assert.equal(notebooks.length, 4, notebooks.join(', ')));

  for (const name of notebooks) {
    describe(name, () => {
      const all = cells(name);
      const headings = all
        .filter((c) => c.cell_type === 'markdown')
        .flatMap((c) => joined(c.source).split('\n'))
        .filter((line) => /^#{1,3} /.test(line));

      test('ends with a summary and exercises', () => {
        const summary = headings.findIndex((h) => /^## Summary\b/.test(h));
        const exercises = headings.findIndex((h) => /^## Exercises\b/.test(h));
        assert.ok(summary >= 0, `${name}: no "## Summary" section (headings: ${headings.join(' | ')})`);
        assert.ok(exercises > summary, `${name}: no "## Exercises" section after the summary`);
        const exerciseCell = all.find((c) => c.cell_type === 'markdown' && /^## Exercises\b/m.test(joined(c.source)));
        const items = joined(exerciseCell?.source).match(/^\d+\. /gm) ?? [];
        assert.ok(
          items.length >= 2,
          `${name}: the exercises are a numbered list of at least two, found ${items.length}`,
        );
      });

      test('no two code cells in a row without a sentence between them', () => {
        const code = all.map((c) => c.cell_type === 'code');
        const pairs = code.flatMap((isCode, i) => (isCode && code[i + 1] === true ? [i + 1] : []));
        assert.deepEqual(
          pairs,
          [],
          `${name}: code cells ${pairs.map((i) => `${i}-${i + 1}`).join(', ')} follow each other`,
        );
      });

      test("its cells run in both kernels: imports name files, nothing of tslab's own", () => {
        const code = all.filter((c) => c.cell_type === 'code').map((c) => joined(c.source));
        // Deno resolves no directory imports ('../dist'); tslab's module works in tslab only.
        const directoryImports = code.flatMap((source) => source.match(/from '\.\.\/dist(\/\w+)?'/g) ?? []);
        assert.deepEqual(directoryImports, [], `${name}: write '../dist/index.js' (Deno needs the file)`);
        const tslabOnly = code.flatMap((source) => source.match(/from 'tslab'|\btslab\.\w+/g) ?? []);
        assert.deepEqual(tslabOnly, [], `${name}: use the package's showPng and showFigure, which find the kernel`);
      });

      test('has outputs, none with an absolute path of the machine', () => {
        const text = visibleOutputText(all);
        assert.ok(text.trim().length > 0, `${name} is committed without outputs`);
        const found = text.match(ABSOLUTE_PATH);
        assert.equal(found, null, `${name}: an output shows the absolute path ${found?.[0].trim()}`);
      });

      test('its outputs come from the full 30,000-step runs', () => {
        const text = visibleOutputText(all);
        const stepCounts = [...text.matchAll(STEP_COUNT)].map((m) => Number((m[1] ?? m[2] ?? m[3]).replace(/,/g, '')));
        assert.ok(stepCounts.length > 0, `${name}: no line in the outputs says how many steps its runs trained`);
        assert.deepEqual(
          [...new Set(stepCounts)],
          [FULL_STEPS],
          `${name}: outputs from runs of ${stepCounts.join(', ')} steps`,
        );
      });
    });
  }
});
