/**
 * Paths as notebooks print them: relative to the package root (`runs/notebook-02-charts`), so
 * that no output names a folder of the machine it ran on.
 */
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { packageRoot } from '../util/package-root';

/** `inner` relative to `outer`, or null when it is not inside it. */
function inside(outer: string, inner: string): string | null {
  const rel = relative(outer, inner);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return null;
  return rel;
}

/**
 * `path` for printing: relative to the package root when it is under it; under the folder
 * `MNIST_RUNS_DIR` names, as `$MNIST_RUNS_DIR/...`; anywhere else, its last name only.
 */
export function displayPath(path: string, env: NodeJS.ProcessEnv = process.env, root: string = packageRoot()): string {
  const absolute = resolve(path);
  const fromRoot = inside(resolve(root), absolute);
  if (fromRoot !== null) return fromRoot.split(sep).join('/');
  const runsDir = env.MNIST_RUNS_DIR?.trim();
  if (runsDir) {
    const fromRuns = inside(resolve(runsDir), absolute);
    if (fromRuns !== null)
      return fromRuns === '.' ? '$MNIST_RUNS_DIR' : `$MNIST_RUNS_DIR/${fromRuns.split(sep).join('/')}`;
  }
  return basename(absolute);
}
