/**
 * Writing output files safely: every file is written under a temporary name and renamed into
 * place, so a crash or an interrupt never leaves a half-written file under the real name.
 */
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from './text';

/** An output file or folder could not be written. Names the path and the reason. */
export class OutputError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'OutputError';
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; choose a folder you can write to';
    case 'ENOENT':
      return 'the folder does not exist';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return errorMessage(error);
  }
}

/**
 * Makes sure `dir` is a folder this process can write to. With `create`, missing folders are
 * made (like `mkdir -p`); without it, a missing folder is an error.
 */
export async function ensureWritableDir(dir: string, create = true): Promise<void> {
  try {
    if (create) await mkdir(dir, { recursive: true });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new OutputError(dir, 'is a file, not a folder');
    await access(dir, constants.W_OK);
  } catch (error) {
    if (error instanceof OutputError) throw error;
    throw new OutputError(dir, `cannot write output here: ${reason(error)}`);
  }
}

/** Whether process `pid` runs (on this machine). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const TEMPORARY = /\.(\d+)-[0-9a-f]+\.tmp$/;

/**
 * Removes the temporary files that writers killed half way through a write left in `dir`
 * (`writeFileAtomic` names them after their process); those of live processes stay.
 */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = TEMPORARY.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) await rm(join(dir, name), { force: true });
  }
}

/** Writes `data` to `path` atomically: a temporary file in the same folder, then a rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { flush: true });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new OutputError(path, `cannot be written: ${reason(error)}`);
  }
}
