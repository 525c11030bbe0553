/**
 * Concurrent writers of one runs folder (threads, processes, kernels): each builds its run in a private workspace
 * `runsDir/.writing-<random>/` and publishes it under its name by an atomic rename, so that a reader sees the old run,
 * the new one or (for an instant) none, never a mix. `partial.json` says whose a workspace is; one whose writer is gone
 * (a killed process, a restarted kernel) is adopted by the next writer of the same run, again by a rename, so that only
 * one writer ever gets it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureWritableDir, processAlive, writeFileAtomic } from '../util/io';
import { readMeta, readRunMeta, RUN_FILE, RunError, type RunMeta } from './run-format';

/** Files a run folder may hold; a folder with anything else is not replaced by a run. */
const RUN_FOLDER_FILES =
  /^(run\.json|history\.json|metrics\.csv|weights\.json|weights\.bin|checkpoint\.ckpt|partial\.json|.*\.tmp)$/;
const WORKSPACE_PREFIX = '.writing-';
const REPLACED_PREFIX = '.replaced-';
/** In a workspace: who writes it, for which run. */
const PARTIAL_FILE = 'partial.json';
/** A workspace whose owner has not touched it for this long is abandoned, even if its process id is in use. */
const ABANDONED_AFTER_MS = 10 * 60 * 1000;
const HEARTBEAT_MS = 30 * 1000;
/** Renames tried before a name taken again and again by other writers is given up for `<name>-2`. */
const PUBLISH_ATTEMPTS = 5;

interface PartialInfo {
  key: string;
  name: string;
  pid: number;
  host: string;
  /** Given up by its writer: free to adopt at once. */
  released?: boolean;
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;
/** A fresh hidden name in `runsDir`. */
const hiddenName = (runsDir: string, prefix: string) => join(runsDir, `${prefix}${randomBytes(6).toString('hex')}`);

/** Whether the writer of a workspace is gone: it gave it up, stopped touching it, or its process ended. */
function abandoned(info: PartialInfo, touchedMs: number): boolean {
  return (
    info.released === true ||
    Date.now() - touchedMs > ABANDONED_AFTER_MS ||
    (info.host === hostname() && !processAlive(info.pid))
  );
}

/**
 * What publishing `mine` does with the run `there` under its name: use theirs (the same run, completed by another
 * writer: they are equal), replace it (an older run, ours to replace), or keep both (a run written meanwhile by
 * another writer, or a folder with other files).
 */
function onTakenName(there: Occupant, mine: RunMeta, since: number): 'use theirs' | 'replace' | 'keep both' {
  const concurrent = there.meta !== null && Date.parse(there.meta.date) >= since;
  if (there.meta?.key === mine.key && there.meta.status === 'completed' && (concurrent || mine.status !== 'completed'))
    return 'use theirs';
  return concurrent || !there.onlyRunFiles ? 'keep both' : 'replace';
}

/** The run in a folder (null without one), and whether the folder holds only a run's files. */
interface Occupant {
  meta: RunMeta | null;
  onlyRunFiles: boolean;
}

async function occupant(dir: string): Promise<Occupant | null> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
  return { meta: await readRunMeta(dir), onlyRunFiles: files.every((f) => RUN_FOLDER_FILES.test(f)) };
}

/** A private folder where one writer builds a run (its checkpoints, then its files) before publishing it. */
export class Workspace {
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    readonly dir: string,
    readonly runsDir: string,
    readonly key: string,
    readonly name: string,
  ) {}

  private static async own(dir: string, runsDir: string, key: string, name: string): Promise<Workspace> {
    const workspace = new Workspace(dir, runsDir, key, name);
    await workspace.writeInfo(false);
    // Refreshes partial.json's time, so that a live writer's workspace is never taken for abandoned.
    workspace.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(join(dir, PARTIAL_FILE), now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    workspace.heartbeat.unref();
    return workspace;
  }

  /** A new, empty workspace. */
  static async create(runsDir: string, key: string, name: string): Promise<Workspace> {
    await ensureWritableDir(runsDir);
    return Workspace.own(await mkdtemp(join(runsDir, WORKSPACE_PREFIX)), runsDir, key, name);
  }

  /** Adopts an abandoned workspace of run `key`, if there is one: its writer is gone. */
  static async adopt(runsDir: string, key: string, name: string): Promise<Workspace | null> {
    const entries = await readdir(runsDir).catch(() => [] as string[]);
    for (const entry of entries.filter((e) => e.startsWith(WORKSPACE_PREFIX))) {
      const dir = join(runsDir, entry);
      const partial = join(dir, PARTIAL_FILE);
      let info: PartialInfo;
      let touched: number;
      try {
        info = JSON.parse(await readFile(partial, 'utf8')) as PartialInfo;
        touched = (await stat(partial)).mtimeMs;
      } catch {
        continue;
      }
      if (info.key !== key || !abandoned(info, touched)) continue;
      // The rename is the claim: of two writers adopting the same workspace, one gets it.
      const claimed = hiddenName(runsDir, WORKSPACE_PREFIX);
      if (
        await rename(dir, claimed).then(
          () => true,
          () => false,
        )
      )
        return Workspace.own(claimed, runsDir, key, name);
    }
    return null;
  }

  /**
   * Publishes the workspace (which holds a written run) as `runsDir/<name>/` and returns the folder published, the
   * workspace gone. An older run of that name is replaced. A run of that name published while this one was written
   * (after `since`) is a concurrent writer's: of the same configuration and completed, it is kept and its folder
   * returned instead (they are the same run); of another, this one is published as `<name>-2` (or -3, ...).
   */
  async publish(since: number, log: (line: string) => void = () => undefined): Promise<string> {
    this.stopHeartbeat();
    const mine = await readMeta(this.dir);
    const dest = join(this.runsDir, this.name);
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
      const there = await occupant(dest);
      const verdict = there === null ? 'take' : onTakenName(there, mine, since);
      if (verdict === 'use theirs') {
        log(`run ${this.name} was completed by another writer meanwhile; using it`);
        await this.discard();
        return dest;
      }
      if (verdict === 'keep both') break;
      if (await this.moveTo(dest, verdict === 'replace')) return this.published(dest);
    }
    return this.publishBeside(mine, log);
  }

  /** Publishes under the first free `<name>-N`: the name is another run's, written meanwhile or not ours to replace. */
  private async publishBeside(mine: RunMeta, log: (line: string) => void): Promise<string> {
    for (let n = 2; ; n++) {
      const other = `${this.name}-${n}`;
      const dest = join(this.runsDir, other);
      if (existsSync(dest)) continue;
      await writeFileAtomic(join(this.dir, RUN_FILE), `${JSON.stringify({ ...mine, name: other }, null, 1)}\n`);
      if (await this.moveTo(dest, false)) {
        log(`run ${this.name}: that name holds another run written meanwhile (or other files); saved as ${other}`);
        return this.published(dest);
      }
    }
  }

  /**
   * Renames the workspace to `dest`, first moving the folder there aside when `replacing` (and removing it after);
   * false when `dest` was taken meanwhile.
   */
  private async moveTo(dest: string, replacing: boolean): Promise<boolean> {
    const trash = hiddenName(this.runsDir, REPLACED_PREFIX);
    if (
      replacing &&
      !(await rename(dest, trash).then(
        () => true,
        () => false,
      ))
    )
      return false;
    try {
      await rename(this.dir, dest);
      return true;
    } catch (error) {
      if (['ENOTEMPTY', 'EEXIST'].includes(errorCode(error) ?? '')) return false;
      throw new RunError(dest, `cannot publish the run (${(error as Error).message})`);
    } finally {
      if (replacing) await rm(trash, { recursive: true, force: true });
    }
  }

  private async published(dir: string): Promise<string> {
    await rm(join(dir, PARTIAL_FILE), { force: true });
    return dir;
  }

  private async writeInfo(released: boolean): Promise<void> {
    const info: PartialInfo = { key: this.key, name: this.name, pid: process.pid, host: hostname(), released };
    await writeFileAtomic(join(this.dir, PARTIAL_FILE), `${JSON.stringify(info)}\n`);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Removes the workspace (after a publish there is nothing left to remove). */
  async discard(): Promise<void> {
    this.stopHeartbeat();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Leaves the workspace for the next writer of the run to adopt, in this process too (a save that failed). */
  async release(): Promise<void> {
    this.stopHeartbeat();
    await this.writeInfo(true).catch(() => undefined);
  }
}
