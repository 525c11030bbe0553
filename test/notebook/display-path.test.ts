import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { displayPath } from '../../src/notebook/display-path';

describe('displayPath', () => {
  const root = '/home/someone/mnist';

  test('is relative to the package root for paths under it', () => {
    assert.equal(displayPath(join(root, 'runs', 'notebook-02-charts'), {}, root), 'runs/notebook-02-charts');
    assert.equal(displayPath(root, {}, root), '.');
  });

  test('names MNIST_RUNS_DIR for paths under it, outside the package', () => {
    const env = { MNIST_RUNS_DIR: '/tmp/elsewhere/runs' };
    assert.equal(
      displayPath('/tmp/elsewhere/runs/notebook-02-charts', env, root),
      '$MNIST_RUNS_DIR/notebook-02-charts',
    );
    assert.equal(displayPath('/tmp/elsewhere/runs', env, root), '$MNIST_RUNS_DIR');
  });

  test('a runs folder inside the package is shown from the root', () => {
    assert.equal(
      displayPath(
        join(root, 'test-artifacts', 'runs', 'a'),
        { MNIST_RUNS_DIR: join(root, 'test-artifacts', 'runs') },
        root,
      ),
      'test-artifacts/runs/a',
    );
  });

  test('anything else shows its last name only, never an absolute path', () => {
    assert.equal(displayPath('/var/data/charts', {}, root), 'charts');
    assert.equal(
      displayPath('/home/someone/mnist-other/x', {}, root),
      'x',
      'a sibling with a common prefix is not inside',
    );
    assert.equal(displayPath('/tmp/elsewhere/runs-2/x', { MNIST_RUNS_DIR: '/tmp/elsewhere/runs' }, root), 'x');
  });
});
