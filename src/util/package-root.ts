/** The package's root folder, found from wherever this module was compiled to. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The package root: the nearest folder above this file that holds package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(__dirname, '..', '..');
    dir = parent;
  }
}
