/**
 * The layer rules of .dependency-cruiser.cjs hold for src/, and the check is real: a planted
 * cycle (core -> train -> core) fails it, naming both the cycle and the layer broken.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/util/package-root';

const ROOT = packageRoot();
const depcruise = (cwd: string) =>
  spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'),
      'src',
      '--config',
      join(ROOT, '.dependency-cruiser.cjs'),
    ],
    {
      cwd,
      encoding: 'utf8',
    },
  );

describe('layers', () => {
  it('src/ has no import cycle and no import from a higher layer', () => {
    const result = depcruise(ROOT);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /no dependency violations found/);
  });

  it('a planted cycle fails the check, with the cycle and the broken layer named', () => {
    const result = depcruise(join(ROOT, 'test', 'fixtures', 'planted-cycle'));
    assert.notEqual(result.status, 0, result.stdout);
    assert.match(
      result.stdout,
      /error no-circular: src\/core\/model\.ts →\s+src\/train\/trainer\.ts →\s+src\/core\/model\.ts/,
    );
    assert.match(result.stdout, /error layer-core: src\/core\/model\.ts → src\/train\/trainer\.ts/);
  });
});
