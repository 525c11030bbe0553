/**
 * The public API: the three entry points of package.json's `exports` map and the names each
 * one exports. A change to these lists is a change to the package's surface: make it here on
 * purpose, with a doc comment at the new name's definition.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { packageRoot } from '../src/util/package-root';

const ROOT = packageRoot();
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

interface Entry {
  /** The subpath in package.json's `exports`. */
  subpath: string;
  /** Its source file. */
  source: string;
  /** Its built file and declarations. */
  js: string;
  dts: string;
  /** Names that exist at run time (functions, classes, constants). */
  values: string[];
  /** Names that are types only (interfaces, type aliases). */
  types: string[];
}

const ENTRIES: Entry[] = [
  {
    subpath: '.',
    source: 'src/index.ts',
    js: './dist/index.js',
    dts: './dist/index.d.ts',
    values: [
      'BatchSampler',
      'ConfigError',
      'DEFAULT_CONFIG',
      'DivergenceError',
      'Trainer',
      'confusionMatrix',
      'createParams',
      'defaultRunsDir',
      'describeBackend',
      'disposeParams',
      'expandGrid',
      'labelCounts',
      'loadCheckpoint',
      'loadMnist',
      'loadRun',
      'loadRunModel',
      'makeConfig',
      'matrixAccuracy',
      'mostConfidentMistakes',
      'paramList',
      'perClassAccuracy',
      'pickImages',
      'predict',
      'predictedClasses',
      'preprocessDigitImage',
      'quantizationAccuracy',
      'quantizeModel',
      'runSweep',
      'saveCheckpoint',
      'saveRun',
      'setupBackend',
      'summarizeSweep',
      'summaryMarkdown',
      'toOneHot',
      'train',
      'trainOrLoad',
    ],
    types: [
      'Activation',
      'DataSet',
      'History',
      'MnistData',
      'Params',
      'Progress',
      'RunModel',
      'SavedRun',
      'SweepResult',
      'SweepRun',
      'TrainOrLoadResult',
      'TrainerState',
      'TrainingConfig',
    ],
  },
  {
    subpath: './charts',
    source: 'src/charts/index.ts',
    js: './dist/charts/index.js',
    dts: './dist/charts/index.d.ts',
    values: [
      'REPORTED_ACCURACY',
      'accuracyFigure',
      'compareFigure',
      'confusionFigure',
      'digitsFigure',
      'exportFigure',
      'exportRunCharts',
      'gradientFigure',
      'learningRateFigure',
      'lossFigure',
      'perClassAccuracyFigure',
      'preprocessingFigure',
      'probabilitiesFigure',
    ],
    types: ['Figure'],
  },
  {
    subpath: './notebook',
    source: 'src/notebook/index.ts',
    js: './dist/notebook/index.js',
    dts: './dist/notebook/index.d.ts',
    values: [
      'ablationRuns',
      'asciiDigit',
      'averageTable',
      'checkRuns',
      'closeUpRange',
      'compareWithBaseline',
      'compareWithPackage',
      'conclusions',
      'deadUnitTable',
      'describeSweepTime',
      'digitsPng',
      'displayPath',
      'drawDigit',
      'drawDigitHtml',
      'evalEveryFor',
      'fitGap',
      'fitTable',
      'formatChance',
      'formatDuration',
      'l2Path',
      'l2Term',
      'liveSweep',
      'liveTraining',
      'loadTutorialModel',
      'lossCrossover',
      'notebookSteps',
      'pairEvaluations',
      'runAblation',
      'runInNotebook',
      'separationChance',
      'showFigure',
      'showPredictionFigure',
      'showPng',
      'summarizePairs',
      'summarizeVariants',
      'summaryTable',
      'sweepTime',
      'textTable',
      'tutorialConfig',
      'variantRuns',
    ],
    types: ['Variant'],
  },
];

/** Public names without a doc comment at their definition: none; a new one fails the test. */
const AWAITING_DOC: Record<string, string[]> = { '.': [], './charts': [], './notebook': [] };

const specifier = (subpath: string) => (subpath === '.' ? PACKAGE.name : `${PACKAGE.name}/${subpath.slice(2)}`);
const sorted = (names: Iterable<string>) => [...names].sort();

/** Every name an entry's source exports, values and types, with the symbol it stands for. */
function declaredExports(): Map<string, { checker: ts.TypeChecker; symbols: ts.Symbol[] }> {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  assert.ok(config, 'tsconfig.json could not be read');
  const program = ts.createProgram(
    ENTRIES.map((entry) => join(ROOT, entry.source)),
    { ...config.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const result = new Map<string, { checker: ts.TypeChecker; symbols: ts.Symbol[] }>();
  for (const entry of ENTRIES) {
    const file = program.getSourceFile(join(ROOT, entry.source));
    assert.ok(file, `${entry.source} is not in the program`);
    const module = checker.getSymbolAtLocation(file);
    assert.ok(module, `${entry.source} is not a module`);
    result.set(entry.subpath, { checker, symbols: checker.getExportsOfModule(module) });
  }
  return result;
}

describe('public API', () => {
  it("package.json's exports map names the three entry points and package.json, and each resolves to a built file", () => {
    assert.deepEqual(Object.keys(PACKAGE.exports), [...ENTRIES.map((entry) => entry.subpath), './package.json']);
    for (const entry of ENTRIES) {
      assert.deepEqual(
        PACKAGE.exports[entry.subpath],
        { types: entry.dts, default: entry.js },
        `exports["${entry.subpath}"]`,
      );
      // Resolved through the exports map, as a user's require would (the package refers to itself by name).
      assert.equal(
        require.resolve(specifier(entry.subpath)),
        join(ROOT, entry.js),
        `require.resolve('${specifier(entry.subpath)}')`,
      );
      assert.ok(existsSync(join(ROOT, entry.dts)), `${entry.dts} is missing (run npm run build)`);
    }
    assert.equal(require.resolve(`${PACKAGE.name}/package.json`), join(ROOT, 'package.json'));
    // Anything else is private: a deep import fails.
    assert.throws(() => require.resolve(`${PACKAGE.name}/dist/charts/export.js`), {
      code: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  for (const entry of ENTRIES) {
    it(`'${specifier(entry.subpath)}' exports exactly its run-time names`, () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const loaded = require(specifier(entry.subpath)) as Record<string, unknown>;
      assert.deepEqual(sorted(Object.keys(loaded)), sorted(entry.values));
      for (const name of entry.values) assert.notEqual(loaded[name], undefined, `${name} is undefined`);
    });
  }

  it('each entry exports exactly its listed names and types, each with a doc comment at its definition', () => {
    const declared = declaredExports();
    for (const entry of ENTRIES) {
      const { checker, symbols } = declared.get(entry.subpath)!;
      assert.deepEqual(
        sorted(symbols.map((s) => s.getName())),
        sorted([...entry.values, ...entry.types]),
        `names exported by ${entry.source}`,
      );
      const undocumented = symbols
        .filter((symbol) => {
          const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
          return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
        })
        .map((symbol) => symbol.getName());
      assert.deepEqual(
        sorted(undocumented),
        sorted(AWAITING_DOC[entry.subpath]),
        `${entry.source}: names without a doc comment at their definition`,
      );
    }
  });
});
